"""The Real-Debrid client against the standalone sandbox (`python -m debrid.sandbox`) over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from core.errors import ProviderErrorKind
from core.ports import RemoteStatus
from debrid.base import (
    AuthError,
    Blocked,
    DebridError,
    InvalidTorrent,
    LinkUnavailable,
    NotFound,
    ProtocolError,
    ProviderTimeout,
    QuotaExceeded,
    RateLimited,
    ServiceUnavailable,
    SlotsFull,
    Unsupported,
)
from debrid.cdn import HttpContentSource
from debrid.realdebrid import ERROR_CODES, RealDebrid
from tests.helpers import (
    expected_bytes,
    magnet,
    make_torrent,
    random_hash,
    standalone_sandbox,
    wait_until,
)

TOKEN = "client-test-token"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standalone_sandbox(
            tmp_path_factory.mktemp("rd-client"),
            "--token", TOKEN, "--download-seconds", "1") as origin:
        yield origin


@pytest.fixture
def admin(sandbox: str) -> Iterator[str]:
    url = f"{sandbox}/__admin"
    requests.post(f"{url}/reset", timeout=5).raise_for_status()
    yield url
    requests.delete(f"{url}/faults", timeout=5)


@pytest.fixture
def rd(sandbox: str, admin: str) -> RealDebrid:
    return RealDebrid(name="rd", api_key=TOKEN, base_url=f"{sandbox}/rest/1.0", timeout=5,
                      attempts=1)


def _fault(admin: str, **rule: object) -> None:
    requests.post(f"{admin}/faults", json=rule, timeout=5).raise_for_status()


def test_cached_magnet_lifecycle_and_links(rd: RealDebrid) -> None:
    info_hash = random_hash()
    torrent_id = rd.add_magnet(magnet(info_hash, "Client.Show.S01E01.1080p", 2_000_000))
    first = rd.get_torrent(torrent_id)
    assert first.status is RemoteStatus.WAITING_SELECTION
    assert first.hash == info_hash
    assert [f.path for f in first.files] == [
        "Client.Show.S01E01.1080p.mkv", "Sample/Client.Show.S01E01.1080p.sample.mkv",
        "Client.Show.S01E01.1080p.nfo"]
    assert first.files[0].size == 2_000_000
    assert not first.files[0].selected
    rd.select_files(torrent_id, ["1"])
    rd.select_files(torrent_id, ["1"])           # 202 the second time: still fine
    ready = rd.get_torrent(torrent_id)
    assert ready.status is RemoteStatus.READY
    assert ready.progress == 1.0
    assert ready.size == 2_000_000
    selected = [f for f in ready.files if f.selected]
    assert len(selected) == 1
    assert selected[0].link
    direct = rd.resolve_link(selected[0].link)
    assert direct.size == 2_000_000
    assert direct.filename == "Client.Show.S01E01.1080p.mkv"
    stream = HttpContentSource().open(direct.url, 1_000_000)
    data = b"".join(stream.chunks(1 << 16))
    stream.close()
    assert data == expected_bytes(info_hash, 1, 1_000_000, 1_000_000)
    assert [t.id for t in rd.list_torrents()] == [torrent_id]
    rd.delete_torrent(torrent_id)
    rd.delete_torrent(torrent_id)                # idempotent
    with pytest.raises(NotFound) as caught:
        rd.get_torrent(torrent_id)
    assert caught.value.native_code == 7
    assert caught.value.http_status == 404


def test_uncached_progress_rises_to_downloaded(rd: RealDebrid) -> None:
    torrent_id = rd.add_magnet(magnet(random_hash(), "Slow.Movie.2020 [uncached]", 1000))
    rd.select_files(torrent_id, ["1"])
    seen = []

    def done() -> bool:
        torrent = rd.get_torrent(torrent_id)
        seen.append((torrent.status, torrent.progress))
        return torrent.status is RemoteStatus.READY

    wait_until(done, timeout=10, interval=0.05)
    statuses = [s for s, _ in seen]
    assert RemoteStatus.DOWNLOADING in statuses
    progress = [p for _, p in seen]
    assert progress == sorted(progress)


def test_torrent_file_upload(rd: RealDebrid, tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Pack.S01", {"E01.mkv": 1000, "E02.mkv": 2000})
    torrent_id = rd.add_torrent_file(data)
    torrent = rd.get_torrent(torrent_id)
    assert torrent.hash == info_hash
    assert [(f.path, f.size) for f in torrent.files] == [("E01.mkv", 1000), ("E02.mkv", 2000)]
    with pytest.raises(InvalidTorrent) as caught:
        rd.add_torrent_file(b"not a torrent")
    assert caught.value.native_code == 30


def test_paged_listing_reads_every_page(rd: RealDebrid) -> None:
    ids = {rd.add_magnet(magnet(random_hash(), f"Page.{i}.mkv", 10)) for i in range(7)}
    assert {t.id for t in rd.list_torrents(page_size=3)} == ids


def test_account_and_active_count(rd: RealDebrid) -> None:
    account = rd.get_account()
    assert account.premium
    assert account.username
    active, limit = rd.active_count()
    assert active == 0
    assert limit > 0


def test_refusals_map_to_the_error_hierarchy(rd: RealDebrid, admin: str) -> None:
    with pytest.raises(Blocked) as blocked:
        rd.add_magnet(magnet(random_hash(), "Bad.Film [infringing]"))
    assert (blocked.value.http_status, blocked.value.native_code) == (451, 35)
    assert blocked.value.kind is ProviderErrorKind.BLOCKED
    with pytest.raises(InvalidTorrent):
        rd.add_magnet("magnet:?xt=urn:btih:nothex")
    with pytest.raises(Unsupported) as disabled:
        rd.http.request("GET", f"torrents/instantAvailability/{random_hash()}",
                        idempotent=True)
    assert disabled.value.native_code == 37
    wrong = RealDebrid(name="rd", api_key="wrong-token", base_url=rd.http.base_url, attempts=1)
    with pytest.raises(AuthError) as auth:
        wrong.get_account()
    assert (auth.value.http_status, auth.value.native_code) == (401, 8)


def test_slots_full_is_509_code_21(rd: RealDebrid, admin: str) -> None:
    requests.post(f"{admin}/config", json={"max_active": 1, "download_seconds": 30},
                  timeout=5).raise_for_status()
    first = rd.add_magnet(magnet(random_hash(), "One [uncached]", 100))
    rd.select_files(first, ["1"])
    with pytest.raises(SlotsFull) as caught:
        rd.add_magnet(magnet(random_hash(), "Two [uncached]", 100))
    assert (caught.value.http_status, caught.value.native_code) == (509, 21)
    assert caught.value.retryable
    requests.post(f"{admin}/config", json={"max_active": 0, "download_seconds": 1}, timeout=5)


def test_dead_torrent_link_is_hoster_unavailable(rd: RealDebrid, admin: str) -> None:
    torrent_id = rd.add_magnet(magnet(random_hash(), "Gone.Soon.mkv", 100))
    rd.select_files(torrent_id, ["1"])
    link = rd.get_torrent(torrent_id).files[0].link
    requests.post(f"{admin}/torrents/{torrent_id}", json={"dead": True}, timeout=5)
    assert rd.get_torrent(torrent_id).raw_status == "dead"
    with pytest.raises(LinkUnavailable) as caught:
        rd.resolve_link(link)
    assert caught.value.native_code == 19


@pytest.mark.parametrize(("code", "status", "expected"), [
    (34, 429, RateLimited), (21, 509, SlotsFull), (23, 503, QuotaExceeded),
    (36, 503, QuotaExceeded), (19, 503, LinkUnavailable), (24, 503, LinkUnavailable),
    (8, 401, AuthError), (14, 403, AuthError), (7, 404, NotFound), (35, 451, Blocked),
    (29, 400, InvalidTorrent), (25, 503, ServiceUnavailable), (-1, 500, ServiceUnavailable),
    (37, 403, Unsupported), (1, 400, ProtocolError),
])
def test_each_error_code_over_http(rd: RealDebrid, admin: str, code: int, status: int,
                                   expected: type[DebridError]) -> None:
    assert ERROR_CODES[code] is expected
    _fault(admin, route="^/rest/1.0/user$", kind="status", status=status, error_code=code,
           count=1)
    with pytest.raises(expected) as caught:
        rd.get_account()
    assert (caught.value.native_code, caught.value.http_status) == (code, status)
    assert caught.value.provider == "rd"


def test_html_5xx_and_malformed_bodies(rd: RealDebrid, admin: str) -> None:
    _fault(admin, route="^/rest/1.0/user$", kind="status", status=503, html=True, count=1)
    with pytest.raises(ServiceUnavailable):
        rd.get_account()
    _fault(admin, route="^/rest/1.0/user$", kind="malformed", count=1)
    with pytest.raises(ProtocolError):
        rd.get_account()


def test_transient_errors_are_retried_for_idempotent_calls(sandbox: str, admin: str) -> None:
    client = RealDebrid(name="rd", api_key=TOKEN, base_url=f"{sandbox}/rest/1.0", timeout=5,
                        attempts=3)
    _fault(admin, route="^/rest/1.0/user$", kind="status", status=503, html=True, count=2)
    assert client.get_account().premium          # third attempt succeeds


def test_an_add_is_not_resent_after_an_ambiguous_failure(sandbox: str, admin: str) -> None:
    """A 5xx or a timeout after sending may have taken effect: never blindly re-add."""
    client = RealDebrid(name="rd", api_key=TOKEN, base_url=f"{sandbox}/rest/1.0", timeout=0.5,
                        attempts=3)
    _fault(admin, route="addMagnet", kind="timeout", delay=1.5, count=1)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as caught:
        client.add_magnet(magnet(random_hash(), "Ambiguous.mkv", 10))
    assert caught.value.ambiguous
    assert time.monotonic() - started < 1.4
    time.sleep(1.3)        # the sandbox finishes the add after its delay: exactly one exists
    assert len(list(client.list_torrents())) == 1
    # a 429 refusal did not take effect, so the add is retried
    _fault(admin, route="addMagnet", kind="status", status=429, error_code=34, count=1)
    client.add_magnet(magnet(random_hash(), "Refused.Then.Ok.mkv", 10))
    assert len(list(client.list_torrents())) == 2
