"""Credentials and qBittorrent sessions: password hashes, session ids, failed-login bans."""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import math
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass

from werkzeug.security import check_password_hash, generate_password_hash

from core.errors import LoginBanned
from core.ports import AuthStore, MetaStore

log = logging.getLogger(__name__)
PASSWORD_META_KEY = "auth.password_hash"  # noqa: S105 (a table key)
API_KEY_META_KEY = "auth.api_key_hash"
CREDENTIALS_META_KEY = "auth.credentials"    # what the live sessions were logged in against
VERIFIED_TTL_SECONDS = 300.0   # a checked Basic password is trusted this long (hashing is slow)
HASH_PREFIXES = ("scrypt:", "pbkdf2:")
SID_ALPHABET = string.ascii_letters + string.digits
TOUCH_EVERY_SECONDS = 30.0


class Surface(enum.StrEnum):
    """Where credentials are presented; failed attempts are counted (and bans kept) per
    surface and address, so a stale client of one surface does not lock out another."""

    QBIT = "qbit"          # /api/v2 logins (the Arr apps)
    WEBDAV = "webdav"      # /webdav/ Basic authentication (rclone, media servers)
    API = "api"            # /api keys and Basic authentication (scripts)


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def is_password_hash(value: str) -> bool:
    return value.startswith(HASH_PREFIXES)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def resolve_password_hash(store: MetaStore, configured: str) -> tuple[str, str | None]:
    """The hash to check logins against ("" = the stored generated one), and a newly
    generated password to print once (else None).

    An empty `auth.password` means: generate one at first start and store only its hash.
    """
    if configured:
        return (configured if is_password_hash(configured) else hash_password(configured)), None
    if store.get_meta(PASSWORD_META_KEY):
        return "", None
    password = generate_password()
    if store.set_meta_if_absent(PASSWORD_META_KEY, hash_password(password)):
        return "", password
    return "", None   # another process generated it first


def reset_generated_password(store: AuthStore) -> str:
    """A new generated password; the old one and every session made with it stop working
    at once (in every process: the hash and the sessions live in the store)."""
    password = generate_password()
    store.set_meta(PASSWORD_META_KEY, hash_password(password))
    store.purge_sessions(math.inf)
    return password


def forget_sessions_if_credentials_changed(store: AuthStore, username: str,
                                           configured_password: str) -> bool:
    """At start: when the login or the configured password differs from the one the stored
    sessions were made with, end them all (a changed password locks out the old one's
    sessions too). True when sessions were ended."""
    current = _digest(f"{username}\0{configured_password}")
    if store.get_meta(CREDENTIALS_META_KEY) == current:
        return False
    store.set_meta(CREDENTIALS_META_KEY, current)
    return store.purge_sessions(math.inf) > 0


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def generate_api_key() -> str:
    return secrets.token_hex(24)


def reset_api_key(store: AuthStore) -> str:
    """A new API key (only its digest is stored); the previous one stops working at once,
    and so do the sessions logged in before (a leaked secret rotated ends them all)."""
    key = generate_api_key()
    store.set_meta(API_KEY_META_KEY, _digest(key))
    store.purge_sessions(math.inf)
    return key


def ensure_api_key(store: MetaStore, configured: str) -> str | None:
    """Generate an API key at first start when none is configured; returns it to print once."""
    if configured or store.get_meta(API_KEY_META_KEY):
        return None
    key = generate_api_key()
    return key if store.set_meta_if_absent(API_KEY_META_KEY, _digest(key)) else None


def _sid_hash(sid: str) -> str:
    return _digest(sid)


@dataclass(frozen=True)
class AuthPolicy:
    username: str
    password_hash: str
    session_timeout: float
    max_failed_logins: int
    ban_seconds: float
    api_key: str = ""          # configured key ("" = the stored generated one)


