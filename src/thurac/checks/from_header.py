"""Header From sanity: exactly one From field with exactly one address (RFC 5322 3.6).

DMARC needs one author domain; from_problem() is shared with the DMARC check, which
treats a message with a From problem as failing.
"""

from __future__ import annotations

from typing import Literal

from thurac.checks.base import SHOWN, CheckContext
from thurac.history import History
from thurac.message import Message, domain_of
from thurac.symbols import Symbol

FromProblem = Literal["FROM_MISSING", "FROM_MULTIPLE"]


def from_problem(message: Message) -> tuple[FromProblem, str] | None:
    """(symbol name, reason) when the From header is missing or ambiguous, else None.

    An address without a domain does not count as an author address: DMARC and
    every reader need a domain to know who wrote the message.
    """
    fields = message.header_values("From")
    if not fields:
        return "FROM_MISSING", "no From header"
    if len(fields) > 1:
        return "FROM_MULTIPLE", f"{len(fields)} From header fields"
    addresses = message.from_addresses
    if len(addresses) > 1:
        shown = ", ".join(addresses)[:SHOWN]
        return "FROM_MULTIPLE", f"{len(addresses)} addresses in From: {shown}"
    if not addresses or not domain_of(addresses[0]):
        return "FROM_MISSING", f"From header has no address with a domain: {fields[0][:SHOWN]!r}"
    return None


class FromHeader:
    name = "from_header"
    symbols = ("FROM_MISSING", "FROM_MULTIPLE")

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        problem = from_problem(message)
        if problem is None:
            return []
        name, reason = problem
        return [ctx.symbol(name, reason)]
