"""What the commands share: the durations an operator types (--since 7d)."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest

from thurac.cli.common import duration


@pytest.mark.parametrize(("typed", "meant"), [
    ("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("7d", timedelta(days=7)),
    ("2w", timedelta(weeks=2)), ("90s", timedelta(seconds=90)), (" 180d ", timedelta(days=180)),
])
def test_a_duration_is_a_number_and_a_unit(typed: str, meant: timedelta) -> None:
    assert duration(typed) == meant


@pytest.mark.parametrize("typed", ["7", "d", "7x", "7 d", "-7d", "1.5h", "0d", "7D", "", "7d2h"])
def test_anything_else_is_a_usage_error_naming_the_forms(typed: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError,
                       match=r"expected a duration such as 30m, 12h or 7d \(got "):
        duration(typed)