class Authenticator:
    """qBittorrent-style logins: sessions live in the store (as hashes), bans per address."""

    def __init__(self, store: AuthStore, policy: AuthPolicy,
                 clock: Callable[[], float] = time.time,
                 arr_login: Callable[[str, str], bool] | None = None) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        # qBit logins of Arrs that register themselves (their URL and API key), when on
        self.arr_login = arr_login
        self._verified: dict[str, float] = {}   # digest of user:password -> checked at

    def api_key_valid(self, key: str) -> bool:
        """The bearer token / API key, compared in constant time (by digest)."""
        if not key or len(key) > 256:
            return False
        expected = _digest(self.policy.api_key) if self.policy.api_key \
            else self.store.get_meta(API_KEY_META_KEY) or ""
        return bool(expected) and hmac.compare_digest(_digest(key), expected)

    def rotate_api_key(self) -> str:
        """A new generated API key (see reset_api_key)."""
        key = reset_api_key(self.store)
        log.info("the API key was replaced; the old one is refused from now on")
        return key

    def token_valid(self, key: str, ip: str, surface: Surface = Surface.API) -> bool:
        """A presented API key (bearer token), under the failed-login ban: a wrong one counts
        as a failed login, so a configured key cannot be guessed at speed."""
        self._check_ban(ip, surface)
        if self.api_key_valid(key):
            return True
        self._record_failure(ip, surface)
        return False

    def credentials_valid(self, username: str, password: str, ip: str,
                          surface: Surface) -> bool:
        """Basic authentication with the login credentials (or any user name and the API
        key), under the same failed-login ban as logins; raises LoginBanned while banned."""
        self._check_ban(ip, surface)
        if self.api_key_valid(password):
            return True
        stored = self._password_hash()
        # The cache is keyed by the current hash too: after reset-password the old
        # password is checked (and refused) again at once, in every process.
        token = _digest(f"{stored}\0{username}\0{password}")
        now = self.clock()
        if now - self._verified.get(token, -VERIFIED_TTL_SECONDS) < VERIFIED_TTL_SECONDS:
            return True
        if not self._password_ok(username, password, stored):
            self._record_failure(ip, surface)
            return False
        if len(self._verified) > 1000:
            self._verified.clear()
        self._verified[token] = now
        return True

    def _password_hash(self) -> str:
        # An empty policy hash means the generated password, whose hash lives in the store
        # (so `reset-password` takes effect without a restart).
        return self.policy.password_hash or self.store.get_meta(PASSWORD_META_KEY) or ""

    def _password_ok(self, username: str, password: str, stored: str) -> bool:
        user_ok = hmac.compare_digest(username.encode("utf-8", "surrogatepass"),
                                      self.policy.username.encode("utf-8"))
        password_ok = bool(stored) and check_password_hash(stored, password)
        return user_ok and password_ok

    def _record_failure(self, ip: str, surface: Surface) -> None:
        if self.store.record_login_failure(ip, surface.value, self.clock(),
                                           self.policy.max_failed_logins,
                                           self.policy.ban_seconds):
            log.warning("address %s banned from %s for %d s after %d failed logins (lift it "
                        "with `python app.py unban %s`)", ip, surface.value,
                        self.policy.ban_seconds, self.policy.max_failed_logins, ip)
        else:
            log.info("failed login from %s (%s)", ip, surface.value)

    def _check_ban(self, ip: str, surface: Surface) -> None:
        until = self.store.banned_until(ip, surface.value)
        if until > self.clock():
            raise LoginBanned(ip, surface.value, until)

    def login(self, username: str, password: str, ip: str) -> str | None:
        """A new session id, or None for wrong credentials; LoginBanned while banned."""
        self._check_ban(ip, Surface.QBIT)
        if not self._password_ok(username, password, self._password_hash()) and not (
                self.arr_login is not None and self.arr_login(username, password)):
            self._record_failure(ip, Surface.QBIT)
            return None
        self.store.clear_login_failures(ip, Surface.QBIT.value)
        now = self.clock()
        self.store.purge_sessions(now - self.policy.session_timeout)
        self.store.purge_login_failures(now - self.policy.ban_seconds)
        sid = "".join(secrets.choice(SID_ALPHABET) for _ in range(32))
        self.store.create_session(_sid_hash(sid), username, self.clock())
        return sid

    def session_valid(self, sid: str) -> bool:
        """True for a live session (and keeps it alive); expired ones are removed."""
        if not sid or len(sid) > 256:
            return False
        key = _sid_hash(sid)
        last_seen = self.store.session_last_seen(key)
        if last_seen is None:
            return False
        now = self.clock()
        if now - last_seen > self.policy.session_timeout:
            self.store.delete_session(key)
            return False
        if now - last_seen > min(TOUCH_EVERY_SECONDS, self.policy.session_timeout / 4):
            self.store.touch_session(key, now)
        return True

    def session_user(self, sid: str) -> str | None:
        """Who logged in with this session (for an Arr that registered itself: its URL)."""
        return self.store.session_username(_sid_hash(sid)) if sid and len(sid) <= 256 else None

    def logout(self, sid: str) -> None:
        if sid:
            self.store.delete_session(_sid_hash(sid))
