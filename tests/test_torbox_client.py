"""The TorBox client against the sandbox's TorBox dialect over HTTP (127.0.0.1, a free port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from core.errors import ProviderErrorKind
from core.ports import FailureCause, RemoteStatus
from debrid.base import (
    AuthError,
    DebridError,
    InvalidTorrent,
    LinkUnavailable,
    NotCached,
    NotFound,
    PremiumRequired,
    ProtocolError,
    QuotaExceeded,
    RateLimited,
    ServiceUnavailable,
    SlotsFull,
    Unsupported,
)
from debrid.cdn import HttpContentSource
from debrid.registry import provider_type
from debrid.sandbox import SandboxOptions, SandboxServer
from debrid.torbox import KIND, TorBox
from debrid.torbox_parse import ERROR_CODES
from store.sqlite import SqliteStore, open_store
from tests.helpers import expected_bytes, magnet, make_torrent, random_hash

TOKEN = "tb-client-token"
LINK1, LINK2 = "tb-link-key-1", "tb-link-key-2"
BASELINE: dict[str, Any] = {
    "download_seconds": 30.0, "queue_seconds": 1.0, "conversion_seconds": 0.0, "max_active": 0,
    "rate_limit_per_minute": 0, "create_limit": 0, "create_window_seconds": 3600.0,
    "exhausted_tokens": [], "tokens": [TOKEN, LINK1, LINK2],
}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxOptions(), dialect="torbox") as running:
        yield running


class Admin:
    def __init__(self, server: SandboxServer) -> None:
        self.url = f"{server.url}/__admin"

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, self.url + path, timeout=10, **kwargs)
        assert response.status_code < 400, response.text
        return response.json()

    def configure(self, **options: Any) -> None:
        self("POST", "/config", json=options)

    def fault(self, **rule: Any) -> None:
        self("POST", "/faults", json={"count": 1, **rule})

    def advance(self, seconds: float) -> None:
        self("POST", "/clock", json={"advance": seconds})

    def calls(self, path_end: str) -> list[dict[str, Any]]:
        return [r for r in self("GET", "/requests")["requests"] if r["path"].endswith(path_end)]


@pytest.fixture
def admin(server: SandboxServer) -> Iterator[Admin]:
    control = Admin(server)
    control("POST", "/reset")
    control.configure(**BASELINE)
    yield control
    control("DELETE", "/faults")


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return open_store(tmp_path)


def client(server: SandboxServer, **kwargs: Any) -> TorBox:
    options: dict[str, Any] = {"name": "tb", "api_key": TOKEN, "base_url": server.api_url,
                               "timeout": 5, "attempts": 1, **kwargs}
    return TorBox(**options)


@pytest.fixture
def tb(server: SandboxServer, admin: Admin) -> TorBox:
    return client(server)


def envelope(data: Any = None, *, error: str | None = None, detail: str = "",
             success: bool | None = True) -> dict[str, Any]:
    return {"success": success, "error": error, "detail": detail, "data": data}


def test_declaration() -> None:
    assert KIND.create_limit == (60, 3600.0)
    assert KIND.per_minute == 300
    assert KIND.allow_renew is False
    caps = KIND.capabilities
    assert (caps.cache_check.value, caps.add_only_if_cached, caps.file_selection,
            caps.link_step, caps.link_lifetime_seconds, caps.max_hashes_per_check) == \
        ("native", True, False, True, 3600, 100)
    assert provider_type("torbox").kind is KIND
    assert provider_type("sandbox-torbox").dialect == "torbox"


def test_cached_magnet_lifecycle_and_links(tb: TorBox, admin: Admin) -> None:
    info_hash = random_hash()
    torrent_id = tb.add_magnet(magnet(info_hash, "Client.Show.S01E01.1080p", 2_000_000))
    ready = tb.get_torrent(torrent_id)
    assert (ready.status, ready.raw_status, ready.progress) == (RemoteStatus.READY, "cached", 1.0)
    assert ready.hash == info_hash
    assert ready.name == "Client.Show.S01E01.1080p"
    # the root folder TorBox puts in front of every name is not part of the path
    assert [(f.id, f.path) for f in ready.files] == [
        ("0", "Client.Show.S01E01.1080p.mkv"),
        ("1", "Sample/Client.Show.S01E01.1080p.sample.mkv"),
        ("2", "Client.Show.S01E01.1080p.nfo")]
    assert all(f.selected for f in ready.files)
    assert ready.files[0].link == f"{torrent_id}/0"
    direct = tb.resolve_link(ready.files[0].link)
    assert direct.filename == "Client.Show.S01E01.1080p.mkv"
    assert direct.expires_at is not None
    stream = HttpContentSource().open(direct.url, 500_000)
    data = b"".join(stream.chunks(1 << 16))
    stream.close()
    assert data == expected_bytes(info_hash, 1, 500_000, 1_500_000)
    assert [t.id for t in tb.list_torrents()] == [torrent_id]
    tb.delete_torrent(torrent_id)
    tb.delete_torrent(torrent_id)                      # idempotent
    with pytest.raises(NotFound) as caught:
        tb.get_torrent(torrent_id)
    assert (caught.value.native_code, caught.value.http_status) == ("ITEM_NOT_FOUND", 404)
    # fresh state every time; the key travels in requestdl's query
    lists = admin.calls("/torrents/mylist")
    assert lists
    assert all("bypass_cache=true" in r["query"] for r in lists)
    assert f"token={TOKEN}" in admin.calls("/torrents/requestdl")[0]["query"]
    add = admin.calls("/torrents/createtorrent")
    assert len(add) == 1


def test_uncached_download_is_ready_only_once_present(tb: TorBox, admin: Admin) -> None:
    torrent_id = tb.add_magnet(magnet(random_hash(), "Slow.Movie.2020 [uncached]", 3000))
    assert tb.get_torrent(torrent_id).status is RemoteStatus.QUEUED
    admin.advance(11.5)
    downloading = tb.get_torrent(torrent_id)
    assert downloading.status is RemoteStatus.DOWNLOADING
    assert 0 < downloading.progress < 1
    assert downloading.seeders
    assert downloading.speed
    admin.advance(20)
    moving = tb.get_torrent(torrent_id)                # "completed", not present yet
    assert (moving.status, moving.raw_status) == (RemoteStatus.PROCESSING, "completed")
    assert not moving.links
    assert all(not f.link for f in moving.files)
    assert [t.id for t in tb.list_torrents(active_only=True)] == [torrent_id]
    admin.advance(3)                                 # a tenth of its time later
    ready = tb.get_torrent(torrent_id)
    assert ready.status is RemoteStatus.READY
    assert ready.links == (f"{torrent_id}/0",
                                                                  f"{torrent_id}/1",
                                                                  f"{torrent_id}/2")
    assert ready.ended is not None
    assert list(tb.list_torrents(active_only=True)) == []


def test_only_if_cached_refuses_with_not_cached(tb: TorBox, admin: Admin) -> None:
    with pytest.raises(NotCached) as caught:
        tb.add_magnet(magnet(random_hash(), "Rare [uncached]"), only_if_cached=True)
    assert caught.value.kind is ProviderErrorKind.NOT_CACHED
    assert list(tb.list_torrents()) == []
    assert tb.add_magnet(magnet(random_hash(), "Common"), only_if_cached=True)


def test_a_re_add_returns_the_torrent_already_there(tb: TorBox, tmp_path: Path) -> None:
    info_hash = random_hash()
    first = tb.add_magnet(magnet(info_hash, "Twice.mkv", 10))
    tb.add_magnet(magnet(random_hash(), "Newer.mkv", 10))
    assert tb.add_magnet(magnet(info_hash.upper(), "Twice.mkv")) == first
    data, _ = make_torrent(tmp_path, "Pack", {"a.mkv": 100})
    uploaded = tb.add_torrent_file(data)
    assert tb.add_torrent_file(data) == uploaded
    assert len(list(tb.list_torrents())) == 3


def test_torrent_file_upload(tb: TorBox, tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Pack.S01", {"E01.mkv": 1000, "E02.mkv": 2000})
    torrent = tb.get_torrent(tb.add_torrent_file(data))
    assert torrent.hash == info_hash
    assert [(f.path, f.size) for f in torrent.files] == [("E01.mkv", 1000), ("E02.mkv", 2000)]
    with pytest.raises(InvalidTorrent) as caught:
        tb.add_torrent_file(b"not a torrent")
    assert (caught.value.native_code, caught.value.http_status) == ("BOZO_TORRENT", 400)


def test_check_cached_asks_100_at_a_time(tb: TorBox, admin: Admin) -> None:
    hashes = [random_hash() for _ in range(150)]
    admin("POST", "/seed", json=[{"hash": hashes[3], "name": "A"},
                                 {"hash": hashes[120], "name": "B"},
                                 {"hash": hashes[7], "name": "C", "cached": False}])
    result = tb.check_cached(hashes)
    assert set(result) == set(hashes)
    assert {h for h, cached in result.items() if cached} == {hashes[3], hashes[120]}
    assert len(admin.calls("/torrents/checkcached")) == 2


def test_list_pages_and_skips_repeats(tb: TorBox, admin: Admin) -> None:
    ids = [tb.add_magnet(magnet(random_hash(), f"Page.{i}.mkv", 10)) for i in range(5)]
    assert [t.id for t in tb.list_torrents(page_size=2)] == ids[::-1]
    assert len(admin.calls("/torrents/mylist")) == 3
    assert all(not t.files for t in tb.list_torrents())


def _item(torrent_id: int, state: str = "cached") -> dict[str, Any]:
    return {"id": torrent_id, "hash": f"{torrent_id:040x}", "name": f"T{torrent_id}",
            "size": 1, "progress": 1.0, "download_state": state, "download_finished": True,
            "download_present": True, "files": []}


def test_list_survives_overlapping_pages_long_pages_and_a_404_end(tb: TorBox,
                                                                  admin: Admin) -> None:
    """A torrent added during the walk shifts the pages (one comes twice); TorBox may send
    one item more than the limit (observed by stremthru); past the end may be a 404."""
    route = "/torrents/mylist$"
    admin.fault(route=route, status=200, body=envelope([_item(9), _item(8), _item(7)]))
    admin.fault(route=route, status=200, body=envelope([_item(7), _item(6)]))
    admin.fault(route=route, status=404, body=envelope(error="ITEM_NOT_FOUND", success=False))
    assert [t.id for t in tb.list_torrents(page_size=2)] == ["9", "8", "7", "6"]
    offsets = [r["query"] for r in admin.calls("/torrents/mylist")]
    assert ["offset=0" in offsets[0], "offset=3" in offsets[1], "offset=5" in offsets[2]] == \
        [True, True, True]
    admin.fault(route=route, status=200,
                body=envelope([_item(3, "downloading") | {"download_finished": False},
                               _item(2, "error"), _item(1)]))
    assert [t.id for t in tb.list_torrents(active_only=True)] == ["3"]


def test_a_cooldown_refusal_says_when_to_retry(tb: TorBox, admin: Admin) -> None:
    admin.fault(route="/torrents/createtorrent$", status=403,
                body=envelope(error="COOLDOWN_LIMIT", detail="on cooldown", success=False))
    admin.fault(route="/user/me$", status=200,
                body=envelope({"plan": 0, "cooldown_until": "2999-01-01T00:00:00Z"}))
    with pytest.raises(QuotaExceeded) as caught:
        tb.add_magnet(magnet(random_hash(), "Later.mkv"))
    assert caught.value.native_code == "COOLDOWN_LIMIT"
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 86400
    assert caught.value.retryable


def test_account(tb: TorBox) -> None:
    account = tb.get_account()
    assert account.premium
    assert account.username == "sandbox@example.invalid"
    assert account.expires_at.endswith("Z")
    assert account.notes == ("plan: pro",)
    assert account.slots_max == 10


def test_wrong_key_is_an_auth_error(server: SandboxServer, admin: Admin) -> None:
    with pytest.raises(AuthError) as caught:
        client(server, api_key="wrong").get_account()
    assert (caught.value.native_code, caught.value.http_status) == ("BAD_TOKEN", 403)


def test_slots_full(tb: TorBox, admin: Admin) -> None:
    admin.configure(max_active=1)
    tb.add_magnet(magnet(random_hash(), "One [uncached]", 100))
    with pytest.raises(SlotsFull) as caught:
        tb.add_magnet(magnet(random_hash(), "Two [uncached]", 100))
    assert caught.value.native_code == "ACTIVE_LIMIT"
    assert caught.value.retryable


STATUS_FOR = {AuthError: 403, PremiumRequired: 403, NotFound: 404, ServiceUnavailable: 500,
              LinkUnavailable: 400}


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_each_error_code_over_http(tb: TorBox, admin: Admin, code: str) -> None:
    expected = ERROR_CODES[code]
    status = STATUS_FOR.get(expected, 400)
    admin.fault(route="/user/me$", status=status,
                body=envelope(error=code, detail=f"{code} detail", success=False))
    with pytest.raises(expected) as caught:
        tb.get_account()
    assert type(caught.value) is expected
    assert (caught.value.native_code, caught.value.http_status) == (code, status)
    assert caught.value.provider == "tb"
    assert f"{code} detail" in caught.value.message


@pytest.mark.parametrize(("code", "expected"), [
    ("ITEM_NOT_FOUND", NotFound), ("ACTIVE_LIMIT", SlotsFull), ("BAD_TOKEN", AuthError),
    ("COOLDOWN_LIMIT", QuotaExceeded), ("ENDPOINT_NOT_FOUND", Unsupported),
])
def test_refusals_with_http_200_are_errors_too(tb: TorBox, admin: Admin, code: str,
                                               expected: type[DebridError]) -> None:
    admin.fault(route="/user/me$", status=200, body=envelope(error=code, success=False))
    with pytest.raises(expected) as caught:
        tb.get_account()
    assert (caught.value.native_code, caught.value.http_status) == (code, 200)


@pytest.mark.parametrize(("state", "finished", "present", "status", "cause"), [
    ("metaDL", False, False, RemoteStatus.METADATA, None),
    ("checkingResumeData", False, False, RemoteStatus.METADATA, None),
    ("queuedDL", False, False, RemoteStatus.QUEUED, None),
    ("paused", False, False, RemoteStatus.QUEUED, None),
    ("downloading", False, False, RemoteStatus.DOWNLOADING, None),
    ("stalled (no seeds)", False, False, RemoteStatus.DOWNLOADING, None),
    ("completed", False, False, RemoteStatus.PROCESSING, None),
    ("completed", True, False, RemoteStatus.PROCESSING, None),
    ("uploading", True, False, RemoteStatus.PROCESSING, None),
    ("completed", True, True, RemoteStatus.READY, None),
    ("uploading", True, True, RemoteStatus.READY, None),
    ("cached", True, True, RemoteStatus.READY, None),
    ("error", False, False, RemoteStatus.FAILED, FailureCause.ERROR),
    ("expired", True, False, RemoteStatus.FAILED, FailureCause.DEAD),
    ("missingFiles", True, False, RemoteStatus.FAILED, FailureCause.DEAD),
    ("failed (download too large)", False, False, RemoteStatus.FAILED, FailureCause.TOO_LARGE),
    ("failed (infected file)", False, False, RemoteStatus.FAILED, FailureCause.VIRUS),
    ("failed (timed out)", False, False, RemoteStatus.FAILED, FailureCause.TIMEOUT),
    ("failed", False, False, RemoteStatus.FAILED, FailureCause.ERROR),
    ("somethingNew", False, False, RemoteStatus.DOWNLOADING, None),
])
def test_download_states(tb: TorBox, admin: Admin, state: str, finished: bool, present: bool,
                         status: RemoteStatus, cause: FailureCause | None) -> None:
    item = {"id": 42, "hash": "AB" * 20, "name": "X", "size": 10, "progress": 0.5,
            "download_state": state, "download_finished": finished,
            "download_present": present, "seeds": 0, "download_speed": 0,
            "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T04:04:05Z",
            "files": [{"id": 0, "name": "X/x.mkv", "short_name": "x.mkv", "size": 10}]}
    admin.fault(route="/torrents/mylist$", status=200, body=envelope(item))
    torrent = tb.get_torrent("42")
    assert (torrent.status, torrent.failure, torrent.raw_status) == (status, cause, state)
    assert torrent.hash == "ab" * 20
    assert torrent.added == 1767323045.0
    assert torrent.message == (state if cause else "")
    assert [f.link for f in torrent.files] == (["42/0"] if status is RemoteStatus.READY
                                               else [""])


def test_null_data_for_an_id_is_not_found(tb: TorBox, admin: Admin) -> None:
    admin.fault(route="/torrents/mylist$", status=200, body=envelope(None))
    with pytest.raises(NotFound):
        tb.get_torrent("7")


def test_html_5xx_and_malformed_bodies(tb: TorBox, admin: Admin) -> None:
    admin.fault(route="/user/me$", status=502, html=True)
    with pytest.raises(ServiceUnavailable):
        tb.get_account()
    admin.fault(route="/user/me$", kind="malformed")
    with pytest.raises(ProtocolError):
        tb.get_account()


def test_an_add_is_never_resent(server: SandboxServer, admin: Admin) -> None:
    """A 5xx after sending may have taken effect, and a 429 would only be refused again:
    adds are tried once whatever `attempts` says (reads are retried)."""
    tb = client(server, attempts=3)
    admin.fault(route="/torrents/createtorrent$", status=503, html=True)
    with pytest.raises(ServiceUnavailable) as caught:
        tb.add_magnet(magnet(random_hash(), "Once.mkv"))
    assert caught.value.ambiguous
    assert len(admin.calls("/torrents/createtorrent")) == 1
    admin.fault(route="/user/me$", status=503, html=True)
    assert tb.get_account().premium                  # a read is retried
    assert len(admin.calls("/user/me")) == 2


def test_rate_limits_pause_the_request_budget(server: SandboxServer, admin: Admin,
                                             store: SqliteStore) -> None:
    tb = client(server, per_minute=300, store=store)
    admin.fault(route="/user/me$", status=429, headers={"Retry-After": "3"},
                body=envelope(detail="300 per 1 minute", success=None))
    with pytest.raises(RateLimited) as caught:
        tb.get_account()
    assert caught.value.retry_after == 3.0
    assert caught.value.native_code is None
    assert tb.http.budget is not None
    assert tb.http.budget.state().blocked_for > 2
    # the limiter's words at HTTP 200 (observed) are a rate limit too, and block as well
    other = client(server, name="tb2", per_minute=300, store=store)
    admin.fault(route="/user/me$", status=200,
                body=envelope(detail="60 per 1 hour", success=None))
    with pytest.raises(RateLimited):
        other.get_account()
    assert other.http.budget is not None
    assert other.http.budget.state().recent_rate_limits == 1


def test_the_create_limit_pauses_adds_not_other_calls(server: SandboxServer, admin: Admin,
                                                      store: SqliteStore) -> None:
    """The fake counts 2 creates an hour (another tool shares the key, say): the third add
    is refused with the wait, which pauses adds (add_wait) and nothing else."""
    admin.configure(create_limit=2, create_window_seconds=3600)
    tb = client(server, per_minute=300, store=store, create_limit=(100, 3600.0))
    for i in range(2):
        assert tb.add_wait() == 0
        tb.add_magnet(magnet(random_hash(), f"Add.{i}.mkv"))
    assert tb.add_wait() == 0
    with pytest.raises(RateLimited) as caught:
        tb.add_magnet(magnet(random_hash(), "Third.mkv"))
    assert caught.value.retry_after is not None
    assert 3500 < caught.value.retry_after <= 3600
    assert "per 1 hour" in caught.value.message
    assert tb.add_wait() > 3500                       # adds wait for the window
    assert tb.http.budget is not None
    assert tb.http.budget.state().blocked_for == 0
    assert tb.get_account().premium                   # everything else goes on
    assert len(list(tb.list_torrents())) == 2


def test_add_wait_reports_a_wait_once_the_create_budget_is_used(server: SandboxServer,
                                                                admin: Admin,
                                                                store: SqliteStore) -> None:
    """TorBox's 60 an hour: a burst of 6 (a tenth), then one add every 66 s or so, so no
    hour ever sees more than 60."""
    tb = client(server, store=store, create_limit=KIND.create_limit)
    assert [tb.add_wait() for _ in range(6)] == [0.0] * 6
    wait = tb.add_wait()
    assert 60 < wait < 70
    assert tb.add_wait() == pytest.approx(wait, abs=1)     # a wait takes nothing
    assert [b.account for b in tb.budgets()] == ["tb/adds"]
    assert client(server).add_wait() == 0.0           # without a store: no limit kept


def test_download_keys_resolve_links_in_turn(server: SandboxServer, admin: Admin,
                                             store: SqliteStore) -> None:
    tb = client(server, store=store, download_api_keys=(LINK1, LINK2))
    torrent_id = tb.add_magnet(magnet(random_hash(), "Shared.mkv", 1000))
    link = tb.get_torrent(torrent_id).files[0].link
    admin.configure(exhausted_tokens=[LINK1])          # MONTHLY_LIMIT: the next key
    assert tb.resolve_link(link).url
    tokens = [r["query"].split("token=")[1].split("&")[0]
              for r in admin.calls("/torrents/requestdl")]
    assert tokens == [LINK1, LINK2]
    admin.configure(exhausted_tokens=[LINK2])
    assert tb.resolve_link(link).url                   # LINK1 rests for an hour: main key
    tokens = [r["query"].split("token=")[1].split("&")[0]
              for r in admin.calls("/torrents/requestdl")]
    assert tokens[2:] == [LINK2, TOKEN]


def test_links_of_gone_torrents_are_unavailable(tb: TorBox, admin: Admin) -> None:
    kept = tb.add_magnet(magnet(random_hash(), "Purged.mkv", 100))
    link = tb.get_torrent(kept).files[0].link
    sandbox_id = admin("GET", "/torrents")[0]["id"]
    admin("POST", f"/torrents/{sandbox_id}", json={"dead": True})
    dead = tb.get_torrent(kept)
    assert (dead.status, dead.failure) == (RemoteStatus.FAILED, FailureCause.DEAD)
    with pytest.raises(LinkUnavailable) as offline:
        tb.resolve_link(link)
    assert offline.value.native_code == "LINK_OFFLINE"
    tb.delete_torrent(kept)
    with pytest.raises(LinkUnavailable) as gone:
        tb.resolve_link(link)
    assert gone.value.native_code == "ITEM_NOT_FOUND"
    with pytest.raises(ProtocolError):
        tb.resolve_link("https://elsewhere/x")
