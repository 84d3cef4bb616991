"""The read-only WebDAV tree at /webdav/, a WsgiDAV app mounted beside Flask."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from wsgidav.wsgidav_app import WsgiDAVApp

from browse.tree import Tree
from core.auth import Authenticator
from core.hosts import HostPolicy
from webdav.auth import CONFIG_KEY, DebridgeDomainController
from webdav.resources import OpenReader, TreeProvider

MOUNT_PATH = "/webdav"    # the dispatcher prefix and WsgiDAV's mount_path: one value
BLOCK_SIZE = 1 << 20      # bytes per read of a streamed file (WsgiDAV's default is 8 KiB)
ALLOWED = "OPTIONS, HEAD, GET, PROPFIND"   # what a read-only WsgiDAV provider answers


def make_dav_app(tree: Tree, open_reader: OpenReader, authenticator: Authenticator,
                 auth: str, hosts: HostPolicy) -> Any:
    """The WsgiDAV app; mount it at MOUNT_PATH (it builds its hrefs from that)."""
    # WsgiDAV's start-up chatter (SSL advice, skipped middleware) is not for operators.
    logging.getLogger("wsgidav").setLevel(logging.ERROR)
    provider = TreeProvider(tree, open_reader)
    config = {
        "provider_mapping": {"/": provider},
        "mount_path": MOUNT_PATH,
        "lock_storage": False,
        "property_manager": None,
        "block_size": BLOCK_SIZE,
        "verbose": 1,
        "logging": {"enable": False},
        "add_header_MS_Author_Via": False,
        "dir_browser": {"enable": True, "response_trailer": "Debridge", "davmount": False,
                        "ms_sharepoint_support": False, "htdocs_path": None},
        "http_authenticator": {"domain_controller": DebridgeDomainController,
                               "accept_basic": True, "accept_digest": False,
                               "default_to_digest": False, "trusted_auth_header": None},
        CONFIG_KEY: {"authenticator": authenticator, "auth": auth},
    }
    return _checked_paths(WsgiDAVApp(config), provider, hosts)


def _checked_paths(app: Any, provider: TreeProvider, hosts: HostPolicy) -> Any:
    """Answer 400 for a Host Debridge does not answer to (before anything else, a redirect
    included), and for paths WsgiDAV mishandles: one that is not UTF-8 (e.g. %ff) raises in
    WsgiDAV (a 500), and one that climbs above the root with '..' gets a 400 whose promised
    body never comes. No client sends '..' segments (RFC 3986 removes them), so any is
    refused. WsgiDAV's 405s also get the Allow header HTTP requires of them, except MKCOL of
    a new folder: 405 there means "exists already" (RFC 4918 9.3.1), which rclone takes as
    done, so it is a 403. Its redirect of a folder to the same path with a '/' names the
    path without the mount point: the mount point is put back."""

    def checked(environ: dict[str, Any], start_response: Any) -> Any:
        if not hosts.allows(environ.get("HTTP_HOST", "")):
            return _bad_request(start_response, "this host name is not one Debridge answers "
                                                "to (qbit.domain_list)")
        try:
            path = environ.get("PATH_INFO", "").encode("iso-8859-1").decode("utf-8")
        except UnicodeError:
            return _bad_request(start_response, "the path is not UTF-8")
        if ".." in path.split("/"):
            return _bad_request(start_response, "'..' in the path")

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("405") and all(k.lower() != "allow" for k, _ in headers):
                headers = [*headers, ("Allow", ALLOWED)]
            if status.startswith("301"):
                mount = quote(environ.get("SCRIPT_NAME", ""))
                headers = [(k, mount + v if k.lower() == "location" and v.startswith("/")
                            and not v.startswith(mount + "/") else v) for k, v in headers]
            return start_response(status, headers, exc_info)

        if environ.get("REQUEST_METHOD") == "MKCOL":
            return _mkcol(app, provider, environ, start)
        return app(environ, start)

    return checked


def _mkcol(app: Any, provider: TreeProvider, environ: dict[str, Any],
           start_response: Any) -> list[bytes]:
    answer: list[Any] = []

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer[:] = [status, headers, exc_info]
        return lambda data: None

    body = b"".join(app(environ, capture))          # a short error page (after auth)
    status, headers, exc_info = answer
    if status.startswith("405") and \
            provider.get_resource_inst(environ.get("PATH_INFO", ""), environ) is None:
        body = b"Forbidden: the library is read-only\n"
        status = "403 Forbidden"
        headers = [("Content-Type", "text/plain; charset=utf-8"),
                   ("Content-Length", str(len(body)))]
    start_response(status, headers, exc_info)
    return [body]


def _bad_request(start_response: Any, why: str) -> list[bytes]:
    body = f"Bad Request: {why}\n".encode()
    start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8"),
                                       ("Content-Length", str(len(body)))])
    return [body]
