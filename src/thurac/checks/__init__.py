"""The checks, in run order. Every module in this package must be registered in CHECKS."""

from __future__ import annotations

from thurac.checks.base import Check, CheckContext
from thurac.checks.frequency import Frequency
from thurac.checks.one_way_source import OneWaySource
from thurac.checks.technology import Technology
from thurac.checks.unrelated_recipients import UnrelatedRecipients

CHECKS: tuple[Check, ...] = (
    Frequency(),
    OneWaySource(),
    UnrelatedRecipients(),
    Technology(),
)

__all__ = ["CHECKS", "Check", "CheckContext"]
