"""Header From sanity: exactly one From field with exactly one address."""

from __future__ import annotations

from thurac.checks.base import CheckContext
from thurac.message import Message
from thurac.store.history import History
from thurac.symbols import Symbol


class FromHeader:
    name = "from_header"
    symbols: tuple[str, ...] = ()

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        return []  # not implemented yet (issue 3)
