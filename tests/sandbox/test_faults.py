"""Rate limiting (429/34, refused calls count), fault injection, and the request log."""

from __future__ import annotations

import time

import pytest
import requests

from debrid.sandbox.faults import RateLimiter

from .conftest import RD, assert_error, magnet


def test_rate_limit_refusals_count_and_keep_the_client_blocked(make_rd) -> None:
    rd = make_rd(rate_limit_per_minute=6)  # refills one token every ten seconds
    statuses = [rd.get("/torrents/activeCount").status_code for _ in range(6)]
    assert statuses == [200] * 6
    refused = rd.get("/torrents/activeCount")
    assert_error(refused, 429, "too_many_requests", 34)
    assert "Retry-After" not in refused.headers
    assert not any(name.lower().startswith("x-ratelimit") for name in refused.headers)
    for _ in range(5):  # hammering stays refused (that refusals count is shown with a
        assert rd.get("/user").status_code == 429  # fake clock in the limiter test below)


def test_rate_limit_is_per_token(make_rd) -> None:
    rd = make_rd(rate_limit_per_minute=2)
    assert [rd.get("/user").status_code for _ in range(3)] == [200, 200, 429]
    other = rd.get("/user", headers={"Authorization": "Bearer another-token"})
    assert other.status_code == 200


def test_bucket_floor_is_minus_capacity() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert all(limiter.allow("t", 60) for _ in range(60))
    assert not any(limiter.allow("t", 60) for _ in range(500))  # floor: -60
    now[0] += 120  # 120 tokens refilled: -60 -> 60 (capped at capacity)
    assert all(limiter.allow("t", 60) for _ in range(60))
    assert not limiter.allow("t", 60)
    assert limiter.allow("t", 0)  # 0 = off


def add_fault(rd: RD, **rule) -> dict:
    response = rd.admin("POST", "/faults", json=rule)
    assert response.status_code == 201, response.text
    return response.json()


def test_status_fault_with_error_code_and_count(rd: RD) -> None:
    add_fault(rd, route=r"/torrents/addMagnet$", status=503, error_code=25, count=2)
    for _ in range(2):
        response = rd.post("/torrents/addMagnet", data={"magnet": magnet("Faulted")})
        assert_error(response, 503, "service_unavailable", 25)
    assert rd.get("/torrents").status_code == 204  # the faulted calls did nothing
    assert rd.admin("GET", "/faults").json() == []  # spent rules are removed
    rd.add_magnet(magnet("Faulted"))


def test_html_fault(rd: RD) -> None:
    add_fault(rd, route="/user", status=502, html=True)
    response = rd.get("/user")
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text == "<html><body><h1>502 Bad Gateway</h1></body></html>"
    assert rd.get("/torrents/activeCount").status_code == 200  # other routes unaffected


def test_fault_method_filter_and_probability(rd: RD) -> None:
    add_fault(rd, route="/torrents", method="delete", status=500, error_code=-1)
    add_fault(rd, route="/user", status=500, probability=0.0)
    torrent_id = rd.add_magnet(magnet("Method.Filter"))
    assert rd.get("/torrents").status_code == 200
    assert_error(rd.delete(f"/torrents/delete/{torrent_id}"), 500, "internal_error", -1)
    assert rd.get("/user").status_code == 200


def test_malformed_fault(rd: RD) -> None:
    add_fault(rd, route="/torrents/activeCount", kind="malformed")
    response = rd.get("/torrents/activeCount")
    assert response.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_timeout_fault_still_acts_after_the_client_gave_up(rd: RD) -> None:
    add_fault(rd, route="/torrents/addMagnet", kind="timeout", delay=1.0, count=1)
    with pytest.raises(requests.Timeout):
        rd.post("/torrents/addMagnet", data={"magnet": magnet("Ambiguous")}, timeout=0.3)
    deadline = time.monotonic() + 5
    while rd.get("/torrents").status_code == 204 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [t["filename"] for t in rd.get("/torrents").json()] == ["Ambiguous"]


def test_cdn_fault_and_fault_admin(rd: RD) -> None:
    info = rd.downloaded(magnet("Flaky.CDN.mkv", xl=1000))
    link = rd.unrestrict(info["links"][0])
    rule = add_fault(rd, route=r"^/cdn/", status=503, html=True)
    assert requests.get(link["download"], timeout=5).status_code == 503
    assert rd.admin("GET", "/faults").json() == [rule]
    assert rd.admin("DELETE", f"/faults/{rule['id']}").status_code == 200
    assert requests.get(link["download"], timeout=5).status_code == 200
    add_fault(rd, route="/cdn/")
    assert rd.admin("DELETE", "/faults").json() == []
    assert rd.admin("GET", "/faults").json() == []


@pytest.mark.parametrize(
    "rule",
    [
        {},
        {"route": "("},
        {"route": "/x", "kind": "explode"},
        {"route": "/x", "probability": 2},
        {"route": "/x", "count": 0},
        {"route": "/x", "status": 99},
        {"route": "/x", "delay": -1},
    ],
)
def test_bad_fault_rules_are_rejected(rd: RD, rule: dict) -> None:
    response = rd.admin("POST", "/faults", json=rule)
    assert response.status_code == 400
    assert "error" in response.json()


def test_request_log(rd: RD) -> None:
    rd.get("/user")
    torrent_id = rd.add_magnet(magnet("Logged"))
    rd.get("/no/such/route")
    log = rd.admin("GET", "/requests").json()
    entries = log["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/rest/1.0/user", 200),
        ("POST", "/rest/1.0/torrents/addMagnet", 201),
        ("GET", "/rest/1.0/no/such/route", 404),
    ]
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert log["next"] == 3
    assert all(isinstance(e["ts"], float) for e in entries)

    rd.select(torrent_id)
    link = rd.unrestrict(rd.info(torrent_id)["links"][0])
    requests.head(link["download"], timeout=5)
    newer = rd.admin("GET", "/requests", params={"since": log["next"]}).json()
    cdn_path = "/" + link["download"].split("/", 3)[3]
    assert [(e["method"], e["path"]) for e in newer["requests"]] == [
        ("POST", f"/rest/1.0/torrents/selectFiles/{torrent_id}"),
        ("GET", f"/rest/1.0/torrents/info/{torrent_id}"),
        ("POST", "/rest/1.0/unrestrict/link"),
        ("HEAD", cdn_path),
    ]
    assert newer["next"] == newer["requests"][-1]["seq"]
    assert rd.admin("GET", "/requests", params={"since": newer["next"]}).json() == {
        "requests": [],
        "next": newer["next"],
    }

    cleared = rd.admin("DELETE", "/requests").json()
    assert cleared["requests"] == []
    rd.get("/user")
    after = rd.admin("GET", "/requests").json()["requests"]
    assert len(after) == 1
    assert after[0]["seq"] == cleared["next"] + 1  # numbers are never reused
