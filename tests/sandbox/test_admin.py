"""The loopback-only admin API: config, seed, torrents, clock, reset."""

from __future__ import annotations

import pytest

from debrid.sandbox import SandboxOptions

from .conftest import RD, infohash_of, magnet


def test_admin_refuses_non_loopback_clients(rd: RD) -> None:
    client = rd.server.app.test_client()
    remote = client.get("/__admin/config", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert remote.status_code == 403
    assert "loopback" in remote.get_json()["error"]
    for address in ("127.0.0.1", "::1"):
        local = client.get("/__admin/config", environ_base={"REMOTE_ADDR": address})
        assert local.status_code == 200
    assert rd.admin("GET", "/config").status_code == 200  # real loopback socket


def test_config_read_and_partial_update(rd: RD) -> None:
    config = rd.admin("GET", "/config").json()
    assert config == {**SandboxOptions().as_dict(), **config}  # every field present
    assert config["download_seconds"] == 1.0
    updated = rd.admin("POST", "/config", json={"max_active": 2, "tokens": ["a", "b"]}).json()
    assert (updated["max_active"], updated["tokens"]) == (2, ["a", "b"])
    assert updated["download_seconds"] == 1.0
    assert rd.server.options.max_active == 2
    assert rd.server.options.tokens == ("a", "b")
    assert rd.get("/user", headers={"Authorization": "Bearer a"}).status_code == 200
    assert rd.get("/user").status_code == 401


@pytest.mark.parametrize(
    "patch",
    [
        {"no_such_option": 1},
        {"max_active": "3"},
        {"max_active": 1.5},
        {"download_seconds": True},
        {"download_seconds": -1},
        {"tokens": "abc"},
        {"expired_link_status": 200},
    ],
)
def test_bad_config_is_rejected_and_changes_nothing(rd: RD, patch: dict) -> None:
    before = rd.admin("GET", "/config").json()
    response = rd.admin("POST", "/config", json=patch)
    assert response.status_code == 400
    assert "error" in response.json()
    assert rd.admin("GET", "/config").json() == before


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "no hash"},
        {"hash": "xyz"},
        {"hash": "a" * 40, "files": [{"path": "", "bytes": 1}]},
        {"hash": "a" * 40, "files": [{"path": "a.mkv", "bytes": -1}]},
        {"hash": "a" * 40, "cached": "yes"},
        {"hash": "a" * 40, "dead_after": "soon"},
    ],
)
def test_bad_seed_is_rejected(rd: RD, entry: dict) -> None:
    assert rd.admin("POST", "/seed", json=entry).status_code == 400


def test_seed_normalises_and_lists(rd: RD) -> None:
    infohash = infohash_of("Seeded")
    seeded = rd.seed(hash=infohash.upper(), name="Seeded", files=[{"path": "x.mkv", "bytes": 9}])
    assert seeded["hash"] == infohash
    assert seeded["files"] == [{"path": "/x.mkv", "bytes": 9}]
    assert rd.admin("GET", "/catalogue").json() == [seeded]
    both = rd.admin("POST", "/seed", json=[{"hash": "b" * 40}, {"hash": "c" * 40}])
    assert both.status_code == 201
    assert len(both.json()) == 2


def test_seeded_infringing(rd: RD) -> None:
    infohash = infohash_of("Seeded.Infringing")
    rd.seed(hash=infohash, infringing=True)
    response = rd.post("/torrents/addMagnet", data={"magnet": magnet("Innocent", infohash)})
    assert response.status_code == 451


def test_admin_torrents_lists_everything(rd: RD) -> None:
    kept = rd.downloaded(magnet("Kept"))
    gone = rd.add_magnet(magnet("Gone"))
    rd.delete(f"/torrents/delete/{gone}")
    torrents = {t["id"]: t for t in rd.admin("GET", "/torrents").json()}
    assert set(torrents) == {kept["id"], gone}
    entry = torrents[kept["id"]]
    assert (entry["status"], entry["progress"], entry["deleted"]) == ("downloaded", 100, False)
    assert entry["links"] == kept["links"]
    assert len(entry["files"]) == 3
    assert None not in (entry["added"], entry["selected"], entry["ended"])
    assert torrents[gone]["deleted"] is True
    assert torrents[gone]["selected"] is None
    missing = rd.admin("POST", "/torrents/NOPE", json={"dead": True})
    assert missing.status_code == 404
    assert rd.admin("POST", f"/torrents/{kept['id']}", json={"dead": "x"}).status_code == 400


def test_clock(rd: RD) -> None:
    before = rd.admin("GET", "/clock").json()
    after = rd.admin("POST", "/clock", json={"advance": 3600}).json()
    assert after["offset"] == before["offset"] + 3600
    assert after["timestamp"] - before["timestamp"] >= 3600
    user_time = rd.get("/time").text
    assert user_time[:13] == after["now"][:10] + " " + after["now"][11:13]
    assert rd.admin("POST", "/clock", json={"advance": -5}).status_code == 400
    assert rd.admin("POST", "/clock", json={}).status_code == 400
    assert rd.admin("POST", "/clock", json={"advance": 1e300}).status_code == 400


def test_reset(rd: RD) -> None:
    rd.seed(hash="d" * 40, name="Reset.Me")
    info = rd.downloaded(magnet("Reset.Me.Too"))
    rd.unrestrict(info["links"][0])
    rd.admin("POST", "/faults", json={"route": "/nothing"})
    rd.advance(100)
    assert rd.admin("POST", "/reset").status_code == 200
    assert rd.get("/torrents").status_code == 204
    assert rd.get("/downloads").status_code == 204
    assert rd.admin("GET", "/catalogue").json() == []
    assert rd.admin("GET", "/faults").json() == []
    assert rd.admin("GET", "/clock").json()["offset"] == 0
    log = rd.admin("GET", "/requests").json()["requests"]
    assert [e["path"] for e in log] == ["/rest/1.0/torrents", "/rest/1.0/downloads"]


def test_admin_rejects_non_json(rd: RD) -> None:
    response = rd.admin("POST", "/config", data="not json")
    assert response.status_code == 400
    assert rd.admin("POST", "/config", json=[1, 2]).status_code == 400
