"""SPF (RFC 7208) on the envelope sender, or the HELO name for bounces."""

from __future__ import annotations

from thurac.checks.base import CheckContext
from thurac.message import Message
from thurac.store.history import History
from thurac.symbols import Symbol


class Spf:
    name = "spf"
    symbols: tuple[str, ...] = ()

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        return []  # not implemented yet (issue 3)
