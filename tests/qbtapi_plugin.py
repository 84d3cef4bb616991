"""pytest plugin for running qbittorrent-api's own test suite against Debridge.

Loaded into the *inner* pytest run (the suite from the qbittorrent-api sdist) with
`-p tests.qbtapi_plugin`; tests/test_qbittorrentapi_suite.py copies this file into the
extracted suite's `tests/` package, since that package (not Debridge's) is `tests` there.
It never imports anything from Debridge.

What it changes, and nothing more:

* Loopback only: host names other than `localhost` and addresses that are not loopback
  fail to resolve, so no test can reach the network (the suite fetches .torrent files from
  GitHub and uses made-up hosts such as `asdf`); such a test sees a connection error.
* The suite's torrents: `ORIG_TORRENT_URL` (added by the session fixture) and
  `TORRENT1_URL` / `TORRENT2_URL` (added by test_add_delete) are GitHub URLs, which Debridge
  does not fetch. Each becomes a magnet for the same infohash, name and size (`xl=`), read
  from the .torrent file the sdist ships in `tests/_resources`; `download_torrent_file`,
  which the add tests use to fetch those .torrent files, returns the shipped bytes instead.
  Torrents uploaded as files (`TORRENT1_FILE`, `root_folder.torrent`) are untouched.
* Exclusions: the node ids in $QBTAPI_DESELECT (a JSON list; an entry also covers its
  parametrizations `id[...]`) are deselected by exact id; `-k` would match substrings
  (`-k "not test_port"` also drops `test_port_from_host`).
* Patience: $QBTAPI_CHECK_TIME, when set, replaces the 10 s that the suite's `eventually()`
  keeps re-checking an assertion (it exists for qBittorrent's asynchronous engine; Debridge
  answers after applying a change, so a longer wait only slows down a genuine failure).
* Bookkeeping: each test gets a `nodeid` property in the junit XML, and the collected and
  deselected node ids are written to $QBTAPI_RECORD (JSON).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import torf

ALLOWED_NAMES = frozenset({"localhost"})
_real_getaddrinfo = socket.getaddrinfo
_deselected: list[str] = []


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _loopback_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    """socket.getaddrinfo restricted to loopback (host None = a local bind)."""
    if host is not None:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.lower() not in ALLOWED_NAMES and not _is_loopback(name):
            raise socket.gaierror(socket.EAI_NONAME,
                                  f"qbtapi_plugin: {name!r} refused, the suite may only "
                                  "reach loopback")
        infos = [info for info in _real_getaddrinfo(host, *args, **kwargs)
                 if _is_loopback(str(info[4][0]))]
        if not infos:
            raise socket.gaierror(socket.EAI_NONAME,
                                  f"qbtapi_plugin: {name!r} does not resolve to loopback")
        return infos
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_getaddrinfo      # before conftest.py contacts the server


def _magnet(torrent_file: Path, expected_hash: str) -> str:
    torrent = torf.Torrent.read(torrent_file)
    if str(torrent.infohash) != expected_hash:
        raise pytest.UsageError(f"{torrent_file.name}: infohash {torrent.infohash}, the "
                                f"suite expects {expected_hash}")
    return (f"magnet:?xt=urn:btih:{torrent.infohash}&dn={quote(str(torrent.name))}"
            f"&xl={torrent.size}")


def _redirect_torrents() -> None:
    conftest = sys.modules["tests.conftest"]
    resources = Path(conftest.RESOURCES_PATH)
    local: dict[str, bytes] = {}
    replaced: dict[str, str] = {}
    for prefix in ("ORIG_TORRENT", "TORRENT1", "TORRENT2"):
        url = getattr(conftest, f"{prefix}_URL")
        if url.startswith("magnet:"):
            continue                                    # already done (idempotent)
        path = resources / getattr(conftest, f"{prefix}_FILENAME")
        magnet = _magnet(path, getattr(conftest, f"{prefix}_HASH"))
        local[url] = local[magnet] = path.read_bytes()
        replaced[f"{prefix}_URL"] = magnet
    for name, value in replaced.items():
        setattr(conftest, name, value)
    module = sys.modules.get("tests.test_torrents")
    if module is None:
        return
    for name, value in replaced.items():
        if hasattr(module, name):
            setattr(module, name, value)

    def download_torrent_file(url: str, dest: str | None = None) -> bytes | str:
        """The suite's download helper, served from the shipped .torrent files."""
        if url not in local:
            raise Exception(f"Download failed: {url}")   # what the original raises
        if dest is None:
            return local[url]
        Path(dest).write_bytes(local[url])
        return dest

    module.download_torrent_file = download_torrent_file


def _excluded(nodeid: str, exclusions: list[str]) -> bool:
    return any(nodeid == e or nodeid.startswith(e + "[") for e in exclusions)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    exclusions = json.loads(os.environ.get("QBTAPI_DESELECT", "[]"))
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if _excluded(item.nodeid, exclusions) else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.extend(item.nodeid for item in items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """After every deselection: redirect the torrents, label and record the items."""
    for item in session.items:
        item.user_properties.append(("nodeid", item.nodeid))
    if "tests.conftest" in sys.modules:
        _redirect_torrents()
    check_time = os.environ.get("QBTAPI_CHECK_TIME")
    if check_time and "tests.utils" in sys.modules:
        sys.modules["tests.utils"].CHECK_TIME = float(check_time)
    record = os.environ.get("QBTAPI_RECORD")
    if record:
        Path(record).write_text(json.dumps({"selected": [i.nodeid for i in session.items],
                                            "deselected": _deselected}, indent=1))
