"""ARC (RFC 8617): validates an existing chain; trusted sealers may vouch for forwarded mail."""

from __future__ import annotations

from thurac.checks.base import CheckContext
from thurac.message import Message
from thurac.store.history import History
from thurac.symbols import Symbol


class Arc:
    name = "arc"
    symbols: tuple[str, ...] = ()

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        return []  # not implemented yet (issue 3)
