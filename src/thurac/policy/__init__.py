"""What the verdict consumes beside the checks' symbols: list hits (symbols) and decisions
that impose an action whatever the score (the DMARC honour switches; per-recipient policies
and account suspension later). Each policy is a small object in a file of its own,
registered in POLICIES, in the order they are asked. Like checks, policies are pure: no
milter, no store, no SQLAlchemy; the store's list entries reach them as a ListIndex."""

from __future__ import annotations

from thurac.policy.allow_block import AllowBlock
from thurac.policy.base import Judgement, Override, Policy, PolicyInput
from thurac.policy.dmarc_honour import DmarcHonour
from thurac.policy.lists import ListIndex

__all__ = ["POLICIES", "Judgement", "ListIndex", "Override", "Policy", "PolicyInput", "judge"]

POLICIES: tuple[Policy, ...] = (AllowBlock(), DmarcHonour())


def judge(facts: PolicyInput) -> tuple[list[Judgement], tuple[Override, ...]]:
    """What every policy says about this message (most are silent)."""
    said = [policy.judge(facts) for policy in POLICIES]
    return said, tuple(j.override for j in said if j.override is not None)
