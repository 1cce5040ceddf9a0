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

__all__ = ["CHECKS", "Check", "CheckContext"]
