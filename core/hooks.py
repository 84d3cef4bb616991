"""Completion hooks: the entries of hooks.on_complete, qBittorrent's placeholders, the calls."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.models import Torrent, TorrentFile
from core.ports.hooks import ArrCall, CommandCall, HookCall, HttpCall

# qBittorrent's "Run external program on torrent finished" placeholders, in its order.
PLACEHOLDERS: dict[str, str] = {
    "N": "torrent name", "L": "category", "G": "tags (comma-separated)",
    "F": "content path (same as root path for a multi-file torrent)",
    "R": "root path (first torrent subdirectory path)", "D": "save path",
    "C": "number of files", "Z": "torrent size (bytes)", "T": "current tracker",
    "I": "info hash v1", "J": "info hash v2 ('-': Debridge knows v1 hashes only)",
    "K": "torrent ID",
}
_PLACEHOLDER = re.compile("%([" + "".join(PLACEHOLDERS) + "])")
HOOK_TYPES = ("command", "http", "cross-seed")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FORM = "application/x-www-form-urlencoded"
CROSS_SEED_PATH = "/api/webhook"
_KEYS = {"command": {"type", "command"},
         "http": {"type", "url", "method", "headers", "body"},
         "cross-seed": {"type", "url", "api_key"}}
_URL = re.compile(r"^https?://[^\s/?#]+([/?#]\S*)?$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Header names whose values are credentials: masked wherever settings are shown.
_SENSITIVE_HEADER = re.compile(r"(?i)auth|cookie|key|token|secret|pass|session")
MASK = "***"


# What the Arrs are told rides the same outbox: the store queues these deliveries itself
# (store/migrations.py's triggers; repair queues "arr:repair").
ARR_EVENTS = ("failed", "completed", "repair")


def arr_hooks() -> tuple[Hook, ...]:
    """The outbox's built-in deliveries to the Arrs, one per event."""
    return tuple(Hook("arr", command=event, key=f"arr:{event}") for event in ARR_EVENTS)


class HookConfigError(ValueError):
    """An entry of hooks.on_complete is malformed; the message names the entry."""


@dataclass(frozen=True)
class Hook:
    """One configured completion hook. `key` names it in the outbox: a fingerprint of what
    it does, without its secrets, so a reordered list or a new API key keeps pending
    deliveries, and a removed hook's are dropped."""

    type: str
    command: str = ""
    url: str = field(default="", repr=False)
    method: str = "POST"
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    body: str = ""
    api_key: str = field(default="", repr=False)
    key: str = ""

    @property
    def label(self) -> str:
        """How logs name the hook: its type and program, or its URL without credentials."""
        if self.type == "command":
            words = shlex.split(self.command)
            return f"command {words[0].rsplit('/', 1)[-1]}"
        if self.type == "arr":
            return f"Arr notice ({self.command})"
        return f"{self.type} {safe_url(self.url)}"


