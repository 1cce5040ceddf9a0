"""The checks, in run order. Every module in this package must be registered in CHECKS.

DMARC runs after SPF, DKIM, ARC and the From sanity check: it reads their results.
"""

from __future__ import annotations

from thurac.checks.advertising import Advertising
from thurac.checks.arc import Arc
from thurac.checks.base import Check, CheckContext
from thurac.checks.complaints import Complaints
from thurac.checks.dkim import Dkim
from thurac.checks.dmarc import Dmarc
from thurac.checks.dns_lists import DnsLists
from thurac.checks.frequency import Frequency
from thurac.checks.from_header import FromHeader
from thurac.checks.one_way_source import OneWaySource
from thurac.checks.spf import Spf
from thurac.checks.technology import Technology
from thurac.checks.unrelated_recipients import UnrelatedRecipients

CHECKS: tuple[Check, ...] = (
    Frequency(),
    OneWaySource(),
    UnrelatedRecipients(),
    Technology(),
    Complaints(),
    DnsLists(),
    Spf(),
    Dkim(),
    Arc(),
    FromHeader(),
    Dmarc(),
    Advertising(),
)

# What a replay recomputes from the history as it stood (a check's `history_symbols`); every
# other symbol is a fact of the message (DNS, content) taken from what the event stored.
HISTORY_CHECKS: tuple[Check, ...] = tuple(c for c in CHECKS if getattr(c, "history_symbols", ()))
HISTORY_SYMBOLS: frozenset[str] = frozenset(
    {"THURAC_HISTORY_UNAVAILABLE"}
    | {name for c in HISTORY_CHECKS for name in getattr(c, "history_symbols", ())})
# Which check emits a symbol, by its place in CHECKS (a replay keeps the run order).
OWNER: dict[str, int] = {name: i for i, c in enumerate(CHECKS) for name in c.symbols}

__all__ = ["CHECKS", "HISTORY_CHECKS", "HISTORY_SYMBOLS", "OWNER", "Check", "CheckContext"]
