"""Circular 22 art. 4.3a: how often a sender, its domain or its client IP sends, per window.

Default limits (config/thurac.yaml): 10 min: 20 msgs / 100 rcpts per sender, 60 / 300 per domain
and IP; 1 h: 60 / 300 per sender. The message being scored counts too.
"""

from __future__ import annotations

import pytest
from tests.builders import CLIENT_IP, SENDER, local_users, make_message, names, only, run_check
from tests.conftest import ContextFactory

from thurac.checks.frequency import Frequency
from thurac.history import History, WindowCount
from thurac.message import Message
from thurac.symbols import Symbol

CHECK = Frequency()


def run(
    message: Message, history: History, context: ContextFactory, **sections: object
) -> list[Symbol]:
    return run_check(CHECK, message, context(**sections), history)


def seen(**counts: WindowCount) -> History:
    """History whose windows are given as kind_seconds=WindowCount(...), e.g. sender_600=..."""
    windows = {}
    for key, count in counts.items():
        kind, seconds = key.rsplit("_", 1)
        windows[(kind, int(seconds))] = count
    return History(windows=windows)


def test_sender_exactly_at_its_limit_is_not_penalised(context: ContextFactory) -> None:
    # 19 before + this one = 20 messages in 10 minutes: allowed.
    assert run(make_message(), seen(sender_600=WindowCount(messages=19)), context) == []


def test_burst_from_unknown_sender_exceeds_sender_limit(context: ContextFactory) -> None:
    found = run(make_message(), seen(sender_600=WindowCount(messages=20)), context)

    symbol = only(found, "C22_FREQ_SENDER")
    assert symbol.reason == f"sender {SENDER}: 21 msgs/10min > 20"
    assert symbol.score == pytest.approx(4.0 * 21 / 20)
    assert names(found) == ["C22_FREQ_SENDER"]


@pytest.mark.parametrize(
    ("before", "score"),
    [
        (20, 4.2),  # 21/20: just over
        (29, 6.0),  # 30/20 = 1.5 times the score
        (39, 8.0),  # 40/20 = 2 times
        (59, 12.0),  # 60/20 = 3 times: the cap
        (5000, 12.0),  # far beyond: still capped at max_factor (3)
    ],
)
def test_sender_score_grows_with_the_excess_and_stops_at_max_factor(
    context: ContextFactory, before: int, score: float
) -> None:
    found = run(make_message(), seen(sender_600=WindowCount(messages=before)), context)
    assert only(found, "C22_FREQ_SENDER").score == pytest.approx(score)


def test_admin_lowers_max_factor_to_soften_the_worst_bursts(context: ContextFactory) -> None:
    history = seen(sender_600=WindowCount(messages=200))
    found = run(make_message(), history, context, frequency={"max_factor": 1.5})
    assert only(found, "C22_FREQ_SENDER").score == pytest.approx(6.0)


def test_score_follows_the_symbol_weight_set_in_yaml(context: ContextFactory) -> None:
    history = seen(sender_600=WindowCount(messages=39))  # twice the limit
    found = run(make_message(), history, context, scores={"C22_FREQ_SENDER": 2.5})
    assert only(found, "C22_FREQ_SENDER").score == pytest.approx(5.0)


def test_the_worst_window_is_the_one_named_in_the_reason(context: ContextFactory) -> None:
    history = seen(
        sender_600=WindowCount(messages=20),  # 21/20 = 1.05
        sender_3600=WindowCount(messages=149),  # 150/60 = 2.5: worst
        sender_86400=WindowCount(messages=299),  # 300/300: at the limit
    )
    found = run(make_message(), history, context)

    symbol = only(found, "C22_FREQ_SENDER")
    assert symbol.reason == f"sender {SENDER}: 150 msgs/1h > 60"
    assert symbol.score == pytest.approx(4.0 * 2.5)


def test_recipient_count_of_this_message_counts_towards_the_recipient_limit(
    context: ContextFactory,
) -> None:
    message = make_message(recipients=local_users(5))
    at_limit = run(message, seen(sender_600=WindowCount(messages=1, recipients=95)), context)
    over = run(message, seen(sender_600=WindowCount(messages=1, recipients=96)), context)

    assert at_limit == []
    assert only(over, "C22_FREQ_SENDER").reason == f"sender {SENDER}: 101 rcpts/10min > 100"