def safe_url(url: str) -> str:
    """scheme://host[:port]/path: no user, password, query or fragment (they carry keys)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:              # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _fingerprint(hook: Hook) -> str:
    what = [hook.type, hook.command, hook.method, safe_url(hook.url) if hook.url else "",
            [name.lower() for name, _ in hook.headers], hook.body]
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:16]


def _text(entry: Mapping[str, Any], name: str, where: str, *, required: bool = True,
          default: str = "") -> str:
    value = entry.get(name, None if required else default)
    if not isinstance(value, str) or (required and not value.strip()):
        raise HookConfigError(f"{where}: {name!r} must be a non-empty string")
    if "\x00" in value:
        raise HookConfigError(f"{where}: {name!r} must not contain NUL")
    return value


def _url(entry: Mapping[str, Any], where: str) -> str:
    url = _text(entry, "url", where)
    if not _URL.match(url):
        raise HookConfigError(f"{where}: 'url' must be an http:// or https:// URL")
    try:       # a bad port or IPv6 literal is a ValueError of urllib's, later
        parts = urllib.parse.urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError as exc:
        raise HookConfigError(f"{where}: 'url' is not a usable URL ({exc})") from None
    if not host:
        raise HookConfigError(f"{where}: 'url' names no host")
    return url


def _headers(entry: Mapping[str, Any], where: str) -> tuple[tuple[str, str], ...]:
    raw = entry.get("headers", {})
    if not isinstance(raw, Mapping):
        raise HookConfigError(f"{where}: 'headers' must be an object of name: value")
    headers = []
    for name, value in raw.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise HookConfigError(f"{where}: {name!r} is not an HTTP header name")
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
            raise HookConfigError(f"{where}: header {name!r} must be a one-line string")
        headers.append((name, value))
    return tuple(headers)


def _hook(entry: Any, index: int) -> Hook:
    if not isinstance(entry, Mapping):
        raise HookConfigError(f"entry {index}: must be an object with a 'type'")
    kind = entry.get("type")
    if kind not in HOOK_TYPES:
        raise HookConfigError(f"entry {index}: 'type' must be one of {', '.join(HOOK_TYPES)}")
    where = f"entry {index} ({kind})"
    unknown = sorted(set(entry) - _KEYS[kind])
    if unknown:
        raise HookConfigError(f"{where}: unknown key {unknown[0]!r} (it takes "
                              f"{', '.join(sorted(_KEYS[kind]))})")
    if kind == "command":
        command = _text(entry, "command", where)
        try:
            words = shlex.split(command)
        except ValueError as exc:
            raise HookConfigError(f"{where}: 'command' cannot be split into words "
                                  f"({exc})") from None
        if not words:
            raise HookConfigError(f"{where}: 'command' names no program")
        return Hook("command", command=command)
    url = _url(entry, where)
    if kind == "cross-seed":
        if urllib.parse.urlsplit(url).query:
            raise HookConfigError(f"{where}: 'url' is cross-seed's address without a query "
                                  "(the key goes in 'api_key')")
        return Hook("cross-seed", url=url, api_key=_text(entry, "api_key", where))
    method = _text(entry, "method", where, required=False, default="POST").upper()
    if method not in METHODS:
        raise HookConfigError(f"{where}: 'method' must be one of {', '.join(METHODS)}")
    return Hook("http", url=url, method=method, headers=_headers(entry, where),
                body=_text(entry, "body", where, required=False))


def parse_hooks(entries: Sequence[Any]) -> tuple[Hook, ...]:
    """The hooks of hooks.on_complete; HookConfigError names the first bad entry. The same
    hook twice gets two keys: it runs twice, as configured."""
    hooks: list[Hook] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        hook = _hook(entry, index)
        key = _fingerprint(hook)
        seen[key] = seen.get(key, 0) + 1
        hooks.append(replace(hook, key=key if seen[key] == 1 else f"{key}-{seen[key]}"))
    return tuple(hooks)


def check_hooks(value: Any) -> str | None:
    """The settings check of hooks.on_complete: why it is invalid, or None."""
    try:
        parse_hooks(value)
    except HookConfigError as exc:
        return str(exc)
    return None


def mask_hooks(value: Any) -> Any:
    """hooks.on_complete as settings show it: API keys, credential headers and URL queries
    masked (the entries stay recognisable)."""
    if not isinstance(value, list):
        return value
    shown: list[Any] = []
    for entry in value:
        if not isinstance(entry, Mapping):
            shown.append(entry)
            continue
        copy = dict(entry)
        if copy.get("api_key"):
            copy["api_key"] = MASK
        url = copy.get("url")
        if isinstance(url, str) and ("?" in url or "@" in url):
            parts = urllib.parse.urlsplit(url)
            netloc = parts.netloc.rpartition("@")[2]
            copy["url"] = urllib.parse.urlunsplit(
                (parts.scheme, netloc, parts.path, MASK if parts.query else "", ""))
        headers = copy.get("headers")
        if isinstance(headers, Mapping):
            copy["headers"] = {k: MASK if isinstance(k, str) and _SENSITIVE_HEADER.search(k)
                               else v for k, v in headers.items()}
        shown.append(copy)
    return shown


# -- placeholders -------------------------------------------------------------------------------
def placeholders(torrent: Torrent, files: Sequence[TorrentFile]) -> dict[str, str]:
    """qBittorrent's placeholder values for a completed torrent. Debridge knows v1 info
    hashes only, so the torrent ID is the v1 hash and %J is '-', as qBittorrent gives for a
    v1 torrent."""
    content = torrent.content_path
    size = torrent.total_size if torrent.total_size >= 0 else torrent.size
    return {
        "N": torrent.name, "L": torrent.category, "G": ",".join(torrent.tags),
        "F": content, "R": content if torrent.has_root else "", "D": torrent.save_path,
        "C": str(len(files)), "Z": str(size),
        "T": torrent.trackers[0] if torrent.trackers else "",
        "I": torrent.hash, "J": "-", "K": torrent.hash,
    }


def expand(template: str, values: Mapping[str, str],
           encode: Callable[[str], str] = str) -> str:
    """The template with each placeholder replaced by its value, encoded; in one pass, so a
    value that itself holds '%N' stays as it is. Other '%' signs are kept."""
    return _PLACEHOLDER.sub(lambda m: encode(values.get(m.group(1), "")), template)


def _url_part(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _json_string(value: str) -> str:
    return json.dumps(value)[1:-1]


def _form_value(value: str) -> str:
    return urllib.parse.quote_plus(value, safe="")


def _one_line(value: str) -> str:
    return re.sub(r"[\r\n\x00]", " ", value)


def body_encoder(headers: Sequence[tuple[str, str]]) -> Callable[[str], str]:
    """How placeholder values go into a body, by its Content-Type: URL-encoded in a form,
    JSON-escaped (inside the template's quotes) in JSON, as they are otherwise."""
    kind = next((v for k, v in headers if k.lower() == "content-type"), "")
    kind = kind.split(";")[0].strip().lower()
    if kind == FORM:
        return _form_value
    if kind == "application/json" or kind.endswith("+json"):
        return _json_string
    return str


def cross_seed_url(base: str) -> str:
    """cross-seed's webhook under the address given (which may already name it)."""
    base = base.rstrip("/")
    return base if base.endswith(CROSS_SEED_PATH) else base + CROSS_SEED_PATH


def call_for(hook: Hook, values: Mapping[str, str]) -> HookCall:
    """What delivering `hook` for a torrent with these placeholder values means. A command
    is split into words first and each word expanded, so a value with spaces or quotes stays
    one argument and nothing reaches a shell."""
    if hook.type == "command":
        return CommandCall(tuple(expand(word, values) for word in shlex.split(hook.command)))
    if hook.type == "arr":
        return ArrCall(hook.command, dict(values))
    if hook.type == "cross-seed":
        # cross-seed's schema is strict: exactly infoHash (40 hex), nothing else
        body = urllib.parse.urlencode({"infoHash": values["I"].lower()}).encode()
        return HttpCall("POST", cross_seed_url(hook.url),
                        (("Content-Type", FORM), ("X-Api-Key", hook.api_key)), body)
    headers = tuple((name, _one_line(expand(value, values))) for name, value in hook.headers)
    body_text = expand(hook.body, values, body_encoder(hook.headers))
    return HttpCall(hook.method, expand(hook.url, values, _url_part), headers,
                    body_text.encode())
