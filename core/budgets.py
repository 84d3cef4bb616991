"""The request budgets of every provider account, as the REST API and the UI show them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.ports import BudgetState, DebridProvider


@dataclass(frozen=True)
class RequestBudgets:
    """Reads the live budget state (from the store, so every worker sees the same)."""

    providers: Mapping[str, DebridProvider]

    def states(self) -> list[BudgetState]:
        """One state per account: each provider's main key, then its download keys."""
        return [state for provider in self.providers.values() for state in provider.budgets()]
