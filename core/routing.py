"""Which provider accounts an add may go to: all of them in the order of `providers`, or
those a category is pinned to (`categories.<name>.providers`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class Routing:
    """The ordered candidate accounts per category."""

    def __init__(self, order: Sequence[str],
                 pinned: Mapping[str, Sequence[str]] | None = None) -> None:
        if not order:
            raise ValueError("at least one provider account is needed")
        self.order = tuple(order)
        self.pinned = {category: tuple(names) for category, names in (pinned or {}).items()
                       if names}

    def accounts(self, category: str) -> tuple[str, ...]:
        """The accounts an add in `category` may use, first choice first."""
        return self.pinned.get(category, self.order)

    def first(self, category: str) -> str:
        return self.accounts(category)[0]
