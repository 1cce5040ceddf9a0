"""DMARC (RFC 7489): aligned SPF or DKIM for the header From domain; runs after them."""

from __future__ import annotations

from thurac.checks.base import CheckContext
from thurac.message import Message
from thurac.store.history import History
from thurac.symbols import Symbol


class Dmarc:
    name = "dmarc"
    symbols: tuple[str, ...] = ()

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        return []  # not implemented yet (issue 3)
