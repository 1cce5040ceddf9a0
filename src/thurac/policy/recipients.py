"""Per-recipient policies (`policies:`): which one a message is judged under, and the
settings that come of it. A milter answers once per message, so when its recipients have
different policies the strictest applies: enforce before tag-only, then the lowest reject,
quarantine, tempfail and add_header thresholds. A recipient without a policy counts as
the default policy (`actions:`), so a loose policy never loosens mail to others."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

from thurac.config import ActionSettings, Settings, policy_actions
from thurac.domains import normal_domain
from thurac.message import domain_of


def policy_of(settings: Settings, recipient: str) -> str | None:
    """The policy key for one recipient: its address, its domain, then `.parent` keys."""
    policies = settings.policies
    if not policies:
        return None
    address = recipient.lower()
    if address in policies:
        return address
    domain = normal_domain(domain_of(address))
    if domain in policies:
        return domain
    labels = domain.split(".")
    for start in range(len(labels)):
        key = "." + ".".join(labels[start:])
        if key in policies:
            return key
    return None


def _strictness(actions: ActionSettings) -> tuple[float, ...]:
    def at(threshold: float | None) -> float:
        return math.inf if threshold is None else threshold
    return (0 if actions.mode == "enforce" else 1, at(actions.reject), at(actions.quarantine),
            at(actions.tempfail), actions.add_header)


def choose(settings: Settings, recipients: Sequence[str]) -> str | None:
    """The strictest policy among the recipients' (None: the default one)."""
    keys = {policy_of(settings, r) for r in recipients} or {None}
    if keys == {None}:
        return None
    ranked = sorted(keys, key=lambda k: (_strictness(judged_under(settings, k).actions),
                                         k is not None, k or ""))
    return ranked[0]


# (id of the settings, policy key) → (those settings, kept so the id stays theirs; derived)
_DERIVED: dict[tuple[int, str], tuple[Settings, Settings]] = {}
_DERIVED_MAX = 256  # a few reloads' worth of policies
_lock = threading.Lock()


def judged_under(settings: Settings, key: str | None) -> Settings:
    """`settings` as policy `key` changes them: thresholds, scores, checks switched off.
    Built once per configuration and policy."""
    if key is None:
        return settings
    with _lock:
        known = _DERIVED.get((id(settings), key))
    if known is not None and known[0] is settings:
        return known[1]
    derived = _derive(settings, key)
    with _lock:
        if len(_DERIVED) >= _DERIVED_MAX:
            _DERIVED.clear()
        _DERIVED[(id(settings), key)] = (settings, derived)
    return derived


def _derive(settings: Settings, key: str) -> Settings:
    policy = settings.policies[key]
    update: dict[str, object] = {
        "actions": policy_actions(settings.actions, policy),
        "scores": {**settings.scores, **policy.scores},
    }
    for section in policy.disable:
        update[section] = getattr(settings, section).model_copy(update={"enabled": False})
    return settings.model_copy(update=update)
