"""What the completion hooks need from the outside: something that runs a program, sends an
HTTP request or tells the Arrs, once, within a timeout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class CommandCall:
    """Run a program with these arguments (no shell: each argument is passed as it is)."""

    argv: tuple[str, ...]


@dataclass(frozen=True)
class HttpCall:
    """Send one HTTP request. The URL and headers may carry secrets: never log them (the
    repr hides them)."""

    method: str
    url: str = field(repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    body: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class ArrCall:
    """Tell the Arrs of a category about a torrent: `event` is failed, completed or repair;
    `context` what the store recorded with it (hash, category, name, reason, message...)."""

    event: str
    context: dict[str, str]


HookCall = CommandCall | HttpCall | ArrCall


class HookFailed(Exception):
    """A delivery did not succeed. The message says why in words safe to log (a status, an
    exit code, a timeout), never a URL, header or secret."""


class HookSkipped(Exception):
    """There is nothing to deliver (no Arr owns the category; the Arr has no grab of it):
    the delivery is dropped, with this reason."""


class HookSender(Protocol):
    """Delivers one hook call (implemented by hooks.HookRunner)."""

    def send(self, call: HookCall, timeout: float) -> None:
        """Deliver `call` once: a program that exits 0, an HTTP answer 2xx, within `timeout`
        seconds; anything else raises HookFailed."""
        ...
