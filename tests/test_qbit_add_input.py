"""What clients give torrents/add and the edits: names with invisible characters, and
categories and tags with them."""

from __future__ import annotations

import io
from typing import Any

import torf
from flask.testing import FlaskClient

from tests.helpers import magnet, random_hash

API = "/api/v2"
PAUSED = {"paused": "true", "stopped": "true"}     # no provider verdict to wait for


def _add(qbit: FlaskClient, **data: Any) -> Any:
    return qbit.post(f"{API}/torrents/add", data={**PAUSED, **data})


def _info(qbit: FlaskClient, info_hash: str) -> dict[str, Any] | None:
    found = qbit.get(f"{API}/torrents/info?hashes={info_hash}").json
    return found[0] if found else None


def _torrent_file(name: str) -> tuple[bytes, str]:
    torrent = torf.Torrent()
    torrent.metainfo["info"].update({"name": name, "length": 10, "piece length": 16384,
                                     "pieces": random_hash().encode()[:20]})
    return torrent.dump(validate=False), str(torrent.infohash)


def test_invisible_characters_in_names_are_shown_as_one_space(qbit: FlaskClient) -> None:
    from_magnet = random_hash()
    assert _add(qbit, urls=f"magnet:?xt=urn:btih:{from_magnet}"
                           "&dn=Evil%E2%80%AEvkm.exe%0D%0AX%09Y").text == "Ok."
    assert _info(qbit, from_magnet)["name"] == "Evil vkm.exe X Y"

    data, from_file = _torrent_file("Show\u2066.S01\u2069\r\n.mkv")
    assert _add(qbit, torrents=(io.BytesIO(data), "show.torrent")).text == "Ok."
    assert _info(qbit, from_file)["name"] == "Show .S01 .mkv"

    renamed_at_add = random_hash()
    assert _add(qbit, urls=magnet(renamed_at_add, "Plain"),
                rename="Mine\u2028Now\u200e\tToo").text == "Ok."
    assert _info(qbit, renamed_at_add)["name"] == "Mine Now Too"

    done = qbit.post(f"{API}/torrents/rename", data={"hash": from_magnet,
                                                     "name": "X\u202eY\x00Z\u2029"})
    assert done.status_code == 200
    assert _info(qbit, from_magnet)["name"] == "X Y Z"
    empty = qbit.post(f"{API}/torrents/rename", data={"hash": from_magnet,
                                                      "name": "\u202e\r\n\u2066"})
    assert (empty.status_code, empty.text) == (409, "Incorrect torrent name")
    assert _info(qbit, from_magnet)["name"] == "X Y Z"


def test_categories_and_tags_with_invisible_characters_are_refused(qbit: FlaskClient) -> None:
    for bad in ("tv\u202esonarr", "tv\tsonarr", "a\u200eb", "line\u2028break", "x\x7f"):
        refused = qbit.post(f"{API}/torrents/createCategory", data={"category": bad})
        assert (refused.status_code, refused.text) == (409, "Incorrect category name"), bad
    assert qbit.get(f"{API}/torrents/categories").json == {}

    info_hash = random_hash()
    assert _add(qbit, urls=magnet(info_hash, "Cat"), category="bad\u2066").text == "Fails."
    assert _info(qbit, info_hash) is None
    assert qbit.get(f"{API}/torrents/categories").json == {}

    assert _add(qbit, urls=magnet(info_hash, "Cat"), category="tv",
                tags="good,bad\u202e,al\tso, trimmed \n").text == "Ok."
    assert _info(qbit, info_hash)["tags"] == "good, trimmed"
    moved = qbit.post(f"{API}/torrents/setCategory",
                      data={"hashes": info_hash, "category": "tv\u200e"})
    assert (moved.status_code, moved.text) == (409, "Incorrect category name")
    assert _info(qbit, info_hash)["category"] == "tv"

    qbit.post(f"{API}/torrents/addTags", data={"hashes": info_hash, "tags": "ok2,x\u2028y"})
    qbit.post(f"{API}/torrents/createTags", data={"tags": "a\u200bb,fine"})
    assert _info(qbit, info_hash)["tags"] == "good, ok2, trimmed"
    assert sorted(qbit.get(f"{API}/torrents/tags").json) == ["fine", "good", "ok2", "trimmed"]
