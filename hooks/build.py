"""The hooks' outbox wired from the settings, with the Arrs' notices (called by app.py)."""

from __future__ import annotations

from core.arr_notify import ArrNotifier
from core.arrs import ArrDirectory
from core.engine import make_owner_id
from core.hooks import arr_hooks, parse_hooks
from core.outbox import HookOutbox, HookPolicy
from core.ports import OutboxStore
from core.settings import Settings
from hooks.runner import HookRunner
from repair.checks import symlink_target


def build_hooks(settings: Settings, store: OutboxStore, arrs: ArrDirectory) -> HookOutbox:
    """The completion hooks' outbox (and the Arrs' notices); its deliveries run where the
    engine's lease is held."""
    return HookOutbox(store, HookRunner(ArrNotifier(arrs, symlink_target)),
                      parse_hooks(settings["hooks.on_complete"]) + arr_hooks(),
                      HookPolicy(settings["hooks.timeout_seconds"], settings["hooks.max_attempts"],
                                 settings["hooks.retry_seconds"]), owner=make_owner_id())
