"""Overrides the verdict consumes: decisions that impose an action whatever the score (the
DMARC honour switches now; allow/block lists, per-recipient policies and account suspension
later). Each policy is a small object in a file of its own, registered in POLICIES, in the
order they are asked. Like checks, policies are pure: no milter, no store, no SQLAlchemy."""

from __future__ import annotations

from thurac.auth import AuthResults
from thurac.config import Settings
from thurac.policy.base import Override, Policy
from thurac.policy.dmarc_honour import DmarcHonour

__all__ = ["POLICIES", "Override", "Policy", "overrides"]

POLICIES: tuple[Policy, ...] = (DmarcHonour(),)


def overrides(auth: AuthResults, settings: Settings) -> tuple[Override, ...]:
    """What every policy imposes on this message (most are silent)."""
    found = (policy.override(auth, settings) for policy in POLICIES)
    return tuple(o for o in found if o is not None)
