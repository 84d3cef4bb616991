"""rss/* and search/*: a qBittorrent with no feeds and no search plugins.

Reads answer empty, and calls about items that do not exist answer as qBittorrent does.
Calls that would make qBittorrent add or fetch a feed, keep a download rule, or run, install
or update a search plugin answer 409 with a message saying Debridge does not do that (the Arr
apps and Prowlarr do the searching).
"""

from __future__ import annotations

from flask import Response
from werkzeug.datastructures import MultiDict

from qbit_compat.http import QbitError, integer, json_response, required, text
from qbit_compat.routing import Endpoint, Handler

NO_RSS = "Debridge does not read RSS feeds (let Sonarr, Radarr or Prowlarr do that)"
NO_SEARCH = "Debridge has no search engine (let Prowlarr or the Arr apps search)"


def _refuse(message: str, *names: str) -> Handler:
    def handler(params: MultiDict[str, str]) -> Response:
        for name in names:
            required(params, name)
        raise QbitError(409, message)
    return handler


def _accept(*names: str) -> Handler:
    """Nothing to do with no feeds, rules or plugins: 200, as qBittorrent answers."""
    def handler(params: MultiDict[str, str]) -> Response:
        for name in names:
            required(params, name)
        return text("")
    return handler


def _missing(parameter: str, root_message: str) -> Handler:
    def handler(params: MultiDict[str, str]) -> Response:
        path = required(params, parameter).strip()
        if not path:
            raise QbitError(409, root_message)
        raise QbitError(409, f"Item doesn't exist: {path}.")
    return handler


def _empty(*names: str) -> Handler:
    def handler(params: MultiDict[str, str]) -> Response:
        for name in names:
            required(params, name)
        return json_response({})
    return handler


# -- rss ----------------------------------------------------------------------------------------
def set_feed_url(params: MultiDict[str, str]) -> Response:
    path = required(params, "path").strip()
    required(params, "url")
    raise QbitError(409, f"Feed doesn't exist: {path}.")


# -- search -------------------------------------------------------------------------------------
def search_plugins(params: MultiDict[str, str]) -> Response:
    return json_response([])


def search_status(params: MultiDict[str, str]) -> Response:
    if integer(params, "id", 0):
        raise QbitError(404, "Not Found")
    return json_response([])


def _no_job(params: MultiDict[str, str]) -> Response:
    required(params, "id")
    integer(params, "id", 0)
    raise QbitError(404, "Not Found")


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("rss/items", _empty()),
    Endpoint("rss/rules", _empty()),
    Endpoint("rss/matchingArticles", _empty("ruleName")),
    Endpoint("rss/addFolder", _refuse(NO_RSS, "path"), post_only=True),
    Endpoint("rss/addFeed", _refuse(NO_RSS, "url"), post_only=True),
    Endpoint("rss/setRule", _refuse(NO_RSS, "ruleName", "ruleDef"), post_only=True),
    Endpoint("rss/removeItem", _missing("path", "Cannot delete root folder."), post_only=True),
    Endpoint("rss/moveItem", _missing("itemPath", "Cannot move root folder."), post_only=True),
    Endpoint("rss/markAsRead", _accept("itemPath"), post_only=True),
    Endpoint("rss/refreshItem", _accept("itemPath"), post_only=True),
    Endpoint("rss/renameRule", _accept("ruleName", "newRuleName"), post_only=True),
    Endpoint("rss/removeRule", _accept("ruleName"), post_only=True),
    Endpoint("rss/setFeedURL", set_feed_url, post_only=True),
    Endpoint("search/plugins", search_plugins),
    Endpoint("search/status", search_status),
    Endpoint("search/start", _refuse(NO_SEARCH, "pattern", "plugins", "category"),
             post_only=True),
    Endpoint("search/installPlugin", _refuse(NO_SEARCH, "sources"), post_only=True),
    Endpoint("search/updatePlugins", _refuse(NO_SEARCH), post_only=True),
    Endpoint("search/downloadTorrent", _refuse(NO_SEARCH, "torrentUrl", "pluginName"),
             personas=("5.1.4",)),
    Endpoint("search/results", _no_job),
    Endpoint("search/stop", _no_job, post_only=True),
    Endpoint("search/delete", _no_job, post_only=True),
    Endpoint("search/uninstallPlugin", _accept("names"), post_only=True),
    Endpoint("search/enablePlugin", _accept("names", "enable"), post_only=True),
)
