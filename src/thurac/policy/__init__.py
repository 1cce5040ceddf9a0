"""What the verdict consumes beside the checks' symbols: list hits (symbols) and decisions
that impose an action whatever the score (the DMARC honour switches; per-recipient policies
and account suspension later). Each policy is a small object in a file of its own,
registered in POLICIES, in the order they are asked. Like checks, policies are pure: no
milter, no store, no SQLAlchemy; the store's list entries reach them as a ListIndex."""

from __future__ import annotations

from collections.abc import Sequence

from thurac.policy.allow_block import AllowBlock
from thurac.policy.base import Judgement, Override, Policy, PolicyInput
from thurac.policy.dmarc_honour import DmarcHonour
from thurac.policy.lists import ListIndex
from thurac.symbols import Symbol
from thurac.verdict import Verdict, decide

__all__ = ["POLICIES", "Judgement", "ListIndex", "Override", "Policy", "PolicyInput", "conclude",
           "judge"]

POLICIES: tuple[Policy, ...] = (AllowBlock(), DmarcHonour())


def judge(facts: PolicyInput) -> tuple[list[Judgement], tuple[Override, ...]]:
    """What every policy says about this message (most are silent)."""
    said = [policy.judge(facts) for policy in POLICIES]
    return said, tuple(j.override for j in said if j.override is not None)


def conclude(found: Sequence[Symbol], facts: PolicyInput, policy_key: str | None) -> Verdict:
    """The verdict on what the checks found: list hits add symbols, and policies may impose
    an action whatever the score. The scanner and `thurac replay` both end here."""
    judgements, imposed = judge(facts)
    symbols = [*found, *(s for j in judgements for s in j.symbols)]
    return decide(symbols, facts.settings.actions, imposed, policy_key)
