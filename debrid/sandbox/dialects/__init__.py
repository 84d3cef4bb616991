"""Sandbox dialects: one provider API each over the shared state, CDN and admin API.

A dialect is a blueprint plus how that provider authenticates, refuses and envelopes its
errors. Adding one is a module exposing DIALECT and one line in _MODULES.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Response


@dataclass(frozen=True)
class Dialect:
    """`prefix`: where the blueprint is mounted; `api_paths`: the path prefixes that are API
    calls (rate limited, authenticated, logged); `base_path`: what a client's base_url adds
    to the origin. `token()` reads the request's credential; `unauthorized()`,
    `rate_limited()` and `http_error(status)` answer in this provider's envelope."""

    name: str
    label: str
    blueprint: Blueprint
    prefix: str
    api_paths: tuple[str, ...]
    base_path: str
    token: Callable[[], str]
    unauthorized: Callable[[], Response]
    rate_limited: Callable[[], Response]
    http_error: Callable[[int], Response]
    public_endpoints: frozenset[str] = frozenset()


class DialectError(Exception):
    """An error a route raises; the app answers `response()` (the dialect's envelope)."""

    def response(self) -> Response:
        raise NotImplementedError


_MODULES = {
    "realdebrid": "debrid.sandbox.dialects.realdebrid",
    "alldebrid": "debrid.sandbox.dialects.alldebrid",
    "torbox": "debrid.sandbox.dialects.torbox",
    "premiumize": "debrid.sandbox.dialects.premiumize",
    "debridlink": "debrid.sandbox.dialects.debridlink",
}


def names() -> tuple[str, ...]:
    return tuple(_MODULES)


def dialect(name: str) -> Dialect:
    """The dialect called `name` (ValueError if none)."""
    module = _MODULES.get(name)
    if module is None:
        raise ValueError(f"unknown sandbox dialect {name!r} (one of {', '.join(_MODULES)})")
    found: Dialect = importlib.import_module(module).DIALECT
    return found
