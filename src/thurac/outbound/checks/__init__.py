"""The outbound checks, in run order. Every module in this package must be registered here."""

from __future__ import annotations

from thurac.checks.base import Check
from thurac.outbound.checks.complaints import OutboundComplaints
from thurac.outbound.checks.frequency import OutboundFrequency
from thurac.outbound.checks.limits import SuspendLimits
from thurac.outbound.checks.suppressed import Suppression
from thurac.outbound.checks.technology import OutboundTechnology
from thurac.outbound.checks.unrelated import OutboundUnrelated

OUTBOUND_CHECKS: tuple[Check, ...] = (
    OutboundFrequency(),
    OutboundUnrelated(),
    SuspendLimits(),
    OutboundTechnology(),
    OutboundComplaints(),
    Suppression(),
)

__all__ = ["OUTBOUND_CHECKS"]
