"""The streamed PROPFIND of a group folder says exactly what WsgiDAV itself would say."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import pytest
from flask import Flask
from flask.testing import FlaskClient

import webdav.resources
from app import create_app, stop_app
from core.ports import RemoteFile, RemoteStatus, RemoteTorrent
from tests.conftest import make_settings
from tests.helpers import PASSWORD

AUTH = {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()}
NAMES = ["Plain", "Spaces and [brackets] #1", "50% & more", "Ünïcödé 東京", "a_b (2019)",
         "Show.S01.1080p", "quote's", "x" * 200]
RCLONE = b"""<?xml version="1.0"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
 <d:prop>
  <d:displayname /><d:getlastmodified /><d:getcontentlength /><d:resourcetype />
  <d:getcontenttype /><oc:checksums /><oc:permissions />
 </d:prop>
</d:propfind>"""
BODIES = {
    "empty": b"",
    "allprop": b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
    "rclone": RCLONE,
    "etag and dead": b'<D:propfind xmlns:D="DAV:" xmlns:Z="urn:x"><D:prop><D:getetag/>'
                     b'<D:creationdate/><Z:custom/></D:prop></D:propfind>',
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    application = create_app(make_settings(tmp_path_factory.mktemp("listing")),
                             start_background=False)
    store = application.extensions["debridge.runtime"].store
    remotes = [RemoteTorrent(id=f"R{i}", hash=f"{i:040x}", name=name,
                             status=RemoteStatus.READY, raw_status="downloaded", progress=1.0,
                             size=1000 + i, links=("l",))
               for i, name in enumerate([*NAMES, "Plain"])]   # a duplicate name too
    store.upsert_imported("sandbox", remotes, 1, 1_700_000_000.0)
    for remote in remotes:
        store.set_imported_files("sandbox", remote.id, [RemoteFile(
            id="1", path=f"{remote.name}.mkv", size=remote.size, selected=True,
            link=f"https://provider.test/d/{remote.id}")])
    try:
        yield application
    finally:
        stop_app(application)


def _propfind(client: FlaskClient, body: bytes, **headers: str) -> Any:
    return client.open("/webdav/__all__/", method="PROPFIND", data=body,
                       headers={**AUTH, "Depth": "1", **headers})


def _parsed(xml: bytes) -> dict[str, dict[str, tuple[str, str, tuple[str, ...]]]]:
    """href -> property -> (status, text, child tags): the meaning, not the spelling."""
    out: dict[str, dict[str, tuple[str, str, tuple[str, ...]]]] = {}
    for response in ElementTree.fromstring(xml).iter("{DAV:}response"):  # noqa: S314 (our own answer)
        href = response.findtext("{DAV:}href") or ""
        props = out.setdefault(href, {})
        for propstat in response.iter("{DAV:}propstat"):
            status = propstat.findtext("{DAV:}status") or ""
            found = propstat.find("{DAV:}prop")
            for prop in [] if found is None else list(found):
                props[prop.tag] = (status, prop.text or "", tuple(c.tag for c in prop))
    return out


@pytest.mark.parametrize("body", list(BODIES), ids=list(BODIES))
def test_streamed_listing_means_what_wsgidav_says(app: Flask, body: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    client = app.test_client()
    fast = _propfind(client, BODIES[body])
    assert fast.status_code == 207
    assert fast.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert fast.headers.get("Content-Length") is None       # streamed, not built
    monkeypatch.setattr(webdav.resources, "requested_props", lambda environ: None)
    reference = _propfind(client, BODIES[body])
    assert reference.status_code == 207
    assert reference.headers.get("Content-Length") is not None
    expected = _parsed(reference.data)
    assert len(expected) == len(NAMES) + 2       # the group, its members (one suffixed)
    assert _parsed(fast.data) == expected


@pytest.mark.parametrize("body", [b"<not xml", b'<D:propfind xmlns:D="DAV:"><D:propname/>'
                                  b"</D:propfind>", b'<D:propfind xmlns:D="DAV:"><D:prop>'
                                  b"<D:lockdiscovery/></D:prop></D:propfind>"])
def test_what_the_stream_does_not_cover_goes_to_wsgidav(app: Flask, body: bytes) -> None:
    response = _propfind(app.test_client(), body)
    assert response.headers.get("Content-Length") is not None
    if body.startswith(b"<not"):
        assert response.status_code == 400
    else:
        assert response.status_code == 207
        assert len(_parsed(response.data)) == len(NAMES) + 2


def test_conditional_propfind_goes_to_wsgidav(app: Flask) -> None:
    response = _propfind(app.test_client(), b"", **{"If-None-Match": '"x"'})
    assert response.headers.get("Content-Length") is not None


def test_the_listing_needs_credentials(app: Flask) -> None:
    response = app.test_client().open("/webdav/__all__/", method="PROPFIND",
                                      headers={"Depth": "1"})
    assert response.status_code == 401
