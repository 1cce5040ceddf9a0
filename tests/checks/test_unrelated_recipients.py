"""Circular 22 art. 4.3b (second dash): mail to addresses that never exchanged mail with the sender.

Defaults: over the sender's last 86400 s, at least 10 recipients (this message's included) before
any ratio verdict; C22_UNRELATED_RATIO from 80 % unrelated.
"""

from __future__ import annotations

import pytest
from tests.builders import SENDER, local_users, make_message, names, only, run_check
from tests.conftest import ContextFactory

from thurac.checks.unrelated_recipients import UnrelatedRecipients
from thurac.history import History, WindowCount
from thurac.message import Message
from thurac.symbols import Symbol

CHECK = UnrelatedRecipients()
DAY = 86400


def run(
    message: Message, history: History, context: ContextFactory, **sections: object
) -> list[Symbol]:
    return run_check(CHECK, message, context(**sections), history)


def past(recipients: int, unrelated: int, seconds: int = DAY, **extra: object) -> History:
    """A sender that already wrote to `recipients` of our users, `unrelated` of them strangers."""
    count = WindowCount(messages=recipients, recipients=recipients, unrelated=unrelated)
    return History(windows={("sender", seconds): count}, **extra)  # type: ignore[arg-type]


def test_new_sender_below_the_sample_size_gets_no_ratio_verdict(context: ContextFactory) -> None:
    # 8 strangers before + 1 now = 9 recipients, all unrelated, but fewer than 10.
    found = run(make_message(), past(8, 8), context)
    assert "C22_UNRELATED_RATIO" not in names(found)


def test_sender_writing_only_to_strangers_is_flagged_once_the_sample_is_reached(
    context: ContextFactory,
) -> None:
    found = run(make_message(), past(9, 9), context)

    ratio = only(found, "C22_UNRELATED_RATIO")
    assert ratio.reason == "10/10 recipients unrelated (100% >= 80%) in 1d"
    assert ratio.score == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("strangers_before", "flagged"),
    [
        (6, False),  # 7/10 = 70 %
        (7, True),  # 8/10 = 80 %: the threshold itself counts
    ],
)
def test_ratio_threshold_is_inclusive(
    context: ContextFactory, strangers_before: int, flagged: bool
) -> None:
    found = run(make_message(), past(9, strangers_before), context)
    assert ("C22_UNRELATED_RATIO" in names(found)) is flagged


def test_admin_sets_a_stricter_sample_and_ratio(context: ContextFactory) -> None:
    history = past(3, 1)  # with this message: 2 of 4 recipients unrelated
    lenient = run(make_message(), history, context)
    strict = run(make_message(), history, context,
                 unrelated_recipients={"min_recipients": 4, "ratio": 0.5})

    assert "C22_UNRELATED_RATIO" not in names(lenient)
    assert only(strict, "C22_UNRELATED_RATIO").reason.startswith("2/4 recipients unrelated (50%")


def test_ratio_is_measured_over_the_configured_window(context: ContextFactory) -> None:
    history = History(windows={
        ("sender", 3600): WindowCount(messages=1, recipients=1, unrelated=0),
        ("sender", DAY): WindowCount(messages=50, recipients=50, unrelated=50),
    })
    found = run(make_message(), history, context,
                unrelated_recipients={"window": 3600, "min_recipients": 2, "ratio": 0.6})
    # In the last hour: 1 of 2 recipients unrelated (50 %): the busy day is not this window.
    assert "C22_UNRELATED_RATIO" not in names(found)


def test_message_to_strangers_only_gets_the_per_message_symbol(context: ContextFactory) -> None:
    found = run(make_message(recipients=local_users(2)), History(), context)

    rcpt = only(found, "C22_UNRELATED_RCPT")
    assert rcpt.reason == f"none of 2 recipient(s) ever exchanged mail with {SENDER}"
    assert rcpt.score == pytest.approx(1.0)


def test_one_known_correspondent_among_recipients_avoids_the_per_message_symbol(
    context: ContextFactory,
) -> None:
    users = local_users(2)
    history = History(related_recipients=frozenset(users[:1]))
    assert "C22_UNRELATED_RCPT" not in names(run(make_message(recipients=users), history, context))


def test_mail_to_correspondents_only_carries_no_unrelated_penalty(context: ContextFactory) -> None:
    # Even a sender whose other mail went mostly to strangers is not penalised for writing to
    # users who correspond with it.
    users = local_users(2)
    history = past(50, 48, related_recipients=frozenset(users))
    assert run(make_message(recipients=users), history, context) == []


def test_one_stranger_among_correspondents_brings_the_ratio_penalty_back(
    context: ContextFactory,
) -> None:
    users = local_users(2)
    history = past(50, 48, related_recipients=frozenset(users[:1]))
    found = run(make_message(recipients=users), history, context)
    assert names(found) == ["C22_UNRELATED_RATIO"]
    assert only(found, "C22_UNRELATED_RATIO").reason.startswith("49/52 recipients unrelated")


def test_history_lists_exactly_the_strangers_among_the_recipients(context: ContextFactory) -> None:
    users = local_users(3)
    history = History(related_recipients=frozenset({users[1]}))
    assert history.unrelated(make_message(recipients=users).recipients) == (users[0], users[2])


def test_unreadable_history_gives_no_unrelated_penalty(context: ContextFactory) -> None:
    history = History(available=False, windows={("sender", DAY): WindowCount(50, 50, 50)})
    assert run(make_message(), history, context) == []


def test_bounces_with_null_sender_are_not_judged_on_relationships(
    context: ContextFactory,
) -> None:
    assert run(make_message(sender=""), past(50, 50), context) == []


def test_disabled_check_finds_nothing(context: ContextFactory) -> None:
    found = run(make_message(), past(50, 50), context, unrelated_recipients={"enabled": False})
    assert found == []
