"""Paging the registry (/t) over 2,500 torrents and some flagged-only hashes: stable info-hash
order, the 1000 cap, X-Total-Count, one store query per page (no engine, no provider)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, stop_app
from store.sqlite import SqliteStore
from tests.conftest import make_settings
from tests.helpers import PASSWORD, random_hash

KEY = "paging-key-0123456789abcdef"
COUNT = 2500


@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, list[str]]]:
    settings = make_settings(tmp_path_factory.mktemp("paging"), auth={"api_key": KEY},
                             qbit={"add_wait_seconds": 0})
    app = create_app(settings, start_background=False)
    qbit = app.test_client()
    assert qbit.post("/api/v2/auth/login",
                     data={"username": "admin", "password": PASSWORD}).text == "Ok."
    hashes = [os.urandom(20).hex() for _ in range(COUNT)]
    added = qbit.post("/api/v2/torrents/add", data={
        "urls": "\n".join(f"magnet:?xt=urn:btih:{h}&dn=T{i}" for i, h in enumerate(hashes))})
    assert added.text == "Ok."
    try:
        yield app, sorted(hashes)
    finally:
        stop_app(app)


def _page(client: FlaskClient, query: str) -> tuple[list[dict[str, Any]], int]:
    response = client.get(f"/t?{query}", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    return response.json, int(response.headers["X-Total-Count"])


def _all_pages(client: FlaskClient, limit: int) -> tuple[list[list[str]], set[int]]:
    pages: list[list[str]] = []
    totals: set[int] = set()
    offset = 0
    while True:
        entries, total = _page(client, f"offset={offset}&limit={limit}")
        totals.add(total)
        if not entries:
            return pages, totals
        pages.append([e["info_hash"] for e in entries])
        offset += len(entries)


def test_pages_of_1000_cover_2500_in_order(stocked: tuple[Flask, list[str]]) -> None:
    app, hashes = stocked
    client = app.test_client()
    pages, totals = _all_pages(client, 1000)
    assert [len(p) for p in pages] == [1000, 1000, 500]
    assert totals == {COUNT}
    assert [h for page in pages for h in page] == hashes      # sorted, no duplicate, no gap
    assert len(_page(client, "limit=5000")[0]) == 1000
    default, total = _page(client, "")
    assert [e["info_hash"] for e in default] == hashes[:1000]
    assert total == COUNT
    assert _page(client, "offset=2499&limit=7")[0][0]["info_hash"] == hashes[-1]
    assert _page(client, f"offset={10**18}") == ([], COUNT)
    assert _page(client, "limit=0") == ([], COUNT)
    assert _page(client, "offset=&limit=") == _page(client, "offset=0&limit=1000")
    entry = default[0]
    assert entry == {"info_hash": hashes[0], "is_flagged": False, "completed": 0,
                     "seeders": 0, "leechers": 0, "state": "queued", "progress": 0.0,
                     "size": 0, "provider": "sandbox", "added_on": entry["added_on"],
                     "completed_on": None}


def test_flagged_only_hashes_are_paged_among_the_torrents(
        stocked: tuple[Flask, list[str]]) -> None:
    app, hashes = stocked
    client = app.test_client()
    auth = {"Authorization": f"Bearer {KEY}"}
    flagged = sorted(random_hash() for _ in range(3))
    for info_hash in flagged:
        assert client.post(f"/api/t/{info_hash}", json={"is_flagged": True},
                           headers=auth).status_code == 200
    blocked_torrent = random_hash()     # a torrent flagged too: its copy goes, its hash stays
    assert client.post(f"/t/{blocked_torrent}", headers=auth).json == {"status": "ok"}
    assert _page(client, "limit=0")[1] == COUNT + 4
    assert client.post(f"/t/{blocked_torrent}", json={"is_flagged": True},
                       headers=auth).json["is_flagged"] is True
    try:
        pages, totals = _all_pages(client, 1000)
        listed = [h for page in pages for h in page]
        assert totals == {COUNT + 4}
        assert listed == sorted({*hashes, *flagged, blocked_torrent})
        entries = {e["info_hash"]: e for e in _page(client, "limit=1000")[0] +
                   _page(client, "offset=1000")[0] + _page(client, "offset=2000")[0]}
        assert entries[blocked_torrent]["is_flagged"] is True
        assert entries[blocked_torrent]["state"] is None
        assert all(entries[h]["is_flagged"] and entries[h]["state"] is None for h in flagged)
    finally:
        for info_hash in [*flagged, blocked_torrent]:
            client.post(f"/t/{info_hash}", json={"is_flagged": False}, headers=auth)


def test_a_page_is_one_store_query_not_the_whole_library(
        stocked: tuple[Flask, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    app, hashes = stocked
    for whole in ("list_torrents", "live_hashes", "get_by_hash", "torrents_changed_since"):
        monkeypatch.setattr(SqliteStore, whole, _refuse)
    entries, total = _page(app.test_client(), "offset=10&limit=5")
    assert [e["info_hash"] for e in entries] == hashes[10:15]
    assert total == COUNT


def _refuse(*_: Any, **__: Any) -> Any:
    raise AssertionError("the registry listing read the library outside its page query")


def test_the_store_page_on_its_own(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    try:
        assert store.registry_page(0, 10) == ([], 0)
        store.block_hash("b" * 40, 1.0)
        store.block_hash("a" * 40, 1.0)
        rows, total = store.registry_page(1, 10)
        assert total == 2
        assert [(r.hash, r.torrent, r.flagged) for r in rows] == [("b" * 40, None, True)]
    finally:
        store.close()
