"""The read-only WebDAV tree at /webdav/, a WsgiDAV app mounted beside Flask."""

from __future__ import annotations

import logging
from typing import Any

from wsgidav.wsgidav_app import WsgiDAVApp

from browse.tree import Tree
from core.auth import Authenticator
from webdav.auth import CONFIG_KEY, DebridgeDomainController
from webdav.resources import OpenReader, TreeProvider

MOUNT_PATH = "/webdav"    # the dispatcher prefix and WsgiDAV's mount_path: one value
BLOCK_SIZE = 1 << 20      # bytes per read of a streamed file (WsgiDAV's default is 8 KiB)


def make_dav_app(tree: Tree, open_reader: OpenReader, authenticator: Authenticator,
                 auth: str) -> Any:
    """The WsgiDAV app; mount it at MOUNT_PATH (it builds its hrefs from that)."""
    # WsgiDAV's start-up chatter (SSL advice, skipped middleware) is not for operators.
    logging.getLogger("wsgidav").setLevel(logging.ERROR)
    config = {
        "provider_mapping": {"/": TreeProvider(tree, open_reader)},
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
    return WsgiDAVApp(config)
