"""arr.ArrClient against the fake Sonarr, Radarr and Lidarr (tests/fake_arr.py) over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from arr import ArrClient
from core.ports.arr import ArrApi, ArrError, ArrErrorKind, ArrKind, MediaFile
from tests.fake_arr import FakeArr
from tests.helpers import random_hash

KEY = "arr-client-test-key-0123456789"
KINDS = [ArrKind.SONARR, ArrKind.RADARR, ArrKind.LIDARR]


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[ArrKind, FakeArr]]:
    started = {kind: FakeArr(kind, api_key=KEY).start() for kind in KINDS}
    yield started
    for fake in started.values():
        fake.stop()


@pytest.fixture(params=KINDS, ids=str)
def kind(request: pytest.FixtureRequest) -> ArrKind:
    return ArrKind(request.param)


@pytest.fixture
def fake(fakes: dict[ArrKind, FakeArr], kind: ArrKind) -> Iterator[FakeArr]:
    fakes[kind].reset()
    yield fakes[kind]
    # whatever the test did, the key only ever travelled in the X-Api-Key header
    for call in fakes[kind].calls:
        assert call.auth_via in ("header", None), call
        assert "apikey" not in {k.lower() for k in call.query}, call


@pytest.fixture
def client(fake: FakeArr, kind: ArrKind) -> Iterator[ArrClient]:
    with ArrClient(kind, fake.url, KEY, timeout=5) as arr:
        yield arr


def _sonarr(fakes: dict[ArrKind, FakeArr]) -> FakeArr:
    fakes[ArrKind.SONARR].reset()
    return fakes[ArrKind.SONARR]


def _error(call: object) -> ArrError:
    assert callable(call)
    with pytest.raises(ArrError) as caught:
        call()
    return caught.value


def test_the_client_is_the_port(client: ArrClient) -> None:
    port: ArrApi = client
    assert port.kind is client.kind


def test_status_names_the_app(client: ArrClient, fake: FakeArr) -> None:
    status = client.status()
    assert status.app_name == fake.app.name
    assert status.version == fake.app.version
    assert status.instance_name == fake.app.name
    assert [(c.method, c.path) for c in fake.calls] == [("GET", "system/status")]


def test_a_radarr_configured_as_sonarr_is_refused(fakes: dict[ArrKind, FakeArr]) -> None:
    fakes[ArrKind.RADARR].reset()
    with ArrClient(ArrKind.SONARR, fakes[ArrKind.RADARR].url, KEY) as arr:
        error = _error(arr.status)
    assert error.kind is ArrErrorKind.REFUSED
    assert "is Radarr, not Sonarr" in error.message


def test_a_lidarr_url_as_radarr_is_not_found_under_v3(fakes: dict[ArrKind, FakeArr]) -> None:
    fakes[ArrKind.LIDARR].reset()
    with ArrClient(ArrKind.RADARR, fakes[ArrKind.LIDARR].url, KEY) as arr:
        error = _error(arr.status)
    assert error.kind is ArrErrorKind.NOT_FOUND      # Lidarr has /api/v1 only


def test_grabs_of_a_season_pack_one_per_episode(fakes: dict[ArrKind, FakeArr]) -> None:
    sonarr = _sonarr(fakes)
    info_hash = random_hash()
    series = sonarr.add_item("Show", "/tv/Show")
    ids = sonarr.add_grab(info_hash, series, [11, 12, 13], "Show.S01.1080p-GRP", season=1)
    sonarr.add_history(info_hash.upper(), series, [11], "downloadFolderImported")
    sonarr.add_grab(random_hash(), series, [14])        # another download
    with ArrClient(ArrKind.SONARR, sonarr.url, KEY) as arr:
        grabs = arr.grabs(info_hash)                    # lower case in, as qBittorrent has it
    assert sorted(r.id for r in grabs) == sorted(ids)
    assert sorted(r.search_id for r in grabs) == [11, 12, 13]
    assert {(r.item_id, r.event_type, r.download_id, r.source_title) for r in grabs} == {
        (series, "grabbed", info_hash.upper(), "Show.S01.1080p-GRP")}
    [call] = sonarr.calls_to("GET", "history")
    assert call.arg("downloadId") == info_hash.upper()
    assert call.query["eventType"] == ["1"]


def test_grabs_map_each_apps_ids(client: ArrClient, fake: FakeArr, kind: ArrKind) -> None:
    info_hash = random_hash()
    item = fake.add_item("Thing", "/media/Thing")
    search = item if kind is ArrKind.RADARR else 77
    [history_id] = fake.add_grab(info_hash, item, [search])
    [record] = client.grabs(info_hash.upper())
    assert (record.id, record.item_id, record.search_id) == (history_id, item, search)
    assert record.date.startswith("2024-05-01T")


def test_grabs_read_every_page_newest_first(fakes: dict[ArrKind, FakeArr]) -> None:
    sonarr = _sonarr(fakes)
    info_hash = random_hash()
    ids = [sonarr.add_grab(info_hash, 1, [100 + n])[0] for n in range(25)]
    with ArrClient(ArrKind.SONARR, sonarr.url, KEY, page_size=10) as arr:
        grabs = arr.grabs(info_hash)
    assert [r.id for r in grabs] == ids[::-1]
    assert [c.arg("page") for c in sonarr.calls_to("GET", "history")] == ["1", "2", "3"]


def test_queue_reads_every_page_and_unknown_items(fakes: dict[ArrKind, FakeArr]) -> None:
    sonarr = _sonarr(fakes)
    info_hash = random_hash()
    pack = sonarr.add_queue(info_hash, 1, range(1, 26), "Show.S01-GRP", season=1)
    unknown = sonarr.add_queue(info_hash, None, title="Show.S01-GRP")
    sonarr.add_queue(random_hash(), 2, [99])
    with ArrClient(ArrKind.SONARR, sonarr.url, KEY, page_size=10) as arr:
        records = arr.queue(info_hash)
    assert sorted(r.id for r in records) == sorted(pack + unknown)
    assert {r.download_id for r in records} == {info_hash.upper()}
    assert sorted(r.search_id for r in records if r.item_id) == list(range(1, 26))
    [unmatched] = [r for r in records if not r.item_id]
    assert (unmatched.status, unmatched.tracked_state) == ("downloading", "downloading")
    calls = sonarr.calls_to("GET", "queue")
    assert len(calls) == 3      # 27 records: stopped on totalRecords, not on an empty page
    assert {c.arg("includeUnknownSeriesItems") for c in calls} == {"true"}


def test_queue_per_app(client: ArrClient, fake: FakeArr, kind: ArrKind) -> None:
    info_hash = random_hash()
    search = 5 if kind is ArrKind.RADARR else 8
    [queue_id] = fake.add_queue(info_hash, 5, [search], tracked_state="importPending")
    [record] = client.queue(info_hash)
    assert (record.id, record.item_id, record.search_id, record.tracked_state) == (
        queue_id, 5, search, "importPending")
    assert fake.calls_to("GET", "queue")[0].arg(fake.app.unknown_flag) == "true"
    assert client.queue(random_hash()) == []


def test_mark_failed_blocklists_the_whole_pack(fakes: dict[ArrKind, FakeArr]) -> None:
    sonarr = _sonarr(fakes)
    info_hash = random_hash()
    ids = sonarr.add_grab(info_hash, 3, [31, 32], "Show.S02-GRP", season=2)
    with ArrClient(ArrKind.SONARR, sonarr.url, KEY) as arr:
        arr.mark_failed(ids[0])
    assert sonarr.failed_ids == [ids[0]]
    [entry] = sonarr.blocklist
    assert (entry["item_id"], entry["search_ids"], entry["download_id"]) == (
        3, [31, 32], info_hash.upper())
    failed = [e for e in sonarr.history_events(info_hash.upper()) if e[1] == "downloadFailed"]
    assert sorted(e[2] for e in failed) == [31, 32]
    assert sonarr.redownloads == [("SeasonSearch", {"seriesId": 3, "seasonNumber": 2})]


def test_mark_failed_unknown_id_is_not_found(client: ArrClient, fake: FakeArr) -> None:
    error = _error(lambda: client.mark_failed(4242))
    assert (error.kind, error.status) == (ArrErrorKind.NOT_FOUND, 404)
    assert "with ID 4242 does not exist" in error.message
    assert fake.blocklist == []


def test_mark_failed_per_app(client: ArrClient, fake: FakeArr, kind: ArrKind) -> None:
    item = fake.add_item("Thing", "/media/Thing")
    search = item if kind is ArrKind.RADARR else 9
    [history_id] = fake.add_grab(random_hash(), item, [search])
    client.mark_failed(history_id)
    assert [b["search_ids"] for b in fake.blocklist] == [[search]]
    assert fake.calls_to("POST", "history/failed")[0].path == f"history/failed/{history_id}"


def test_a_wrong_key_is_unauthorized_and_not_printed(fake: FakeArr, kind: ArrKind) -> None:
    wrong = "wrong-key-abcdef123456"
    with ArrClient(kind, fake.url, wrong) as arr:
        error = _error(arr.status)
    assert (error.kind, error.status) == (ArrErrorKind.UNAUTHORIZED, 401)
    assert error.retryable
    assert wrong not in error.message
    assert KEY not in error.message
    assert error.message == f"{fake.app.name} at {fake.url} answered 401 (wrong API key)"


def test_a_server_error_is_retryable_and_names_no_query(client: ArrClient,
                                                        fake: FakeArr) -> None:
    fake.set_down(True)
    error = _error(lambda: client.grabs(random_hash()))
    assert (error.kind, error.status) == (ArrErrorKind.SERVER, 503)
    assert error.retryable
    assert "?" not in error.message
    assert "downloadId" not in error.message
    assert KEY not in error.message


def test_a_stopped_arr_is_unreachable_at_once(kind: ArrKind) -> None:
    fake = FakeArr(kind, api_key=KEY).start()
    fake.stop()
    started = time.monotonic()
    with ArrClient(kind, fake.url, KEY, timeout=5) as arr:
        error = _error(arr.status)
    assert time.monotonic() - started < 2
    assert error.kind is ArrErrorKind.UNREACHABLE
    assert "connection refused" in error.message


def test_a_slow_arr_times_out_as_unreachable(fakes: dict[ArrKind, FakeArr]) -> None:
    sonarr = _sonarr(fakes)
    sonarr.set_delay(1.0)
    started = time.monotonic()
    with ArrClient(ArrKind.SONARR, sonarr.url, KEY, timeout=0.3) as arr:
        error = _error(arr.status)
    assert time.monotonic() - started < 0.9
    assert (error.kind, error.message) == (
        ArrErrorKind.UNREACHABLE, f"Sonarr at {sonarr.url} is unreachable (timed out)")
    sonarr.set_delay(0)


def test_a_page_that_is_not_json_is_a_bad_answer(client: ArrClient, fake: FakeArr) -> None:
    fake.inject("GET", "system/status")                 # a proxy's login page, 200
    error = _error(client.status)
    assert error.kind is ArrErrorKind.BAD_ANSWER
    assert "text/html, not JSON" in error.message


def test_json_of_the_wrong_shape_is_a_bad_answer(client: ArrClient, fake: FakeArr) -> None:
    fake.inject("GET", "history", body=b'{"records": "none"}', content_type="application/json")
    assert _error(lambda: client.grabs(random_hash())).kind is ArrErrorKind.BAD_ANSWER
    fake.inject("GET", fake.app.items, body=b'[{"id": "1"}]', content_type="application/json")
    assert _error(client.items).kind is ArrErrorKind.BAD_ANSWER


def test_refresh_monitored_downloads_queues_one_command(client: ArrClient,
                                                        fake: FakeArr) -> None:
    command = client.refresh_monitored_downloads()
    assert (command.name, command.status) == ("RefreshMonitoredDownloads", "queued")
    assert fake.commands == [("RefreshMonitoredDownloads", {"name": "RefreshMonitoredDownloads"})]
    assert [c.status for c in fake.calls_to("POST", "command")] == [201]


@pytest.mark.parametrize(("kind", "name", "field"), [
    (ArrKind.SONARR, "EpisodeSearch", "episodeIds"),
    (ArrKind.RADARR, "MoviesSearch", "movieIds"),
    (ArrKind.LIDARR, "AlbumSearch", "albumIds")], ids=str)
def test_search_per_app(client: ArrClient, fake: FakeArr, name: str, field: str) -> None:
    command = client.search([5, 3, 5])
    assert command.name == name
    assert fake.commands == [(name, {"name": name, field: [5, 3]})]
    with pytest.raises(ValueError, match="at least one id"):
        client.search([])
    assert len(fake.calls_to("POST", "command")) == 1


def test_search_files_sonarr_by_season(fakes: dict[ArrKind, FakeArr]) -> None:
    sonarr = _sonarr(fakes)
    files = [MediaFile(1, 10, "/tv/A/S01/e1.mkv", season=1),
             MediaFile(2, 10, "/tv/A/S01/e2.mkv", season=1),
             MediaFile(3, 10, "/tv/A/S02/e1.mkv", season=2),
             MediaFile(4, 20, "/tv/B/e1.mkv", season=None),
             MediaFile(5, 20, "/tv/B/S03/e1.mkv", season=3)]
    with ArrClient(ArrKind.SONARR, sonarr.url, KEY) as arr:
        commands = arr.search_files(files)
        assert arr.search_files([]) == []
    assert [c.name for c in commands] == ["SeriesSearch", "SeasonSearch", "SeasonSearch"]
    assert [body for _, body in sonarr.commands] == [
        {"name": "SeriesSearch", "seriesId": 20},
        {"name": "SeasonSearch", "seriesId": 10, "seasonNumber": 1},
        {"name": "SeasonSearch", "seriesId": 10, "seasonNumber": 2}]


def test_search_files_radarr_and_lidarr(fakes: dict[ArrKind, FakeArr]) -> None:
    radarr, lidarr = fakes[ArrKind.RADARR], fakes[ArrKind.LIDARR]
    radarr.reset()
    lidarr.reset()
    with ArrClient(ArrKind.RADARR, radarr.url, KEY) as arr:
        arr.search_files([MediaFile(1, 7, "/m/A/a.mkv"), MediaFile(2, 7, "/m/A/b.mkv"),
                          MediaFile(3, 8, "/m/B/b.mkv")])
    assert radarr.commands == [("MoviesSearch", {"name": "MoviesSearch", "movieIds": [7, 8]})]
    with ArrClient(ArrKind.LIDARR, lidarr.url, KEY) as arr:
        arr.search_files([MediaFile(1, 4, "/music/X/1/a.flac", album_id=40),
                          MediaFile(2, 4, "/music/X/1/b.flac", album_id=40),
                          MediaFile(3, 4, "/music/X/2/a.flac", album_id=41),
                          MediaFile(4, 5, "/music/Y/loose.flac")])
    assert lidarr.commands == [("AlbumSearch", {"name": "AlbumSearch", "albumIds": [40, 41]}),
                               ("ArtistSearch", {"name": "ArtistSearch", "artistId": 5})]


def test_items_and_the_item_for_a_path(client: ArrClient, fake: FakeArr) -> None:
    show = fake.add_item("Show", "/media/Show")
    show_2 = fake.add_item("Show 2", "/media/Show 2")
    nested = fake.add_item("Show Extras", "/media/Show/Extras")
    assert [(i.id, i.title, i.path) for i in client.items()] == [
        (show, "Show", "/media/Show"), (show_2, "Show 2", "/media/Show 2"),
        (nested, "Show Extras", "/media/Show/Extras")]

    def found(path: str) -> int | None:
        item = client.item_for_path(path)
        return item.id if item else None

    assert found("/media/Show 2/S01/e1.mkv") == show_2
    assert found("/media/Show/S01/e1.mkv") == show
    assert found("/media/Show/Extras/x.mkv") == nested              # the longest folder
    assert found("/media/Show") == show
    assert found("/media/Show/") == show
    assert found("/media/Showtime/e1.mkv") is None
    assert found("/media") is None
    assert found("/elsewhere/Show/e1.mkv") is None


def test_files_and_delete(client: ArrClient, fake: FakeArr, kind: ArrKind) -> None:
    item = fake.add_item("Thing", "/media/Thing")
    other = fake.add_item("Other", "/media/Other")
    season = 2 if kind is ArrKind.SONARR else None
    album = 55 if kind is ArrKind.LIDARR else None
    file_id = fake.add_file(item, "/media/Thing/a.mkv", season=season, album_id=album,
                            size=1234)
    fake.add_file(other, "/media/Other/b.mkv", season=season, album_id=album)
    [media] = client.files(item)
    assert media == MediaFile(file_id, item, "/media/Thing/a.mkv", 1234, season, album)
    client.delete_file(file_id)
    assert fake.deleted_files == [file_id]
    assert client.files(item) == []
    assert _error(lambda: client.delete_file(file_id)).kind is ArrErrorKind.NOT_FOUND
    refused = _error(lambda: client.delete_file(0))
    assert (refused.kind, refused.status) == (ArrErrorKind.REFUSED, 400)
    assert refused.message.endswith(": 0 is not a valid ID")
    assert _error(lambda: client.files(999)).kind is ArrErrorKind.NOT_FOUND


def test_root_folders(client: ArrClient, fake: FakeArr) -> None:
    fake.add_root_folder("/media/a")
    fake.add_root_folder("/media/b")
    assert client.root_folders() == ["/media/a", "/media/b"]


def test_a_url_base_and_its_307(kind: ArrKind) -> None:
    with FakeArr(kind, api_key=KEY, url_base="/arr") as fake:
        with ArrClient(kind, fake.url, KEY) as arr:
            assert arr.status().app_name == fake.app.name
        assert [c.status for c in fake.calls] == [200]
        with ArrClient(kind, fake.origin, KEY) as arr:      # configured without the base
            assert arr.status().app_name == fake.app.name
            assert arr.refresh_monitored_downloads().status == "queued"
        assert [c.status for c in fake.calls[1:]] == [307, 200, 307, 201]
        assert fake.commands == [("RefreshMonitoredDownloads",
                                  {"name": "RefreshMonitoredDownloads"})]


def test_a_redirect_to_another_host_is_not_followed(client: ArrClient, fake: FakeArr) -> None:
    fake.inject("GET", "system/status", status=307, body=b"",
                headers={"Location": "http://198.51.100.7:8989/api/v3/system/status"})
    error = _error(client.status)
    assert (error.kind, error.status) == (ArrErrorKind.REFUSED, 307)
    assert "not following" in error.message
    assert len(fake.calls) == 1


def test_a_key_or_query_in_the_configured_url_never_goes_out(fake: FakeArr,
                                                             kind: ArrKind) -> None:
    with ArrClient(kind, f"{fake.url}/?apikey={KEY}", KEY) as arr:
        arr.status()
        assert KEY not in arr.where
    [call] = fake.calls
    assert call.query == {}
    assert call.auth_via == "header"
