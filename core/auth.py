"""Credentials and qBittorrent sessions: password hashes, session ids, failed-login bans."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass

from werkzeug.security import check_password_hash, generate_password_hash

from core.errors import LoginBanned
from core.ports import Store

log = logging.getLogger(__name__)
PASSWORD_META_KEY = "auth.password_hash"  # noqa: S105 (a table key)
API_KEY_META_KEY = "auth.api_key_hash"
VERIFIED_TTL_SECONDS = 300.0   # a checked Basic password is trusted this long (hashing is slow)
HASH_PREFIXES = ("scrypt:", "pbkdf2:")
SID_ALPHABET = string.ascii_letters + string.digits
TOUCH_EVERY_SECONDS = 30.0


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def is_password_hash(value: str) -> bool:
    return value.startswith(HASH_PREFIXES)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def resolve_password_hash(store: Store, configured: str) -> tuple[str, str | None]:
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


def reset_generated_password(store: Store) -> str:
    password = generate_password()
    store.set_meta(PASSWORD_META_KEY, hash_password(password))
    return password


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def generate_api_key() -> str:
    return secrets.token_hex(24)


def reset_api_key(store: Store) -> str:
    """A new API key (only its digest is stored); the previous one stops working."""
    key = generate_api_key()
    store.set_meta(API_KEY_META_KEY, _digest(key))
    return key


def ensure_api_key(store: Store, configured: str) -> str | None:
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

    def __init__(self, store: Store, policy: AuthPolicy,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self._verified: dict[str, float] = {}   # digest of user:password -> checked at

    def api_key_valid(self, key: str) -> bool:
        """The bearer token / API key, compared in constant time (by digest)."""
        if not key or len(key) > 256:
            return False
        expected = _digest(self.policy.api_key) if self.policy.api_key \
            else self.store.get_meta(API_KEY_META_KEY) or ""
        return bool(expected) and hmac.compare_digest(_digest(key), expected)

    def token_valid(self, key: str, ip: str) -> bool:
        """A presented API key (bearer token), under the failed-login ban: a wrong one counts
        as a failed login, so a configured key cannot be guessed at speed."""
        if self.is_banned(ip):
            raise LoginBanned(ip)
        if self.api_key_valid(key):
            return True
        self._record_failure(ip)
        return False

    def credentials_valid(self, username: str, password: str, ip: str) -> bool:
        """Basic authentication with the login credentials (or any user name and the API
        key), under the same failed-login ban as logins; raises LoginBanned while banned."""
        if self.is_banned(ip):
            raise LoginBanned(ip)
        if self.api_key_valid(password):
            return True
        token = _digest(f"{username}\0{password}")
        now = self.clock()
        if now - self._verified.get(token, -VERIFIED_TTL_SECONDS) < VERIFIED_TTL_SECONDS:
            return True
        if not self._password_ok(username, password):
            self._record_failure(ip)
            return False
        if len(self._verified) > 1000:
            self._verified.clear()
        self._verified[token] = now
        return True

    def _password_ok(self, username: str, password: str) -> bool:
        user_ok = hmac.compare_digest(username.encode("utf-8", "surrogatepass"),
                                      self.policy.username.encode("utf-8"))
        # An empty policy hash means the generated password, whose hash lives in the store
        # (so `reset-password` takes effect without a restart).
        stored = self.policy.password_hash or self.store.get_meta(PASSWORD_META_KEY) or ""
        password_ok = bool(stored) and check_password_hash(stored, password)
        return user_ok and password_ok

    def _record_failure(self, ip: str) -> None:
        if self.store.record_login_failure(ip, self.clock(), self.policy.max_failed_logins,
                                           self.policy.ban_seconds):
            log.warning("address %s banned for %d s after %d failed logins", ip,
                        self.policy.ban_seconds, self.policy.max_failed_logins)
        else:
            log.info("failed login from %s", ip)

    def is_banned(self, ip: str) -> bool:
        return self.store.banned_until(ip) > self.clock()

    def login(self, username: str, password: str, ip: str) -> str | None:
        """A new session id, or None for wrong credentials; LoginBanned while banned."""
        if self.is_banned(ip):
            raise LoginBanned(ip)
        if not self._password_ok(username, password):
            self._record_failure(ip)
            return None
        self.store.clear_login_failures(ip)
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

    def logout(self, sid: str) -> None:
        if sid:
            self.store.delete_session(_sid_hash(sid))
