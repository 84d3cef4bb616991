"""What clients give torrents/add and the edits: names with invisible characters, categories
and tags with them, batches with duplicates, and the cap on torrents per request."""

from __future__ import annotations

import io
from typing import Any

import torf
from flask.testing import FlaskClient
from werkzeug.test import encode_multipart

from core.sources import MAX_SOURCES
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


def test_a_batch_with_duplicates_adds_each_new_torrent_once(qbit: FlaskClient) -> None:
    known, new_a, new_b = random_hash(), random_hash(), random_hash()
    assert _add(qbit, urls=magnet(known, "Known")).text == "Ok."
    batch = "\n".join([magnet(new_a, "A"), magnet(known, "Known"), "",
                       magnet(new_a, "A again"), "not a magnet", magnet(new_b, "B")])
    assert _add(qbit, urls=batch).text == "Ok."
    listed = qbit.get(f"{API}/torrents/info").json
    assert sorted(t["hash"] for t in listed) == sorted([known, new_a, new_b])
    assert _info(qbit, new_a)["name"] == "A"                    # the first of the two
    # nothing new: Fails., as qBittorrent answers a duplicate
    assert _add(qbit, urls=f"{magnet(known, 'K')}\n{magnet(new_b, 'B')}").text == "Fails."
    data, twice_hash = _torrent_file("Twice.mkv")
    twice = [(io.BytesIO(data), "a.torrent"), (io.BytesIO(data), "b.torrent")]
    assert _add(qbit, torrents=twice).text == "Ok."
    assert _info(qbit, twice_hash)["name"] == "Twice.mkv"
    assert len(qbit.get(f"{API}/torrents/info").json) == 4


def test_every_upload_counts_and_the_batch_cap_refuses_the_whole_request(
        qbit: FlaskClient) -> None:
    # several parts under one field name, as curl -F torrents=@a -F torrents=@b sends them
    (first, first_hash), (second, second_hash) = _torrent_file("One.mkv"), _torrent_file("Two")
    both = [(io.BytesIO(first), "one.torrent"), (io.BytesIO(second), "two.torrent")]
    assert _add(qbit, torrents=both).text == "Ok."
    assert _info(qbit, first_hash) is not None
    assert _info(qbit, second_hash) is not None

    lines = "\n".join(magnet(random_hash(), f"Many.{i}") for i in range(MAX_SOURCES + 1))
    too_many = _add(qbit, urls=lines)
    assert (too_many.status_code, too_many.text) == (
        400, f"Too many torrents in one request (at most {MAX_SOURCES})")
    assert len(qbit.get(f"{API}/torrents/info").json) == 2        # nothing of it stored

    # a multipart urls part over Flask's 500 kB default for a text part is read whole
    padded = "\n".join(magnet(random_hash(), "Long." * 2000) for _ in range(60))
    assert len(padded) > 500_000
    # encoded here: the test client spools big multipart bodies to a file it never closes
    boundary, body = encode_multipart({**PAUSED, "urls": padded})
    multipart = qbit.post(f"{API}/torrents/add", data=body,
                          content_type=f"multipart/form-data; boundary={boundary}")
    assert multipart.text == "Ok."
    assert len(qbit.get(f"{API}/torrents/info").json) == 62
