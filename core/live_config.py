"""The settings a worker runs with, and the config editor: POST /api/config's use case, and
the watch that applies another worker's change to the live keys here within a second."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from core.config_update import ConfigPlan, masked_config, parse_update, plan_update
from core.errors import ConfigFileError
from core.ports import ConfigFile, MetaStore
from core.schema import LIVE_KEYS
from core.settings import Settings, SettingsError, settings_from_mapping

log = logging.getLogger(__name__)

# Bumped in the store after each write of the config file: every worker process polls it.
GENERATION_KEY = "config-generation"
CHECK_INTERVAL = 1.0

Listener = Callable[[Settings, Sequence[str]], None]


class RunningSettings:
    """This worker's settings: those it started with, plus the live keys of later updates.
    Views read `current` per use, so a live key takes effect at their next read."""

    def __init__(self, settings: Settings) -> None:
        self._current = settings
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    @property
    def current(self) -> Settings:
        return self._current

    def on_change(self, listener: Listener) -> None:
        """Call `listener(settings, keys)` after live keys change (e.g. to re-level logs)."""
        self._listeners.append(listener)

    def apply(self, new: Settings) -> list[str]:
        """Take the live keys of `new` (the rest waits for a restart); the keys that changed."""
        with self._lock:
            changes = {key: new[key] for key in LIVE_KEYS if new[key] != self._current[key]}
            if not changes:
                return []
            self._current = current = self._current.with_values(changes)
            keys = sorted(changes)
            # under the lock, so that two updates reach the listeners in their order
            for listener in self._listeners:
                try:
                    listener(current, keys)
                except Exception:   # a listener's failure must not undo or fail the update
                    log.exception("applying %s failed", ", ".join(keys))
        return keys


def _next_generation(raw: str | None) -> str:
    try:
        return str(int(raw or 0) + 1)
    except ValueError:
        return "1"


class ConfigEditor:
    """Shows the running settings (secrets masked) and edits the config file they came
    from. `file` is None when they came from none (tests, embedding): then only view()."""

    def __init__(self, running: RunningSettings, file: ConfigFile | None, meta: MetaStore,
                 environ: Mapping[str, str], *, interval: float = CHECK_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.running = running
        self.file = file
        self._meta = meta
        self._environ = dict(environ)
        self._interval = interval
        self._clock = clock
        self._seen: str | None = None      # the generation this worker has applied
        self._checked = -math.inf
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def view(self) -> dict[str, Any]:
        """Every setting, shaped like config.json, secrets masked."""
        return masked_config(self.running.current)

    def update(self, body: object) -> ConfigPlan:
        """Validate a partial update and, when it changes anything, write the config file,
        apply the live keys here and tell the other workers. A bad value (InvalidInput)
        changes nothing."""
        update = parse_update(body)          # a malformed body fails before any I/O
        file = self.file
        if file is None:
            raise ConfigFileError("these settings were not read from a config file, so "
                                  "they cannot be changed here")
        with file.exclusive():
            plan = plan_update(update, file.read(), self.running.current, self._environ)
            if not plan.changed:
                return plan
            file.replace(plan.data)
            # after the file: a worker that sees the new generation reads the new file
            generation = _next_generation(self._meta.get_meta(GENERATION_KEY))
            self._meta.set_meta(GENERATION_KEY, generation)
            self._seen = generation
        self.running.apply(plan.settings)
        # names only: values may be secrets
        log.info("config: changed %s in %s (applied: %s; restart required: %s; overridden "
                 "by the environment: %s)", ", ".join(plan.changed), file.path,
                 ", ".join(plan.applied) or "-", ", ".join(plan.restart_required) or "-",
                 ", ".join(plan.overridden_by_environment) or "-")
        return plan

    def refresh(self, *, force: bool = False) -> list[str]:
        """Apply another worker's change: at most once per interval (unless forced), a new
        generation in the store means the config file changed, and its live keys are
        applied here. The first check of a worker re-reads the file if any generation
        exists: a worker restarted by gunicorn starts from the settings of the first start."""
        file = self.file
        if file is None:
            return []
        now = self._clock()
        if not force and now - self._checked < self._interval:
            return []
        self._checked = now
        generation = self._meta.get_meta(GENERATION_KEY)
        if generation is None or generation == self._seen:
            return []
        self._seen = generation
        try:
            settings = settings_from_mapping(file.read(), source=file.path,
                                             base_dir=self.running.current.base_dir,
                                             environ=self._environ)
        except (ConfigFileError, SettingsError) as exc:
            log.warning("the config file changed but its live settings cannot be applied: "
                        "%s", exc)
            return []
        applied = self.running.apply(settings)
        if applied:
            log.info("config: applied %s, changed by another worker", ", ".join(applied))
        return applied

    def start(self) -> None:
        """Watch for other workers' changes in a thread (one per worker process)."""
        if self.file is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._watch, name="config-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        while True:
            try:
                self.refresh(force=True)
            except Exception:   # e.g. the store busy for long: the next round tries again
                log.exception("checking for config changes failed")
            if self._stop.wait(self._interval):
                return
