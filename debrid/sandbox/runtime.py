"""The live parts of one sandbox (options, state, faults, limiter, log) that routes reach."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, request

from .dialects import Dialect
from .faults import FaultRules, RateLimiter
from .options import SandboxOptions
from .requestlog import RequestLog
from .state import State


@dataclass
class Sandbox:
    options: SandboxOptions
    state: State
    dialect: Dialect
    faults: FaultRules = field(default_factory=FaultRules)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    requests: RequestLog = field(default_factory=RequestLog)
    # a dialect's own in-memory state (TorBox's list cache, create counts); reset clears it
    scratch: dict[str, Any] = field(default_factory=dict)


def current() -> Sandbox:
    """The sandbox serving the current request."""
    sandbox: Sandbox = current_app.extensions["sandbox"]
    return sandbox


def origin() -> str:
    """Scheme, host and port the client used; links are built on it so they stay reachable."""
    return request.host_url.rstrip("/")


def bearer_token() -> str:
    """The request's token: `Authorization: Bearer`, or `auth_token` as Real-Debrid allows."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.args.get("auth_token", "").strip()
