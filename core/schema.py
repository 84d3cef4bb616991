"""The settings schema: every key Debridge reads, with its type, default, validation and help."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.hooks import check_hooks, mask_hooks
from core.naming import VIDEO_EXTENSIONS, category_is_valid
from core.provider_kinds import KINDS

PERSONAS = ("4.6.7", "5.1.4")
# Samples, trailers and bonus material: by folder, or by the end of the file's name (so
# "Sample.Show.S01E01.mkv" is still an episode).
EXTRA_PATTERNS = (
    r"(^|/)(samples?|extras?|featurettes?|trailers?|bonus|behind the scenes|deleted scenes|"
    r"interviews|shorts|proof)/",
    r"(^|[\s._\-(\[])(sample|trailer|featurette)[)\]]?(\.[^./]*)?$",
)
DOWNLOAD_ACTIONS = ("download", "symlink")
LOG_LEVELS = ("debug", "info", "warning", "error")
PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
USERNAME = re.compile(r"^[^\s:]{1,64}$")


@dataclass(frozen=True)
class Setting:
    """One setting: `kind` is str, int, float, bool, choice, list (of strings) or objects (a
    list of JSON objects, which `check` validates); numbers carry their bounds. `mask` shows
    a value with the secrets inside it hidden (for kinds a plain `secret` cannot mask).
    `live`: POST /api/config applies a change at once, in every worker (its readers look it
    up per use, or app.py re-applies it), not at the next start."""

    key: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False
    check: Callable[[Any], str | None] | None = None
    mask: Callable[[Any], Any] | None = None
    live: bool = False
    default_from_kind: bool = False    # a provider key whose default its type declares


def _username(value: str) -> str | None:
    return None if USERNAME.match(value) else "must be 1-64 characters without spaces or ':'"


def _provider_name(value: str) -> str | None:
    if PROVIDER_NAME.match(value):
        return None
    return "must be 1-32 characters: lowercase letters, digits, '-' and '_'"


def _provider_type(value: str) -> str | None:
    if KINDS.get(value) is not None:
        return None
    return "must be one of " + ", ".join(KINDS.names())


def _regexes(values: list[str]) -> str | None:
    for value in values:
        try:
            re.compile(value)
        except re.error as exc:
            return f"{value!r} is not a regular expression ({exc})"
    return None


def _extensions(values: list[str]) -> str | None:
    bad = [v for v in values if not re.match(r"^\.[A-Za-z0-9]{1,10}$", v)]
    return f"extensions look like '.mkv' (not {bad[0]!r})" if bad else None


def _networks(values: list[str]) -> str | None:
    for value in values:
        try:
            ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            return f"{value!r} is not an IP address or CIDR network"
    return None


def _category_or_empty(value: str) -> str | None:
    if value == "" or category_is_valid(value):
        return None
    return "must be empty or a category name qBittorrent accepts"


def _url_or_empty(value: str) -> str | None:
    if value == "" or re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        return None
    return "must be empty or an http(s):// URL"


SETTINGS: tuple[Setting, ...] = (
    Setting("server.host", "str", "127.0.0.1",
            "Address to listen on. Use 0.0.0.0 to accept connections from other machines "
            "(e.g. Sonarr in another container)."),
    Setting("server.port", "int", 8282,
            "TCP port Debridge listens on (the qBittorrent API is under /api/v2).",
            minimum=1, maximum=65535),
    Setting("server.data_dir", "str", "data",
            "Directory for the database and the sandbox state. Relative paths are relative to "
            "the config file's directory."),
    Setting("server.workers", "int", 1,
            "gunicorn worker processes. State lives in the database, so any number agree; "
            "background work runs in one of them at a time.", minimum=1, maximum=32),
    Setting("server.threads", "int", 16,
            "Threads per worker process (each request being answered holds one; a client "
            "still sending its request head holds none).", minimum=1, maximum=256),
    Setting("server.header_timeout_seconds", "float", 10.0,
            "How long a new connection may take to send a whole request head (and a body of "
            "up to 64 KiB), and a kept-alive one to finish its next request once started. One "
            "that does not is disconnected (answered 408 if it sent part of a request).",
            minimum=1, maximum=600),
    Setting("server.body_timeout_seconds", "float", 60.0,
            "How long Debridge waits on a client in the middle of a request or response body "
            "(one read of an upload, one write of a stream) before it disconnects it. A player "
            "paused for longer reconnects when it resumes.", minimum=1, maximum=3600),
    Setting("server.trusted_proxies", "list", [],
            "Reverse proxies (addresses or CIDR networks, e.g. '172.18.0.0/16') whose "
            "X-Forwarded-For, -Host, -Proto and -Prefix headers Debridge believes: the "
            "client's address (for bans and logs) and the site it asked for then come "
            "from them. From any other address these headers are ignored (qBittorrent's "
            "trusted proxies list).", check=_networks),
    Setting("server.access_log", "bool", False,
            "Log a line per request (gunicorn's access log, on stdout) with API keys, tokens, "
            "passwords and cookies masked, in query strings too."),
    Setting("server.log_level", "choice", "info",
            "How much to log: info shows adds, completions, provider errors and deletions; "
            "debug shows more.", choices=LOG_LEVELS, live=True),
    Setting("auth.username", "str", "admin",
            "Username for the qBittorrent API (what you type into Sonarr/Radarr).",
            check=_username),
    Setting("auth.password", "str", "",
            "Password for the qBittorrent API. Empty: a random password is generated at first "
            "start, printed once in the log, and only its hash is stored. May also be a hash "
            "printed by `python app.py hash-password`.", secret=True),
    Setting("auth.session_timeout_seconds", "int", 3600,
            "A qBittorrent session that is idle this long expires (clients log in again).",
            minimum=1, maximum=30 * 86400),
    Setting("auth.max_failed_logins", "int", 5,
            "Failed logins from one IP address before it is banned (qBittorrent's rule).",
            minimum=1, maximum=1000),
    Setting("auth.ban_seconds", "int", 3600,
            "How long an IP address stays banned after too many failed logins.",
            minimum=1, maximum=30 * 86400),
    Setting("auth.api_key", "str", "",
            "The API key (bearer token) for /api and WebDAV. Empty: one is generated at first "
            "start and printed once in the log; `python app.py api-key` prints a new one.",
            secret=True),
    Setting("api.query_tokens", "bool", True,
            "Accept the API key in the query string as ?apikey= or ?token= (cross-seed's and "
            "UDPT's clients send it so). Logs never show it, but proxies and browser history "
            "may: turn this off when only headers are used.", live=True),
    Setting("api.announce_category", "str", "cross-seed",
            "The category of torrents added by an announce (POST /api/announce, autobrr's "
            "cross-seed webhook). Its uncached releases follow providers[].download_uncached "
            "and downloads.cached_only_categories / uncached_categories like any add. Empty: "
            "no category.", check=_category_or_empty, live=True),
    Setting("api.announce_wait_seconds", "float", 5.0,
            "How long an announce waits for its torrent to complete (after the provider's "
            "verdict on a new one, qbit.add_wait_seconds at most) before answering 202, "
            "which autobrr retries.", minimum=0, maximum=60, live=True),
    Setting("downloads.folder", "str", "",
            "Where torrents appear: <folder>/<category>/<torrent>. Empty means "
            "<data_dir>/downloads. Sonarr/Radarr must see this path (same path or a remote "
            "path mapping)."),
    Setting("downloads.action", "choice", "download",
            "How finished torrents reach downloads.folder: 'download' copies the bytes from the "
            "provider's CDN; 'symlink' links each file into downloads.mount_path (an rclone "
            "mount of Debridge's WebDAV tree).", choices=DOWNLOAD_ACTIONS),
    Setting("downloads.mount_path", "str", "",
            "Where the WebDAV tree is mounted (rclone mount), used by the 'symlink' action: "
            "files are linked to <mount_path>/__all__/<torrent>/<file>. Required for 'symlink'."),
    Setting("downloads.poll_interval_seconds", "float", 5.0,
            "How often active torrents are checked at the provider once they are past the first "
            "seconds after the add.", minimum=0.05, maximum=3600),
    Setting("downloads.max_parallel_transfers", "int", 4,
            "Files copied at the same time by the 'download' action.", minimum=1, maximum=64),
    Setting("downloads.max_active", "int", 0,
            "Most torrents downloading at the provider at once. Torrents beyond it (and beyond "
            "the provider's own limit, which Debridge reads from the provider) wait as "
            "queuedDL and start in queue order as slots free up. 0 = only the provider's "
            "limit.", minimum=0, maximum=10000),
    Setting("downloads.cached_only_categories", "list", [],
            "Categories whose releases must already be cached at the provider: an uncached "
            "add answers 'Fails.' so the Arr tries another release (whatever "
            "providers[].download_uncached says)."),
    Setting("downloads.uncached_categories", "list", [],
            "Categories whose uncached releases are downloaded by the provider even when "
            "providers[].download_uncached is off."),
    Setting("downloads.symlink_timeout_seconds", "int", 1800,
            "How long the 'symlink' action waits for a file to appear in the mount before the "
            "torrent fails.", minimum=1, maximum=7 * 86400),
    Setting("downloads.stalled_timeout_minutes", "float", 1440.0,
            "A torrent the provider has had no metadata for, or made no progress on, for this "
            "long fails as stalled (and is removed from the provider, freeing its slot), so "
            "the Arr can grab another release instead of waiting at 0 % for ever. 0 = never.",
            minimum=0, maximum=525_600),
    Setting("downloads.copy_timeout_minutes", "float", 60.0,
            "A copy ('download' action) that gets no byte from the provider for this long "
            "fails, with the reason (the CDN unreachable, no link), so the Arr can grab "
            "another release instead of waiting on a frozen download. Before that, Debridge "
            "tries again with back-off, resolving the link afresh.",
            minimum=0.05, maximum=10_080),
    Setting("selection.extensions", "list", sorted(VIDEO_EXTENSIONS),
            "File extensions Debridge asks the provider for (the other files of a torrent are "
            "not selected).", check=_extensions),
    Setting("selection.exclude_extras", "bool", True,
            "Skip samples, trailers and bonus material (files whose path matches "
            "selection.extra_patterns). Season packs keep every episode."),
    Setting("selection.extra_patterns", "list", list(EXTRA_PATTERNS),
            "Regular expressions (case-insensitive, searched in the file's path inside the "
            "torrent) that mark a sample or extra.", check=_regexes),
    Setting("selection.min_file_mb", "float", 0.0,
            "Files smaller than this many MiB are not selected (0 = no minimum).",
            minimum=0, maximum=10_000_000),
    Setting("selection.max_file_mb", "float", 0.0,
            "Files larger than this many MiB are not selected (0 = no maximum).",
            minimum=0, maximum=10_000_000),
    Setting("library.sync_interval_seconds", "int", 600,
            "How often the provider account is listed so that torrents added elsewhere (the "
            "provider's website, another tool) appear in Debridge's library, and removed ones "
            "disappear. 0 = never.", minimum=0, maximum=7 * 86400),
    Setting("library.details_per_sync", "int", 500,
            "How many imported torrents get their file list fetched per sync (one provider "
            "call each, at background priority, so adds and streams go first).",
            minimum=0, maximum=1_000_000),
    Setting("hooks.on_complete", "objects", [],
            "What runs once when a torrent completes in Debridge (whatever downloads.action "
            "is): a list of objects whose type is command (a program and its arguments), "
            "http (a request with a body template) or cross-seed (its webhook), with "
            "qBittorrent's placeholders (%N, %I, ...); see Completion hooks. Each delivery is "
            "kept in the database until it succeeds or gives up, across restarts.",
            check=check_hooks, mask=mask_hooks),
    Setting("hooks.timeout_seconds", "float", 10.0,
            "How long one hook may take: a program still running is killed, an HTTP request "
            "unanswered is abandoned; both count as a failed attempt.",
            minimum=0.1, maximum=3600),
    Setting("hooks.max_attempts", "int", 5,
            "Attempts per hook and torrent before Debridge gives up (logged as a warning); an "
            "attempt cut off by a restart counts too.", minimum=1, maximum=100),
    Setting("hooks.retry_seconds", "float", 30.0,
            "Wait after a hook's first failed attempt; it doubles after each further one (at "
            "most an hour).", minimum=0.01, maximum=86400),
    Setting("repair.interval_minutes", "float", 720.0,
            "How often the repair scanner looks at every completed torrent (the provider's "
            "status, a first-byte read of a sample of links, broken symlinks), within the "
            "background share of each account's request budget. 0 = only on demand "
            "(POST /api/repair).", minimum=0, maximum=30 * 1440),
    Setting("repair.auto_repair", "bool", False,
            "Carry out what a periodic scan plans (re-add what the provider lost, hand the "
            "rest back to its Arr). Off: the plan waits as a pending job for "
            "POST /api/repair/jobs/{id}/process."),
    Setting("repair.max_broken_fraction", "float", 0.5,
            "Health gate: when more than this share of the torrents checked in one run look "
            "broken (and more than one), the run acts on nothing and raises an alert: that is "
            "the mount, the network or the provider, not the library.", minimum=0.0,
            maximum=1.0),
    Setting("repair.max_attempts", "int", 3,
            "Repairs tried per info-hash before repair gives up on it (so nothing loops).",
            minimum=1, maximum=100),
    Setting("repair.retry_minutes", "float", 60.0,
            "Wait after a failed repair before the next attempt; it doubles after each.",
            minimum=0, maximum=30 * 1440),
    Setting("repair.skip_streamed_minutes", "float", 10.0,
            "A torrent streamed this recently is left alone (someone is watching it).",
            minimum=0, maximum=1440),
    Setting("repair.link_checks_per_run", "int", 100,
            "How many torrents get a file's first byte read through its link per run (the "
            "least recently checked first).", minimum=0, maximum=1_000_000),
    Setting("repair.readd_wait_seconds", "float", 15.0,
            "How long a re-added copy may take to be ready. Repair only takes a cached "
            "copy: one that would download is deleted again and the next account tried.",
            minimum=1, maximum=600),
    Setting("qbit.register_arrs", "bool", False,
            "Auto-registration: a qBit login whose user name is an Arr's URL and whose "
            "password is its API key is checked against that Arr (its status call) and "
            "registers it for the categories it adds into, so failures reach it. The key is "
            "kept in the database, never in a cookie or a log."),
    Setting("qbit.persona", "choice", "4.6.7",
            "Which qBittorrent version Debridge presents (version strings, state names).",
            choices=PERSONAS),
    Setting("qbit.add_wait_seconds", "float", 5.0,
            "How long torrents/add waits for the provider's verdict, so a refused release "
            "reaches the Arr as 'Fails.' and it tries another. Slower verdicts continue in the "
            "background.", minimum=0, maximum=60),
    Setting("qbit.csrf_protection", "bool", True,
            "Refuse (401) requests whose Origin or Referer names another site, as "
            "qBittorrent does. Arr apps send neither header.", live=True),
    Setting("qbit.host_header_validation", "bool", True,
            "Refuse requests (on every surface: the qBittorrent API answers 401, the others "
            "400) whose Host header names another port than server.port or a host outside "
            "qbit.domain_list, as qBittorrent does; this stops web pages from reaching "
            "Debridge through a DNS-rebinding name. Turn off behind a port mapping that "
            "changes the port."),
    Setting("qbit.domain_list", "str", "",
            "Host names accepted in the Host header, ';'-separated, '*' wildcards "
            "(qBittorrent's web_ui_domain_list; '*' accepts any). IP addresses and "
            "localhost are always accepted. Empty: names without a dot (a container or "
            "computer name), names ending in .local, .lan, .home, .internal, .localdomain, "
            ".home.arpa, .localhost, .intranet or .private, and this machine's own names; "
            "list any other name you reach Debridge by (e.g. 'nas.fritz.box;*.ts.net')."),
    Setting("qbit.allow_shutdown", "bool", False,
            "Let app/shutdown stop Debridge. Off: it answers 403, so a client cannot stop "
            "the service by accident.", live=True),
    Setting("webdav.auth", "choice", "basic",
            "WebDAV (/webdav/) authentication: 'basic' asks for auth.username and its password "
            "(or any user name and the API key); 'none' lets anyone who can reach the port "
            "read the library.", choices=("basic", "none")),
    Setting("webdav.upstream_timeout_seconds", "float", 30.0,
            "How long a WebDAV or browse read waits for the provider's link and the CDN's "
            "first byte (and for each later byte) before it answers 502.",
            minimum=1, maximum=600),
    Setting("sandbox.port", "int", 0,
            "Port of the built-in sandbox provider. 0 = a free loopback port chosen at the "
            "first start and kept in server.data_dir for the next ones, so the direct links "
            "it handed out stay valid across restarts, as a real provider's do.",
            minimum=0, maximum=65535),
    Setting("sandbox.download_seconds", "float", 30.0,
            "How long an [uncached] sandbox torrent takes to download.", minimum=0, maximum=86400),
    Setting("sandbox.link_lifetime_seconds", "float", 86400.0,
            "Lifetime of the sandbox's direct download links.", minimum=1, maximum=30 * 86400),
)

PROVIDER_SETTINGS: tuple[Setting, ...] = (
    Setting("name", "str", "", "A short unique name for this provider account.",
            check=_provider_name),
    Setting("type", "str", "sandbox",
            "The provider: realdebrid, alldebrid, torbox, debridlink or premiumize; or a "
            "built-in stand-in that speaks one of their APIs: sandbox (Real-Debrid's), "
            "sandbox-alldebrid, sandbox-torbox, sandbox-debridlink, sandbox-premiumize.",
            check=_provider_type),
    Setting("api_key", "str", "",
            "The account's API key (where to get it: see Providers). Required for every "
            "real provider.", secret=True),
    Setting("base_url", "str", "",
            "Override the provider's API root (e.g. http://127.0.0.1:9000/rest/1.0 for a "
            "standalone sandbox). Empty = the provider's real API (or, for sandbox, start "
            "the built-in one).", check=_url_or_empty),
    Setting("timeout_seconds", "float", 30.0, "Timeout of one provider API call.",
            minimum=0.1, maximum=600),
    Setting("rate_limit_per_minute", "int", 0,
            "The account's API request budget, shared by every thread and worker process. "
            "Debridge never sends more than this many requests in any minute (a tenth of it "
            "may go in a burst). 0 = the provider's published limit (Real-Debrid 250, "
            "AllDebrid 600, TorBox 300, Debrid-Link and Premiumize 250 as their clients use; "
            "the sandboxes 6000).", minimum=0, maximum=1_000_000),
    Setting("download_uncached", "bool", True,
            "Let the provider download releases it does not have cached. Off: an uncached add "
            "is refused at once ('Fails.', so the Arr tries another release) and removed from "
            "the provider. downloads.cached_only_categories and "
            "downloads.uncached_categories override this per category."),
    Setting("keep_on_delete", "bool", False,
            "Keep the provider's torrent when a client deletes the torrent with its files "
            "(it stays in the library). Off: the provider's torrent is deleted too, unless "
            "another library entry still uses it."),
    Setting("download_api_keys", "list", [],
            "API tokens of further accounts used only to resolve download links; Debridge "
            "moves to the next one when an account's traffic is exhausted, and to api_key "
            "when all are.", secret=True),
    Setting("create_limit", "int", 0,
            "Most adds in any create_window_seconds, for providers that limit adds apart "
            "from other calls (TorBox: 60 per hour). Adds beyond it wait queued (queuedDL). "
            "0 = the provider's published limit (none for the others).",
            minimum=0, maximum=1_000_000),
    Setting("create_window_seconds", "float", 0.0,
            "The window of create_limit. 0 = the provider's published one (TorBox: 3600).",
            minimum=0, maximum=30 * 86400),
    Setting("allow_renew", "bool", True,
            "Let repair re-add a torrent the provider lost, to renew it. Default on, except "
            "for TorBox (and its sandbox), whose terms forbid automatic re-adding.",
            default_from_kind=True),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
LIVE_KEYS: tuple[str, ...] = tuple(s.key for s in SETTINGS if s.live)
PROVIDER_BY_KEY: dict[str, Setting] = {s.key: s for s in PROVIDER_SETTINGS}
# With no provider configured, the built-in sandbox stands in: every other key at its default.
DEFAULT_PROVIDERS: tuple[dict[str, Any], ...] = (
    {**{s.key: s.default for s in PROVIDER_SETTINGS}, "name": "sandbox", "type": "sandbox"},
)


def default_config() -> dict[str, Any]:
    """The nested mapping `config.json` ships: every key at its default."""
    tree: dict[str, Any] = {}
    for setting in SETTINGS:
        section, name = setting.key.split(".", 1)
        default = setting.default
        tree.setdefault(section, {})[name] = list(default) if isinstance(default, list) \
            else default
    tree["providers"] = [{k: list(v) if isinstance(v, list) else v for k, v in p.items()}
                         for p in DEFAULT_PROVIDERS]
    tree["categories"] = {}     # category name -> {"providers": [account names]}
    tree["arrs"] = []           # {name, type, url, api_key, categories, mark_failed, ...}
    return tree
