"""The provider adapters' base: one error hierarchy, the shared HTTP client and defaults.

To add a provider, write a module with a class implementing core.ports.DebridProvider over
HttpClient (ProviderBase supplies the optional parts), map that provider's error codes onto
the classes below, and add one line for its type to debrid/registry.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from core.errors import ProviderError, ProviderErrorKind
from core.ports import BudgetState, BudgetStore, Capabilities
from debrid.budget import RequestBudget

log = logging.getLogger(__name__)
K = ProviderErrorKind


class DebridError(ProviderError):
    """Base of every provider error raised by the adapters in this package."""


class AuthError(DebridError):
    kind = K.AUTH


class PremiumRequired(AuthError):
    kind = K.PREMIUM_REQUIRED


class RateLimited(DebridError):
    kind = K.RATE_LIMITED
    retryable = True


class SlotsFull(DebridError):
    kind = K.SLOTS_FULL
    retryable = True


class QuotaExceeded(DebridError):
    kind = K.QUOTA
    retryable = True


class NotFound(DebridError):
    kind = K.NOT_FOUND


class NotCached(DebridError):
    kind = K.NOT_CACHED


class Blocked(DebridError):
    """Refused for good (infringing / file not allowed)."""

    kind = K.BLOCKED


class InvalidTorrent(DebridError):
    kind = K.INVALID


class LinkUnavailable(DebridError):
    kind = K.LINK_UNAVAILABLE


class ServiceUnavailable(DebridError):
    kind = K.UNAVAILABLE
    retryable = True


class ProviderTimeout(ServiceUnavailable):
    """No answer in time: the request may or may not have taken effect."""


class Unsupported(DebridError):
    kind = K.UNSUPPORTED


class ProtocolError(DebridError):
    """An answer that does not match the provider's documented API."""

    kind = K.PROTOCOL


ErrorMapper = Callable[[requests.Response], DebridError]


class HttpClient:
    """requests.Session with a base URL, a bearer token, timeouts, the account's request
    budget and careful retries.

    Every attempt takes a token from the budget first; a 429 blocks the whole budget.
    Retries (tenacity) happen only on transient errors (429, 5xx, timeouts), never on
    refusals. A request that is not idempotent (an add) is retried only when it certainly
    did not take effect: a 429 refusal or a connection that could not be made. Timeouts and
    5xx after sending are raised as ambiguous for the engine to reconcile.
    """

    def __init__(self, *, provider: str, base_url: str, token: str, timeout: float,
                 map_error: ErrorMapper, attempts: int = 3, max_wait: float = 8.0,
                 session: requests.Session | None = None,
                 budget: RequestBudget | None = None, account: str = "") -> None:
        self.provider = provider
        self.account = account or provider      # which account's token (for logs: no secret)
        self.base_url = base_url.rstrip("/")
        self.timeout = (min(10.0, timeout), timeout)
        self.map_error = map_error
        self.attempts = attempts
        self.max_wait = max_wait
        self._backoff = wait_exponential_jitter(multiplier=0.5, max=max_wait)
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": "Debridge"}
        self._shared = session
        self._local = threading.local()
        self.budget = budget

    @property
    def session(self) -> requests.Session:
        """One requests.Session per thread (Session is not documented as thread-safe)."""
        session = self._shared or getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        session.headers.update(self._headers)
        return session

    def request(self, method: str, path: str, *, idempotent: bool,
                **kwargs: Any) -> requests.Response:
        def retryable(exc: BaseException) -> bool:
            return (isinstance(exc, RateLimited | ServiceUnavailable)
                    and (idempotent or not exc.ambiguous))

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimited) and self.budget is not None:
                return 0.0                  # the budget's block paces the next attempt
            base = self._backoff(state)
            after = getattr(exc, "retry_after", None) or 0.0
            return max(base, min(after, self.max_wait))

        retrying = Retrying(retry=retry_if_exception(retryable), wait=wait,
                            stop=stop_after_attempt(self.attempts), reraise=True)
        return retrying(self._once, method, path, idempotent, kwargs)

    def _once(self, method: str, path: str, idempotent: bool,
              kwargs: dict[str, Any]) -> requests.Response:
        url = f"{self.base_url}/{path.lstrip('/')}"
        if self.budget is not None:
            self.budget.acquire()
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectionError as exc:
            if isinstance(exc, requests.ConnectTimeout) or _never_sent(exc):
                raise ServiceUnavailable(f"cannot connect to {self.provider}",
                                         provider=self.provider) from None
            raise ProviderTimeout(f"connection to {self.provider} failed during {method} "
                                  f"{path.split('?')[0]}", provider=self.provider,
                                  ambiguous=not idempotent) from None
        except requests.Timeout:
            raise ProviderTimeout(f"{self.provider} did not answer {method} "
                                  f"{path.split('?')[0]} in time", provider=self.provider,
                                  ambiguous=not idempotent) from None
        except requests.RequestException as exc:
            raise ServiceUnavailable(f"request to {self.provider} failed: "
                                     f"{type(exc).__name__}", provider=self.provider) from None
        if response.status_code >= 400:
            error = self.map_error(response)
            if error.http_status is None:
                error.http_status = response.status_code
            error.provider = self.provider
            if error.retry_after is None:
                error.retry_after = _retry_after(response)
            # A 5xx that is not the provider's own refusal (a proxy's page, a crash) may have
            # come after the add took effect; a coded refusal (slots full, maintenance) not.
            if response.status_code >= 500 and not idempotent and \
                    (error.native_code is None or isinstance(error, ProtocolError)):
                error.ambiguous = True
            log.info("provider %s: %s %s -> HTTP %d %s", self.provider, method,
                     path.split("?")[0], response.status_code, error.message)
            if isinstance(error, RateLimited) and self.budget is not None:
                self.budget.rate_limited(error.retry_after)
            raise error
        if self.budget is not None:
            self.budget.succeeded()
        return response


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds (an HTTP date is rare from APIs; it counts as absent)."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 < seconds <= 3600 else None


