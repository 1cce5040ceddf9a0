"""Σ scores against the action thresholds of YAML (defaults: header 5, quarantine 10, reject 15)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.builders import make_settings

from thurac.policy import Override
from thurac.symbols import Symbol
from thurac.verdict import Verdict, decide


def scored(*scores: float) -> list[Symbol]:
    return [Symbol(f"S{i}", score, f"reason {i}") for i, score in enumerate(scores)]


def verdict(*scores: float, force: Any = None, **actions: Any) -> Verdict:
    imposed = [Override(force, "test", "imposed by the test")] if force else []
    return decide(scored(*scores), make_settings(actions=actions).actions, imposed)


@pytest.mark.parametrize(
    ("score", "action"),
    [
        (0.0, "accept"),
        (4.9, "accept"),
        (5.0, "add_header"),  # each threshold belongs to its band
        (9.9, "add_header"),
        (10.0, "quarantine"),
        (14.9, "quarantine"),
        (15.0, "reject"),
        (80.0, "reject"),
    ],
)
def test_each_score_band_gets_its_action(score: float, action: str) -> None:
    result = verdict(score)
    assert (result.action, result.intended) == (action, action)


def test_score_is_the_sum_of_all_symbols_including_negative_ones() -> None:
    result = verdict(4.0, 3.5, -1.0, 0.0)
    assert result.score == pytest.approx(6.5)
    assert result.action == "add_header"


def test_many_small_scores_reaching_the_threshold_are_not_lost_to_float_error() -> None:
    # 50 x 0.1 sums to 4.999999999999998 in floating point.
    assert verdict(*[0.1] * 50).action == "add_header"


def test_tempfail_band_defers_between_header_and_quarantine() -> None:
    bands = {"tempfail": 8.0}
    assert verdict(7.9, **bands).action == "add_header"
    assert verdict(8.0, **bands).action == "tempfail"
    assert verdict(10.0, **bands).action == "quarantine"
    assert verdict(15.0, **bands).action == "reject"


def test_no_tempfail_unless_configured() -> None:
    actions = {verdict(score).action for score in (5, 6, 7, 8, 9, 9.9)}
    assert actions == {"add_header"}


def test_tag_only_mode_only_adds_headers_but_remembers_what_it_would_have_done() -> None:
    for score, would in ((10.0, "quarantine"), (15.0, "reject"), (8.0, "tempfail")):
        result = verdict(score, mode="tag-only", tempfail=8.0)
        assert (result.action, result.intended) == ("add_header", would)


def test_tag_only_mode_leaves_clean_and_tagged_mail_as_it_is() -> None:
    assert verdict(1.0, mode="tag-only").action == "accept"
    assert verdict(6.0, mode="tag-only").action == "add_header"


def test_switching_quarantine_off_tags_until_the_reject_threshold() -> None:
    assert verdict(12.0, quarantine=None).action == "add_header"
    assert verdict(15.0, quarantine=None).action == "reject"


def test_switching_reject_off_never_refuses_mail() -> None:
    assert verdict(500.0, reject=None).action == "quarantine"


def test_required_is_the_header_threshold_and_decides_is_spam() -> None:
    low, high = verdict(5.9, add_header=6.0), verdict(6.0, add_header=6.0)
    assert (low.required, low.is_spam) == (6.0, False)
    assert (high.required, high.is_spam) == (6.0, True)


def test_a_forced_action_wins_only_when_more_severe() -> None:
    assert verdict(1.0, force="reject").action == "reject"
    assert verdict(16.0, force="quarantine").action == "reject"


def test_tag_only_mode_downgrades_a_forced_action_too() -> None:
    result = verdict(1.0, force="reject", mode="tag-only")
    assert (result.action, result.intended) == ("add_header", "reject")


def test_verdict_keeps_every_symbol_in_order() -> None:
    symbols = scored(1.0, 0.0, -2.0)
    result = decide(symbols, make_settings().actions)
    assert result.symbols == tuple(symbols)


def test_top_symbols_for_the_reject_reason_are_the_heaviest_positive_ones() -> None:
    result = decide(
        [Symbol("A", 1.0, ""), Symbol("B", 7.0, ""), Symbol("C", -3.0, ""),
         Symbol("D", 0.0, ""), Symbol("E", 4.0, ""), Symbol("F", 2.0, "")],
        make_settings().actions,
    )
    assert [s.name for s in result.top_symbols()] == ["B", "E", "F"]
    assert [s.name for s in result.top_symbols(10)] == ["B", "E", "F", "A"]
