"""DKIM (RFC 6376): every signature verified through the shared resolver."""

from __future__ import annotations

from thurac.checks.base import CheckContext
from thurac.message import Message
from thurac.store.history import History
from thurac.symbols import Symbol


class Dkim:
    name = "dkim"
    symbols: tuple[str, ...] = ()

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        return []  # not implemented yet (issue 3)
