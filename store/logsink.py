"""A logging handler that keeps recent operator messages in the store (qBittorrent's log/main).

Records are queued in memory and written by one background thread, so logging never opens
a write transaction inside another one and never waits on the database.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue

from core.redact import redact
from store.sqlite import SqliteStore

KEEP_ENTRIES = 5000
# qBittorrent's log types: 1 normal, 2 info, 4 warning, 8 critical.
TYPES = {logging.DEBUG: 1, logging.INFO: 1, logging.WARNING: 4, logging.ERROR: 8,
         logging.CRITICAL: 8}


class _StoreWriter(logging.Handler):
    def __init__(self, store: SqliteStore) -> None:
        super().__init__()
        self.store = store

    def emit(self, record: logging.LogRecord) -> None:
        try:
            kind = TYPES.get(record.levelno, 1)
            self.store.append_log([(int(record.created), kind, redact(record.getMessage()))],
                                  KEEP_ENTRIES)
        except Exception:  # a log sink must never break the caller
            self.handleError(record)


class StoreLogSink:
    """Attach to a logger; stop() flushes and detaches."""

    def __init__(self, store: SqliteStore, level: int = logging.INFO) -> None:
        self._queue: queue.Queue[logging.LogRecord] = queue.Queue()
        self.handler = logging.handlers.QueueHandler(self._queue)
        self.handler.setLevel(level)
        self._listener = logging.handlers.QueueListener(self._queue, _StoreWriter(store))
        self._listener.start()

    def stop(self) -> None:
        self._listener.stop()
