"""Fault injection rules and Real-Debrid's per-token rate limit, checked before every request."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask import Response
from werkzeug.http import HTTP_STATUS_CODES

from .errors import error_response

FAULT_KINDS = ("status", "timeout", "malformed", "cut")
_MALFORMED_BODY = '{"id": "SANDBOX", "uri": '  # cut short: valid JSON never ends like this


@dataclass(frozen=True)
class FaultRule:
    """One scripted misbehaviour for requests whose path matches `route` (a regex)."""

    id: int
    route: str
    method: str | None
    kind: str
    status: int
    error_code: int | None
    html: bool
    probability: float
    count: int | None  # firings left; None = forever
    delay: float
    after_bytes: int = 0  # "cut": the CDN drops the connection after this many body bytes
    body: Any = None  # "status": this body instead (a string as text, anything else as JSON)
    headers: tuple[tuple[str, str], ...] = ()  # extra headers on the faulted answer

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "route": self.route,
            "method": self.method,
            "kind": self.kind,
            "status": self.status,
            "error_code": self.error_code,
            "html": self.html,
            "probability": self.probability,
            "count": self.count,
            "delay": self.delay,
            "after_bytes": self.after_bytes,
            "body": self.body,
            "headers": dict(self.headers),
        }


def _number(payload: Mapping[str, Any], key: str, default: float) -> float:
    value = payload.get(key, default)
    # Bounded (and NaN refused) so a typo cannot park a server thread for days.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
        raise ValueError(f"{key!r} must be a number from 0 to 3600")
    return float(value)


def rule_from_json(payload: Mapping[str, Any], rule_id: int) -> FaultRule:
    """Validate an admin fault body; ValueError names the bad field."""
    route = payload.get("route")
    if not isinstance(route, str):
        raise ValueError("'route' must be a regular expression string")
    try:
        re.compile(route)
    except re.error as exc:
        raise ValueError(f"'route' is not a valid regular expression: {exc}") from exc
    kind = payload.get("kind", "status")
    if kind not in FAULT_KINDS:
        raise ValueError(f"'kind' must be one of {', '.join(FAULT_KINDS)}")
    method = payload.get("method")
    if method is not None and not isinstance(method, str):
        raise ValueError("'method' must be a string")
    status = payload.get("status", 200 if kind == "malformed" else 503)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError("'status' must be an HTTP status code")
    error_code = payload.get("error_code")
    if error_code is not None and (isinstance(error_code, bool) or not isinstance(error_code, int)):
        raise ValueError("'error_code' must be an integer")
    count = payload.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError("'count' must be a positive integer")
    after_bytes = payload.get("after_bytes", 0)
    if isinstance(after_bytes, bool) or not isinstance(after_bytes, int) or after_bytes < 0:
        raise ValueError("'after_bytes' must be a non-negative integer")
    headers = payload.get("headers", {})
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ValueError("'headers' must be an object of strings")
    probability = _number(payload, "probability", 1.0)
    if probability > 1:
        raise ValueError("'probability' must be between 0 and 1")
    return FaultRule(
        id=rule_id,
        route=route,
        method=method.upper() if method else None,
        kind=kind,
        status=status,
        error_code=error_code,
        html=bool(payload.get("html", False)),
        probability=probability,
        count=count,
        delay=_number(payload, "delay", 0.0),
        after_bytes=after_bytes,
        body=payload.get("body"),
        headers=tuple(headers.items()),
    )


class FaultRules:
    """The active rules, first match wins; a rule with a count disappears once spent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._next_id = 1

    def add(self, payload: Mapping[str, Any]) -> FaultRule:
        with self._lock:
            rule = rule_from_json(payload, self._next_id)
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            kept = [rule for rule in self._rules if rule.id != rule_id]
            removed = len(kept) != len(self._rules)
            self._rules = kept
        return removed

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def take(self, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request, if any, spending one of its firings."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.method is not None and rule.method != method.upper():
                    continue
                if not re.search(rule.route, path):
                    continue
                if rule.probability < 1 and random.random() >= rule.probability:
                    continue
                if rule.count is not None:
                    if rule.count <= 1:
                        del self._rules[index]
                    else:
                        self._rules[index] = replace(rule, count=rule.count - 1)
                return rule
        return None


def fault_response(rule: FaultRule) -> Response | None:
    """Act out a rule: a response to send instead of the real one, or None to go on.

    A `timeout` rule sleeps and then lets the request through, so the server-side effect still
    happens after the client gave up: the ambiguous case a client must survive. A `cut` rule
    lets it through too; the CDN then drops the connection mid-body.
    """
    if rule.delay:
        time.sleep(rule.delay)
    if rule.kind in ("timeout", "cut"):
        return None
    response = _faulted(rule)
    for name, value in rule.headers:
        response.headers[name] = value
    return response


def _faulted(rule: FaultRule) -> Response:
    if rule.kind == "malformed":
        return Response(_MALFORMED_BODY, status=rule.status, mimetype="application/json")
    if rule.html:
        reason = HTTP_STATUS_CODES.get(rule.status, "Error")
        body = f"<html><body><h1>{rule.status} {reason}</h1></body></html>"
        return Response(body, status=rule.status, mimetype="text/html")
    if isinstance(rule.body, str):
        return Response(rule.body, status=rule.status, mimetype="text/plain")
    if rule.body is not None:
        # any envelope (another dialect's, or a 200 that carries an error)
        return Response(json.dumps(rule.body), status=rule.status, mimetype="application/json")
    if rule.error_code is not None:
        return error_response(rule.status, rule.error_code)
    return Response(b"", status=rule.status)


class RateLimiter:
    """Token buckets per bearer token: capacity `limit`, refilled at limit/60 per second.

    Refused requests still take a token, down to -capacity, because on Real-Debrid refused
    calls count too: a client that keeps hammering stays blocked.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, per_minute: int) -> bool:
        if per_minute <= 0:
            return True
        now = self._clock()
        with self._lock:
            level, last = self._buckets.get(key, (float(per_minute), now))
            level = min(float(per_minute), level + (now - last) * per_minute / 60.0)
            allowed = level >= 1
            level = level - 1 if allowed else max(level - 1, -float(per_minute))
            self._buckets[key] = (level, now)
        return allowed

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
