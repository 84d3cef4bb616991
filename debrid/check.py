"""`python app.py check-provider NAME`: is the key good, what the account has, the limits in
use; with --add-test, a small public-domain magnet added and removed again."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from core.errors import ProviderError
from core.ports import Account, DebridProvider, RemoteStatus
from core.settings import ProviderSettings, Settings
from debrid.registry import build_provider, provider_type
from store.sqlite import open_store

# Big Buck Bunny (Creative Commons), the WebTorrent test torrent: small, always seeded.
TEST_MAGNET = ("magnet:?xt=urn:btih:dd8255ecdc7ca55fb0bbf81323d87062db1f6d1c"
               "&dn=Big+Buck+Bunny&tr=udp%3A%2F%2Fexplodie.org%3A6969")
TEST_WAIT_SECONDS = 20.0


def check_provider_command(settings: Settings, name: str, *, add_test: bool = False,
                           out: TextIO = sys.stdout,
                           sleep: Callable[[float], None] = time.sleep) -> int:
    """0 when the account answers with its key; 1 when the provider refuses or fails; 2
    when there is no such account."""
    account = next((p for p in settings.providers if p.name == name), None)
    if account is None:
        names = ", ".join(p.name for p in settings.providers)
        print(f"debridge: no provider named {name!r} (providers: {names})", file=sys.stderr)
        return 2
    kind = provider_type(account.type).kind
    if kind.sandbox and not account.base_url:
        print(f"debridge: provider {name!r} is a built-in sandbox that only runs inside the "
              "server; give it a base_url (python -m debrid.sandbox) to check it here",
              file=sys.stderr)
        return 2
    store = open_store(settings.data_dir)
    try:
        provider = build_provider(account, store)
        print(f"provider {name} ({kind.label}) at {account.base_url or kind.api_root}",
              file=out)
        try:
            found = provider.get_account()
        except ProviderError as exc:
            print(f"debridge: {kind.label} refused the check of {name!r}: {exc.message}",
                  file=sys.stderr)
            return 1
        print("  key: accepted", file=out)
        for line in _account_lines(found):
            print(f"  {line}", file=out)
        for line in _limit_lines(account, provider):
            print(f"  {line}", file=out)
        return _add_test(provider, out, sleep) if add_test else 0
    finally:
        store.close()


def _account_lines(account: Account) -> list[str]:
    lines = [f"account: {account.username or '(no name given)'}, "
             f"{'premium' if account.premium else 'NOT premium'}"
             + (f" until {account.expires_at}" if account.expires_at else "")]
    if account.traffic_left is not None:
        lines.append(f"traffic left: {account.traffic_left / 1e9:.1f} GB")
    if account.fair_use is not None:
        lines.append(f"fair use: {account.fair_use:.0%} used")
    if account.slots_max is not None:
        lines.append(f"active downloads: {account.slots_used or 0} of {account.slots_max}")
    lines.extend(account.notes)
    return lines


def _limit_lines(settings: ProviderSettings, provider: DebridProvider) -> list[str]:
    kind = provider_type(settings.type).kind
    caps = provider.capabilities
    used = settings.rate_limit_per_minute or kind.per_minute
    lines = [f"request limit: {used}/minute in use (published: {kind.per_minute}/minute"
             + (", set by rate_limit_per_minute" if settings.rate_limit_per_minute else "")
             + ")"]
    if kind.create_limit is not None or settings.create_limit:
        count = settings.create_limit or (kind.create_limit[0] if kind.create_limit else 0)
        window = settings.create_window_seconds or (kind.create_limit[1]
                                                     if kind.create_limit else 60.0)
        lines.append(f"add limit: {count} per {window:g} s")
    for budget in provider.budgets():
        lines.append(f"budget {budget.account}: {budget.tokens:g} of {budget.capacity:g} "
                     f"tokens, {budget.waiting_interactive + budget.waiting_background} "
                     f"waiting, {budget.recent_rate_limits} rate-limit answers in the last "
                     "hour" + (f", blocked for {budget.blocked_for:.0f} s"
                               if budget.blocked_for else ""))
    lines.append(f"can: cache check {caps.cache_check.value}"
                 f"{', add only if cached' if caps.add_only_if_cached else ''}, "
                 f"file selection {'yes' if caps.file_selection else 'no'}, "
                 f"slot count {'yes' if caps.active_slots else 'no'}, "
                 f"links {'resolved per file' if caps.link_step else 'direct'}"
                 + (f" (live {caps.link_lifetime_seconds / 3600:g} h)"
                    if caps.link_lifetime_seconds else ""))
    return lines


def _add_test(provider: DebridProvider, out: TextIO, sleep: Callable[[float], None]) -> int:
    print("  add test: adding Big Buck Bunny (public domain)...", file=out)
    try:
        torrent_id = provider.add_magnet(TEST_MAGNET)
    except ProviderError as exc:
        print(f"debridge: the test add was refused: {exc.message}", file=sys.stderr)
        return 1
    try:
        waited = 0.0
        remote = provider.get_torrent(torrent_id)
        while remote.status is RemoteStatus.METADATA and waited < TEST_WAIT_SECONDS:
            sleep(1.0)
            waited += 1.0
            remote = provider.get_torrent(torrent_id)
        print(f"  add test: accepted as {torrent_id}, status {remote.raw_status} "
              f"({remote.status.value}), {len(remote.files)} file(s)", file=out)
    except ProviderError as exc:
        print(f"debridge: reading the test torrent failed: {exc.message}", file=sys.stderr)
        return 1
    finally:
        try:
            provider.delete_torrent(torrent_id)
            print("  add test: removed again", file=out)
        except ProviderError as exc:
            print(f"debridge: removing the test torrent {torrent_id} failed: {exc.message}; "
                  "remove it on the provider's site", file=sys.stderr)
    return 0
