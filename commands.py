"""The small CLI commands (hash-password, reset-password, api-key, unban): no server runs."""

from __future__ import annotations

import getpass
import sys
import time
from collections.abc import Callable

from core.auth import hash_password
from core.settings import Settings
from store.sqlite import SqliteStore, open_store


def hash_password_command(password: str | None) -> int:
    if password is None:
        # no terminal (a script, a container): the password is the first line of stdin
        password = getpass.getpass("password: ") if sys.stdin.isatty() else \
            sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("debridge: the password is empty; give one (argument, prompt or stdin)",
              file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def reset_command(settings: Settings, key: str, what: str,
                   reset: Callable[[SqliteStore], str]) -> int:
    if settings[key]:
        print(f"{key} is set in the config file; change it there", file=sys.stderr)
        return 2
    store = open_store(settings.data_dir)
    try:
        print(f"{what}: {reset(store)}")
        print("the old one, and every session made before, stop working now", file=sys.stderr)
    finally:
        store.close()
    return 0


def unban_command(settings: Settings, address: str | None) -> int:
    store = open_store(settings.data_dir)
    try:
        bans = [b for b in store.bans(time.time()) if address is None or b[0] == address]
        lifted = store.lift_bans(address)
    finally:
        store.close()
    for ip, surface, until in bans:
        print(f"lifted the ban of {ip} from {surface} (it ran until "
              f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(until))})")
    if not bans:
        print(f"no ban of {address} was in force" if address else "no ban was in force")
    if lifted:
        print(f"forgot {lifted} failed-login record(s)")
    return 0
