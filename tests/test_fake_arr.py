"""The fake Arrs answer as the reference says the real ones do (arr-apis.md §1–6, §10, §11)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.fake_arr import FakeArr

KEY = "fake-arr-test-key"


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, FakeArr]]:
    started = {kind: FakeArr(kind, api_key=KEY).start() for kind in ("sonarr", "radarr", "lidarr")}
    yield started
    for fake in started.values():
        fake.stop()


@pytest.fixture
def sonarr(fakes: dict[str, FakeArr]) -> FakeArr:
    fakes["sonarr"].reset()
    return fakes["sonarr"]


def _get(fake: FakeArr, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{fake.url}{fake.app.prefix}/{path}", params=params,
                        headers={"X-Api-Key": KEY}, timeout=5)


def _post(fake: FakeArr, path: str, body: Any = None) -> requests.Response:
    return requests.post(f"{fake.url}{fake.app.prefix}/{path}", json=body,
                         headers={"X-Api-Key": KEY}, timeout=5)


def test_the_key_from_query_header_or_bearer(sonarr: FakeArr) -> None:
    url = f"{sonarr.url}/api/v3/system/status"
    assert requests.get(url, params={"apikey": KEY}, timeout=5).status_code == 200
    assert requests.get(url, params={"ApiKey": KEY}, timeout=5).status_code == 200
    assert requests.get(url, headers={"X-Api-Key": KEY}, timeout=5).status_code == 200
    assert requests.get(url, headers={"Authorization": f"Bearer {KEY}"},
                        timeout=5).status_code == 200
    for headers in ({}, {"X-Api-Key": "nope"}):
        refused = requests.get(url, headers=headers, timeout=5)
        assert (refused.status_code, refused.content) == (401, b"")
    # the query wins over the header, as ApiKeyAuthenticationHandler reads it first
    assert requests.get(url, params={"apikey": "nope"}, headers={"X-Api-Key": KEY},
                        timeout=5).status_code == 401
    assert [c.auth_via for c in sonarr.calls] == ["query", "query", "header", "bearer", None,
                                                  "header", "query"]
    assert all("apikey" not in {k.lower() for k in c.query} for c in sonarr.calls)
    assert requests.get(f"{sonarr.url}/ping", timeout=5).json() == {"status": "OK"}


def test_a_url_base_redirects_with_307_before_auth() -> None:
    with FakeArr("radarr", api_key=KEY, url_base="radarr/") as fake:
        answer = requests.get(f"{fake.origin}/api/v3/queue?page=2", allow_redirects=False,
                              timeout=5)
        assert (answer.status_code, answer.headers["Location"]) == (
            307, "/radarr/api/v3/queue?page=2")
        status = _get(fake, "system/status").json()
        assert (status["appName"], status["urlBase"]) == ("Radarr", "/radarr")
        assert requests.get(f"{fake.origin}/api/v3/system/status", timeout=5,
                            headers={"X-Api-Key": KEY}).status_code == 200   # followed


def test_wrong_api_version_and_unknown_routes_are_404(fakes: dict[str, FakeArr]) -> None:
    assert _get(fakes["sonarr"], "nothing-here").status_code == 404
    lidarr = fakes["lidarr"]
    assert requests.get(f"{lidarr.url}/api/v3/system/status", headers={"X-Api-Key": KEY},
                        timeout=5).status_code == 404


def test_the_queue_pages_as_sonarr_does(sonarr: FakeArr) -> None:
    info_hash = "ab" * 20
    ids = sonarr.add_queue(info_hash, 1, range(1, 26), season=1)
    sonarr.add_queue("cd" * 20, None, title="Unmatched")
    assert len(set(ids)) == 25                          # one hashed id per episode
    assert ids == sonarr.add_queue(info_hash, 1, range(1, 26))[:25]     # stable
    sonarr.reset()
    sonarr.add_queue(info_hash, 1, range(1, 26), season=1)
    sonarr.add_queue("cd" * 20, None, title="Unmatched")
    first = _get(sonarr, "queue").json()
    assert (first["page"], first["pageSize"], first["sortKey"], first["totalRecords"]) == (
        1, 10, "timeleft", 25)                          # the unknown item is hidden
    assert {r["downloadId"] for r in first["records"]} == {info_hash.upper()}
    past = _get(sonarr, "queue", page=9).json()
    assert past["page"] == 2
    assert len(past["records"]) == 10
    everything = _get(sonarr, "queue", includeUnknownSeriesItems="true", pageSize=50).json()
    assert everything["totalRecords"] == 26
    [unknown] = [r for r in everything["records"] if "seriesId" not in r]
    assert unknown["title"] == "Unmatched"
    assert "episodeId" not in unknown


def test_history_filters_exactly_and_numbers_per_app(fakes: dict[str, FakeArr]) -> None:
    for kind, failed, imported in (("sonarr", 4, 3), ("radarr", 4, 3), ("lidarr", 4, 8)):
        fake = fakes[kind]
        fake.reset()
        search = 1 if kind == "radarr" else 2
        fake.add_grab("ef" * 20, 1, [search])
        fake.add_history("EF" * 20, 1, [search], imported)
        fake.add_history("EF" * 20, 1, [search], failed)
        assert _get(fake, "history", downloadId="ef" * 20).json()["totalRecords"] == 0
        page = _get(fake, "history", downloadId="EF" * 20).json()
        assert next(r["eventType"] for r in page["records"]) == "downloadFailed"   # newest
        both = _get(fake, "history", downloadId="EF" * 20, eventType=[1, imported]).json()
        assert {r["eventType"] for r in both["records"]} == {
            "grabbed", fake.app.events[imported]}


def test_mark_failed_and_the_redownload(fakes: dict[str, FakeArr]) -> None:
    lidarr = fakes["lidarr"]
    lidarr.reset()
    ids = lidarr.add_grab("12" * 20, 3, [30, 31])
    assert _post(lidarr, f"history/failed/{ids[1]}").json() == {}
    assert lidarr.blocklist[0]["search_ids"] == [31, 30]
    assert lidarr.redownloads == [("AlbumSearch", {"albumIds": [31, 30]})]
    missing = _post(lidarr, "history/failed/999")
    assert (missing.status_code, missing.json()) == (
        404, {"message": "EntityHistory with ID 999 does not exist"})
    quiet = FakeArr("radarr", api_key=KEY, auto_redownload=False)
    with quiet:
        [grab] = quiet.add_grab("34" * 20, 5, [5])
        assert _post(quiet, f"history/failed/{grab}").status_code == 200
        assert quiet.redownloads == []
        assert len(quiet.blocklist) == 1


def test_commands(sonarr: FakeArr) -> None:
    queued = _post(sonarr, "command", {"name": "refreshmonitoreddownloads"})
    assert queued.status_code == 201
    body = queued.json()
    assert (body["name"], body["status"], body["commandName"]) == (
        "RefreshMonitoredDownloads", "queued", "Refresh Monitored Downloads")
    assert _get(sonarr, f"command/{body['id']}").json()["status"] == "completed"
    assert _get(sonarr, "command/999").status_code == 404
    assert _post(sonarr, "command", {"name": "MoviesSearch"}).status_code == 500
    missing = _post(sonarr, "command", {"episodeIds": [1]})
    assert missing.status_code == 400
    assert isinstance(missing.json(), list)
    assert _post(sonarr, "command", {"name": "EpisodeSearch",
                                     "episodeIds": ["1"]}).status_code == 400
    scan = _post(sonarr, "command", {"name": "DownloadedEpisodesScan"}).json()
    ended = _get(sonarr, f"command/{scan['id']}").json()
    assert (ended["status"], ended["message"]) == ("failed", "A path must be provided")


def test_files_need_a_filter(fakes: dict[str, FakeArr]) -> None:
    radarr = fakes["radarr"]
    radarr.reset()
    movie = radarr.add_item("Film", "/movies/Film (2020)")
    file_id = radarr.add_file(movie, "/movies/Film (2020)/Film.mkv")
    refused = _get(radarr, "moviefile")
    assert (refused.status_code, refused.json()["message"]) == (
        400, "movieId or movieFileIds must be provided")
    [row] = _get(radarr, "moviefile", movieId=movie).json()
    assert (row["id"], row["relativePath"]) == (file_id, "Film.mkv")
    delete = f"{radarr.url}/api/v3/moviefile/{file_id}"
    assert requests.delete(delete, headers={"X-Api-Key": KEY}, timeout=5).status_code == 200
    gone = requests.delete(delete, headers={"X-Api-Key": KEY}, timeout=5)
    assert (gone.status_code, gone.json()["message"]) == (404, "Movie file not found")
    assert _get(fakes["lidarr"], "artist").json() == []


def test_down_and_stopped(sonarr: FakeArr) -> None:
    sonarr.set_down(True)
    assert requests.get(f"{sonarr.url}/ping", timeout=5).status_code == 503
    sonarr.set_down(False)
    fake = FakeArr("sonarr", api_key=KEY).start()
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{fake.url}/ping", timeout=5)
    fake.start()
    assert requests.get(f"{fake.url}/ping", timeout=5).status_code == 200
    fake.stop()
