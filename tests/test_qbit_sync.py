"""sync/maindata: a full update, then deltas with only what changed and what was removed."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.helpers import magnet, random_hash

API = "/api/v2"


def _sync(qbit: FlaskClient, rid: int) -> dict:
    response = qbit.get(f"{API}/sync/maindata", query_string={"rid": rid})
    assert response.status_code == 200
    return response.json


def test_full_update_then_field_level_deltas(qbit: FlaskClient) -> None:
    empty = _sync(qbit, 0)
    assert set(empty) == {"full_update", "rid", "server_state"}
    assert empty["full_update"] is True
    rid = empty["rid"]
    unchanged = _sync(qbit, rid)
    # nothing happened: nothing to send (but free disk space, which other programs change)
    assert set(unchanged) - {"server_state"} == {"rid"}
    assert set(unchanged.get("server_state", {})) <= {"free_space_on_disk"}

    info_hash = random_hash()
    qbit.post(f"{API}/torrents/createCategory", data={"category": "tv"})
    assert qbit.post(f"{API}/torrents/add", data={
        "urls": magnet(info_hash, "Sync.Show.S01E01", 1000), "paused": "true",
        "category": "tv", "tags": "one"}).text == "Ok."
    added = _sync(qbit, rid)
    assert "full_update" not in added
    assert added["categories"] == {"tv": {"name": "tv", "savePath": ""}}
    assert added["tags"] == ["one"]
    assert set(added["torrents"][info_hash]) >= {"name", "state", "category", "tags"}
    assert "hash" not in added["torrents"][info_hash]
    assert added["trackers"] == {"http://127.0.0.1:1/announce": [info_hash]}
    rid = added["rid"]

    qbit.post(f"{API}/torrents/setShareLimits", data={
        "hashes": info_hash, "ratioLimit": "2", "seedingTimeLimit": "60",
        "inactiveSeedingTimeLimit": "-2"})
    limits = _sync(qbit, rid)
    assert limits["torrents"] == {info_hash: {"ratio_limit": 2, "max_ratio": 2,
                                              "seeding_time_limit": 60,
                                              "max_seeding_time": 60}}
    rid = limits["rid"]

    qbit.post(f"{API}/torrents/addTags", data={"hashes": info_hash, "tags": "two"})
    qbit.post(f"{API}/torrents/deleteTags", data={"tags": "one"})
    tagged = _sync(qbit, rid)
    assert tagged["torrents"] == {info_hash: {"tags": "two"}}
    assert tagged["tags"] == ["two"]
    assert tagged["tags_removed"] == ["one"]
    rid = tagged["rid"]

    qbit.post(f"{API}/torrents/removeCategories", data={"categories": "tv"})
    qbit.post(f"{API}/torrents/delete", data={"hashes": info_hash, "deleteFiles": "true"})
    removed = _sync(qbit, rid)
    assert removed["torrents_removed"] == [info_hash]
    assert removed["categories_removed"] == ["tv"]
    assert removed["trackers_removed"] == ["http://127.0.0.1:1/announce"]
    assert "torrents" not in removed


def test_unknown_rid_is_a_full_update(qbit: FlaskClient) -> None:
    qbit.post(f"{API}/torrents/createCategory", data={"category": "films"})
    for rid in (0, 999999, -5):
        data = _sync(qbit, rid)
        assert data["full_update"] is True
        assert data["categories"] == {"films": {"name": "films", "savePath": ""}}
    assert qbit.get(f"{API}/sync/maindata?rid=abc").status_code == 400


def test_sessions_have_their_own_rid(app, qbit: FlaskClient) -> None:
    from tests.helpers import PASSWORD
    other = app.test_client()
    other.post(f"{API}/auth/login", data={"username": "admin", "password": PASSWORD})
    mine = _sync(qbit, 0)["rid"]
    theirs = _sync(other, 0)["rid"]
    qbit.post(f"{API}/torrents/createCategory", data={"category": "x"})
    assert set(_sync(qbit, mine)["categories"]) == {"x"}
    assert set(_sync(other, theirs)["categories"]) == {"x"}


def test_torrent_peers(qbit: FlaskClient) -> None:
    assert qbit.get(f"{API}/sync/torrentPeers").status_code == 404
    info_hash = random_hash()
    qbit.post(f"{API}/torrents/add", data={"urls": magnet(info_hash, "Peers.Test"),
                                           "paused": "true"})
    peers = qbit.get(f"{API}/sync/torrentPeers", query_string={"hash": info_hash,
                                                               "rid": 0}).json
    assert peers == {"full_update": True, "peers": {}, "rid": 1, "show_flags": True}
