"""DMARC honour switches (policy/dmarc_honour.py): a failure imposes the domain's published
policy only when the YAML says so, and never in tag-only mode."""

from __future__ import annotations

from typing import Any

import pytest
from tests.builders import make_message, make_settings

from thurac.auth import AuthResults, DmarcResult
from thurac.config import DmarcSettings, Settings
from thurac.policy import ListIndex, Override, PolicyInput, judge
from thurac.policy.dmarc_honour import forced_action
from thurac.verdict import decide


def overrides(auth: AuthResults, settings: Settings) -> tuple[Override, ...]:
    return judge(PolicyInput(make_message(), auth, settings, ListIndex()))[1]


def failed(policy: Any) -> AuthResults:
    return AuthResults(dmarc=DmarcResult("fail", "bank.test", policy))


@pytest.mark.parametrize(
    ("policy", "honor_reject", "honor_quarantine", "expected"),
    [
        ("reject", True, False, "reject"),
        ("reject", False, False, None),
        ("reject", False, True, "quarantine"),
        ("quarantine", True, False, None),
        ("quarantine", False, True, "quarantine"),
        ("none", True, True, None),
        (None, True, True, None),
    ],
)
def test_forced_action_follows_the_switches(policy: Any, honor_reject: bool,
                                            honor_quarantine: bool, expected: Any) -> None:
    settings = DmarcSettings(honor_reject=honor_reject, honor_quarantine=honor_quarantine)
    assert forced_action(failed(policy), settings) == expected


def test_forced_action_is_only_for_failures() -> None:
    settings = DmarcSettings(honor_reject=True, honor_quarantine=True)
    for result in ("pass", "none", "temperror", "permerror"):
        auth = AuthResults(dmarc=DmarcResult(result, "bank.test", "reject"))
        assert forced_action(auth, settings) is None
    assert forced_action(AuthResults(), settings) is None


def test_forced_reject_beats_a_low_score_but_not_tag_only_mode() -> None:
    settings = make_settings(dmarc={"honor_reject": True})
    imposed = overrides(failed("reject"), settings)
    assert [(o.action, o.source, o.reason) for o in imposed] == [
        ("reject", "dmarc_honour", "DMARC p=reject failure for bank.test (dmarc.honor_reject)")]
    verdict = decide([], settings.actions, imposed)
    assert (verdict.action, verdict.intended) == ("reject", "reject")
    tag_only = make_settings(actions={"mode": "tag-only"}).actions
    verdict = decide([], tag_only, imposed)
    assert (verdict.action, verdict.intended) == ("add_header", "reject")
