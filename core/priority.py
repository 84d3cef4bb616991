"""Which provider calls go first: interactive work (adds, streams) before background work."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class Priority(enum.IntEnum):
    """Lower goes first."""

    INTERACTIVE = 0     # a client waits: adds, link resolution for a stream or a placement
    BACKGROUND = 1      # polling, library sync, repair, slot checks


_current: ContextVar[Priority] = ContextVar("debridge_priority", default=Priority.BACKGROUND)


def current_priority() -> Priority:
    return _current.get()


@contextmanager
def work_priority(priority: Priority) -> Iterator[None]:
    """Provider calls made inside this block (in this thread) use `priority`."""
    token = _current.set(priority)
    try:
        yield
    finally:
        _current.reset(token)