def _never_sent(exc: requests.ConnectionError) -> bool:
    """A refused connection never reached the server, so retrying cannot duplicate it."""
    text = str(exc)
    return "Connection refused" in text or "Name or service not known" in text


@dataclass(frozen=True)
class ClientConfig:
    """What every provider client is built from (debrid/registry.py fills it from the
    account's settings and its type's declaration)."""

    name: str                                # the account's name (providers[].name)
    api_key: str
    base_url: str = ""                       # "" = the provider's real API root
    timeout: float = 30.0
    per_minute: int = 0                      # request budget; 0 = no budget
    create_limit: tuple[int, float] | None = None   # (adds, seconds), None = no limit
    store: BudgetStore | None = None
    download_api_keys: tuple[str, ...] = ()
    service: str = ""                        # who answers, in messages ("TorBox")
    attempts: int = 3
    session: requests.Session | None = None


class ProviderBase:
    """Defaults of the optional DebridProvider parts, and the budgets every client keeps:
    `http` (the main key), `link_clients` (download keys) and the add limit."""

    name: str
    capabilities: Capabilities
    http: HttpClient
    link_clients: Sequence[HttpClient] = ()
    add_limit: RequestBudget | None = None

    def client(self, config: ClientConfig, token: str, account: str, map_error: ErrorMapper,
               default_root: str) -> HttpClient:
        """An HttpClient for one key of this account, with its own request budget."""
        budget = RequestBudget(config.store, account, config.per_minute) \
            if config.store is not None and config.per_minute > 0 else None
        return HttpClient(provider=config.name, base_url=config.base_url or default_root,
                          token=token, timeout=config.timeout, map_error=map_error,
                          attempts=config.attempts, session=config.session, budget=budget,
                          account=account)

    def limit_adds(self, config: ClientConfig) -> None:
        """Count adds against the provider's create limit, in the store (every worker)."""
        if config.create_limit is not None and config.store is not None:
            count, seconds = config.create_limit
            self.add_limit = RequestBudget(config.store, f"{config.name}/adds", count,
                                           window=seconds)

    def add_wait(self) -> float:
        return 0.0 if self.add_limit is None else self.add_limit.try_acquire()

    def check_cached(self, hashes: Sequence[str]) -> dict[str, bool]:
        raise Unsupported(f"{self.name} has no cache check", provider=self.name)

    def active_count(self) -> tuple[int, int]:
        raise Unsupported(f"{self.name} does not report its active downloads",
                          provider=self.name)

    def select_files(self, torrent_id: str, file_ids: Sequence[str]) -> None:
        """Providers without file selection download everything: nothing to send."""

    def budgets(self) -> list[BudgetState]:
        """The request budget of the main key, of each download key, and the add limit."""
        clients = [self.http, *self.link_clients]
        states = [c.budget.state() for c in clients if c.budget is not None]
        if self.add_limit is not None:
            states.append(self.add_limit.state())
        return states
