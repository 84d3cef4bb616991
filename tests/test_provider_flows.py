"""Sonarr's path through each provider's client against that provider's fake, over HTTP.

One `python -m debrid.sandbox --dialect D` and one `python app.py serve` whose provider is
the real client type (its base_url pointed at the fake) per provider: qbittorrent-api adds a
cached magnet, an [uncached] one and a two-file .torrent into a category, polls to pausedUP,
the bytes under content_path and through WebDAV match the content formula, deleting with
files empties the provider.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import qbittorrentapi
import requests

from debrid.registry import provider_types
from tests.helpers import (
    PASSWORD,
    expected_bytes,
    expected_sha256,
    file_sha256,
    free_port,
    magnet,
    make_torrent,
    random_hash,
    start_debridge,
    start_sandbox_process,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow
CATEGORY = "tv-sonarr"
# every real provider type that has a sandbox dialect
FAKED = sorted({(t.kind.type, d.dialect) for t in provider_types() if not t.kind.sandbox
                for d in provider_types() if d.kind.sandbox and d.build is t.build})


@dataclass
class Flow:
    client: qbittorrentapi.Client
    admin: str
    port: int
    tmp: Path

    def provider_torrents(self) -> list[dict[str, object]]:
        torrents: list[dict[str, object]] = requests.get(f"{self.admin}/torrents",
                                                          timeout=5).json()
        return [t for t in torrents if not t["deleted"]]

    def file_ids(self, info_hash: str) -> dict[str, int]:
        """The fake's file ids (they key the content formula) by root-relative path."""
        (torrent,) = [t for t in self.provider_torrents() if t["hash"] == info_hash]
        return {str(f["path"]).lstrip("/"): int(f["id"])
                for f in torrent["files"]}  # type: ignore[attr-defined]


@pytest.fixture(scope="module", params=FAKED, ids=[t for t, _ in FAKED])
def flow(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    provider, dialect = request.param
    tmp = tmp_path_factory.mktemp(provider)
    sandbox_port, port = free_port(), free_port()
    sandbox = start_sandbox_process(sandbox_port, tmp / "sandbox.log", "--dialect", dialect,
                                    "--download-seconds", "2")
    api_url = sandbox.log().split("sandbox listening on ", 1)[1].split()[0]
    config = write_config(tmp, port=port, providers=[
        {"name": "acct", "type": provider, "api_key": "test-key", "base_url": api_url}],
        downloads={"folder": str(tmp / "downloads")})
    server = start_debridge(config, tmp / "debridge.log", port)
    client = qbittorrentapi.Client(host=f"http://127.0.0.1:{port}", username="admin",
                                   password=PASSWORD, REQUESTS_ARGS={"timeout": 30})
    client.auth_log_in()
    client.torrents_create_category(name=CATEGORY)
    try:
        yield Flow(client, f"http://127.0.0.1:{sandbox_port}/__admin", port, tmp)
    finally:
        client.auth_log_out()
        server.stop()
        sandbox.stop()
    assert "test-key" not in server.log()


def _completed(flow: Flow, info_hash: str) -> dict[str, object]:
    def done() -> dict[str, object] | None:
        found = flow.client.torrents_info(torrent_hashes=info_hash)
        assert found, "the torrent vanished from torrents/info"
        assert found[0]["state"] != "error", found[0]
        return found[0] if found[0]["state"] in ("pausedUP", "stoppedUP") else None

    return wait_until(done, timeout=60, interval=0.2, what="pausedUP")


def _check(flow: Flow, torrent: dict[str, object]) -> list[dict[str, object]]:
    """content_path holds exactly the selected files, each with the formula's bytes, and
    WebDAV serves the same bytes."""
    info_hash = str(torrent["hash"])
    save_path, content_path = Path(str(torrent["save_path"])), Path(str(torrent["content_path"]))
    assert content_path != save_path
    assert save_path == flow.tmp / "downloads" / CATEGORY
    selected = [f for f in flow.client.torrents_files(torrent_hash=info_hash)
                if f["priority"] > 0]
    assert selected
    present = sorted(p for p in content_path.rglob("*") if not p.is_dir())
    assert present == sorted(save_path / str(f["name"]) for f in selected)
    ids = flow.file_ids(info_hash)
    for f in selected:
        name = str(f["name"])
        file_id = next(i for path, i in ids.items() if name.endswith(path))
        assert file_sha256(save_path / name) == expected_sha256(info_hash, file_id,
                                                                int(f["size"]))
        href = f"http://127.0.0.1:{flow.port}/webdav/__all__/{quote(name)}"
        ranged = requests.get(href, auth=("admin", PASSWORD), timeout=30,
                              headers={"Range": "bytes=1000-4999"})
        assert ranged.status_code == 206
        assert ranged.content == expected_bytes(info_hash, file_id, 1000, 4000)
    return selected


def _delete(flow: Flow, info_hash: str, content: Path) -> None:
    flow.client.torrents_delete(delete_files=True, torrent_hashes=info_hash)
    wait_until(lambda: not content.exists(), timeout=15, what="content_path removed")
    wait_until(lambda: all(t["hash"] != info_hash for t in flow.provider_torrents()),
               timeout=15, what="the provider's torrent removed")


def test_cached_uncached_and_two_file_upload_complete_with_the_right_bytes(flow: Flow) -> None:
    cached, uncached = random_hash(), random_hash()
    data, uploaded = make_torrent(flow.tmp, "Show.S02.1080p", {
        "Show.S02E01.1080p.mkv": 2_500_000, "Show.S02E02.1080p.mkv": 1_700_001})
    assert flow.client.torrents_add(urls=magnet(cached, "Some.Show.S01E01.1080p.WEB",
                                                size=3_000_123), category=CATEGORY) == "Ok."
    assert flow.client.torrents_add(urls=magnet(uncached, "Uncached.Movie.2024 [uncached]",
                                                size=2_000_000), category=CATEGORY) == "Ok."
    assert flow.client.torrents_add(torrent_files={"Show.S02.1080p.torrent": data},
                                    category=CATEGORY) == "Ok."
    for info_hash, files in ((cached, 1), (uncached, 1), (uploaded, 2)):
        torrent = _completed(flow, info_hash)
        assert torrent["progress"] == 1
        assert torrent["amount_left"] == 0
        assert len(_check(flow, torrent)) == files
        _delete(flow, info_hash, Path(str(torrent["content_path"])))
    assert flow.provider_torrents() == []