def test_recipient_flood_outranks_a_small_message_excess(context: ContextFactory) -> None:
    history = seen(sender_600=WindowCount(messages=20, recipients=199))  # 21/20 vs 200/100
    found = run(make_message(), history, context)
    assert only(found, "C22_FREQ_SENDER").reason == f"sender {SENDER}: 200 rcpts/10min > 100"


def test_sender_domain_and_client_ip_have_their_own_limits(context: ContextFactory) -> None:
    history = seen(
        sender_600=WindowCount(messages=3),
        domain_600=WindowCount(messages=60),
        ip_600=WindowCount(messages=90),
    )
    found = run(make_message(), history, context)

    assert sorted(names(found)) == ["C22_FREQ_DOMAIN", "C22_FREQ_IP"]
    domain = only(found, "C22_FREQ_DOMAIN")
    assert domain.reason == "domain shop.example: 61 msgs/10min > 60"
    assert domain.score == pytest.approx(3.0 * 61 / 60)
    assert only(found, "C22_FREQ_IP").reason == f"ip {CLIENT_IP}: 91 msgs/10min > 60"


def test_null_sender_bounces_count_only_by_client_ip(context: ContextFactory) -> None:
    bounce = make_message(sender="")
    busy = WindowCount(messages=500, recipients=5000)

    sender_busy = run(bounce, seen(sender_600=busy, domain_600=busy), context)
    ip_busy = run(bounce, seen(sender_600=busy, domain_600=busy, ip_600=busy), context)

    assert sender_busy == []
    assert names(ip_busy) == ["C22_FREQ_IP"]


def test_ignored_shared_provider_domain_is_not_counted_as_one_sender(
    context: ContextFactory,
) -> None:
    history = seen(domain_600=WindowCount(messages=5000), sender_600=WindowCount(messages=20))
    message = make_message(sender="someone@shop.example")

    counted = run(message, history, context)
    ignored = run(message, history, context, frequency={"ignore_domains": ["shop.example"]})

    assert "C22_FREQ_DOMAIN" in names(counted)
    assert names(ignored) == ["C22_FREQ_SENDER"]  # the address itself is still limited


def test_ignore_domains_match_whatever_the_case_or_final_dot_in_yaml(
    context: ContextFactory,
) -> None:
    history = seen(domain_600=WindowCount(messages=5000))
    found = run(make_message(sender="someone@shop.example"), history, context,
                frequency={"ignore_domains": ["Shop.Example."]})
    assert found == []


def test_mail_to_users_who_correspond_with_the_sender_is_exempt(context: ContextFactory) -> None:
    users = local_users(3)
    history = History(
        windows={("sender", 600): WindowCount(messages=500)},
        related_recipients=frozenset(users),
    )
    assert run(make_message(recipients=users), history, context) == []


def test_one_stranger_among_the_recipients_loses_the_exemption(context: ContextFactory) -> None:
    users = local_users(3)
    history = History(
        windows={("sender", 600): WindowCount(messages=500)},
        related_recipients=frozenset(users[:2]),
    )
    found = run(make_message(recipients=users), history, context)
    assert names(found) == ["C22_FREQ_SENDER"]


def test_unreadable_history_gives_no_frequency_penalty(context: ContextFactory) -> None:
    history = History(available=False, windows={("sender", 600): WindowCount(messages=500)})
    assert run(make_message(), history, context) == []


def test_disabled_check_finds_nothing(context: ContextFactory) -> None:
    history = seen(sender_600=WindowCount(messages=500))
    assert run(make_message(), history, context, frequency={"enabled": False}) == []


def test_a_limit_left_out_of_a_window_is_not_checked(context: ContextFactory) -> None:
    windows = [{"seconds": 7200, "messages": {"ip": 10}}]
    history = seen(sender_7200=WindowCount(messages=10_000), ip_7200=WindowCount(messages=10))
    found = run(make_message(), history, context, frequency={"windows": windows})

    assert names(found) == ["C22_FREQ_IP"]
    assert only(found, "C22_FREQ_IP").reason == f"ip {CLIENT_IP}: 11 msgs/2h > 10"


def test_window_length_without_round_unit_is_shown_in_seconds(context: ContextFactory) -> None:
    windows = [{"seconds": 90, "messages": {"sender": 2}}]
    found = run(make_message(), seen(sender_90=WindowCount(messages=2)), context,
                frequency={"windows": windows})
    assert only(found, "C22_FREQ_SENDER").reason == f"sender {SENDER}: 3 msgs/90s > 2"
