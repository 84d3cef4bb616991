"""The page at / : what Debridge serves and where, until the web UI exists."""

from __future__ import annotations

from html import escape

from flask import Blueprint, Response, current_app, request

from core import __version__
from core.services import EXTENSION_KEY, Services

blueprint = Blueprint("ui", __name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Debridge</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}}
code{{background:#eee;padding:0 .2em}}.note{{border-left:4px solid #c80;padding-left:.8em}}</style>
</head><body>
<h1>Debridge {version}</h1>
<p>Debridge is running. It has no web interface yet; these are what it serves here:</p>
<ul>
<li><b>qBittorrent API</b> at <code>{base}/api/v2</code>: add Debridge to Sonarr, Radarr,
Lidarr or Prowlarr as a <i>qBittorrent</i> download client (host and port of this page,
user <code>{user}</code>).</li>
<li><b>WebDAV</b> at <code>{base}/webdav/</code>: the whole library, for rclone, Plex and
Jellyfin.</li>
<li><b>REST API</b> at <code>{base}/api/</code>: for scripts, with the API key.</li>
</ul>
{sandbox}
<p>How to set each of them up, every setting and every route: the <code>README.md</code>
that comes with Debridge.</p>
</body></html>
"""
SANDBOX = ("<p class=note>No debrid provider key is configured: the built-in <b>sandbox</b> "
           "stands in, and torrents get synthetic test files. Add your provider to the config "
           "file (<code>{source}</code>) to use your account.</p>")


@blueprint.get("/")
def index() -> Response:
    svc: Services = current_app.extensions[EXTENSION_KEY]
    if not svc.hosts.allows(request.headers.get("Host", "")):
        return Response("Bad Request: this host name is not one Debridge answers to "
                        "(qbit.domain_list)\n", 400, content_type="text/plain; charset=utf-8")
    settings = svc.settings
    sandbox = any(p.type == "sandbox" for p in settings.providers)
    page = PAGE.format(version=escape(__version__), base=escape(request.host_url.rstrip("/")),
                       user=escape(settings["auth.username"]),
                       sandbox=SANDBOX.format(source=escape(settings.source)) if sandbox else "")
    return Response(page, content_type="text/html; charset=utf-8",
                    headers={"X-Content-Type-Options": "nosniff",
                             "Content-Security-Policy": "default-src 'none'; "
                                                        "style-src 'unsafe-inline'",
                             "X-Frame-Options": "DENY"})
