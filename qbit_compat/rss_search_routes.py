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
from qbit_compat.routing import Handler, endpoint

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
endpoint("rss/items")(_empty())
endpoint("rss/rules")(_empty())
endpoint("rss/matchingArticles")(_empty("ruleName"))
endpoint("rss/addFolder", post_only=True)(_refuse(NO_RSS, "path"))
endpoint("rss/addFeed", post_only=True)(_refuse(NO_RSS, "url"))
endpoint("rss/setRule", post_only=True)(_refuse(NO_RSS, "ruleName", "ruleDef"))
endpoint("rss/removeItem", post_only=True)(_missing("path", "Cannot delete root folder."))
endpoint("rss/moveItem", post_only=True)(_missing("itemPath", "Cannot move root folder."))
endpoint("rss/markAsRead", post_only=True)(_accept("itemPath"))
endpoint("rss/refreshItem", post_only=True)(_accept("itemPath"))
endpoint("rss/renameRule", post_only=True)(_accept("ruleName", "newRuleName"))
endpoint("rss/removeRule", post_only=True)(_accept("ruleName"))


@endpoint("rss/setFeedURL", post_only=True)
def set_feed_url(params: MultiDict[str, str]) -> Response:
    path = required(params, "path").strip()
    required(params, "url")
    raise QbitError(409, f"Feed doesn't exist: {path}.")


# -- search -------------------------------------------------------------------------------------
@endpoint("search/plugins")
def search_plugins(params: MultiDict[str, str]) -> Response:
    return json_response([])


@endpoint("search/status")
def search_status(params: MultiDict[str, str]) -> Response:
    if integer(params, "id", 0):
        raise QbitError(404, "Not Found")
    return json_response([])


def _no_job(params: MultiDict[str, str]) -> Response:
    required(params, "id")
    integer(params, "id", 0)
    raise QbitError(404, "Not Found")


endpoint("search/start", post_only=True)(_refuse(NO_SEARCH, "pattern", "plugins", "category"))
endpoint("search/installPlugin", post_only=True)(_refuse(NO_SEARCH, "sources"))
endpoint("search/updatePlugins", post_only=True)(_refuse(NO_SEARCH))
endpoint("search/downloadTorrent", personas=("5.1.4",))(
    _refuse(NO_SEARCH, "torrentUrl", "pluginName"))
endpoint("search/results")(_no_job)
endpoint("search/stop", post_only=True)(_no_job)
endpoint("search/delete", post_only=True)(_no_job)
endpoint("search/uninstallPlugin", post_only=True)(_accept("names"))
endpoint("search/enablePlugin", post_only=True)(_accept("names", "enable"))
