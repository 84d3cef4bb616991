"""gunicorn as a library: the options Debridge chose, and the app each worker builds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gunicorn.app.base import BaseApplication


class Application(BaseApplication):
    """Serves what `load` returns in each worker, with `options` as gunicorn's settings."""

    def __init__(self, options: Mapping[str, Any], load: Callable[[], Any]) -> None:
        self.options, self.loader = dict(options), load
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.loader()
