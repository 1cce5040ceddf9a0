"""Sustained load through the real Postfix: 20 parallel smtp-source sessions, every message
counted. Under this load thurac used to die of memory corruption (see thurac/workers.py);
`make soak` runs the long version."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from tests.integration.conftest import LOCAL_DOMAIN, Stack
from tests.support.load import CountingSink, Tally, finish, smtp_source

pytestmark = pytest.mark.postfix

MESSAGES = 3000
SESSIONS = 20
DNS_LATENCY = 0.03


@pytest.fixture
def counting_sink() -> Iterator[CountingSink]:
    with CountingSink() as sink:
        yield sink


def test_twenty_sessions_of_spam_run_lose_nothing_and_the_daemon_survives(
    stack_factory: Callable[..., Stack], counting_sink: CountingSink,
) -> None:
    stack = stack_factory({"actions": {"mode": "tag-only"}}, postfix=counting_sink.transports())
    # Slow answers that cannot be cached keep many verdicts in flight at once, as on a real
    # MX where every message brings new names.
    stack.dns.latency = DNS_LATENCY
    stack.dns.negative_ttl = 0
    seconds = smtp_source(stack.postfix, messages=MESSAGES, sessions=SESSIONS, size=2000,
                          recipient=f"user@{LOCAL_DOMAIN}")
    print(f"{MESSAGES} messages, {SESSIONS} sessions: {MESSAGES / seconds:.0f} msg/s")
    assert stack.thurac.process is not None
    assert stack.thurac.process.poll() is None, f"thurac died:\n{stack.thurac.log()[-3000:]}"

    # smtp-source returns cleanly only when every message got its 250.
    result = finish(Tally(sent=MESSAGES, accepted=MESSAGES), stack.postfix, counting_sink)
    result.assert_nothing_lost()
    assert "milter" not in "\n".join(
        line for line in stack.postfix.log_lines() if "warning:" in line)

    assert stack.thurac.stop() == 0
    assert stack.thurac.events() == MESSAGES
    assert "Fatal Python error" not in stack.thurac.log()


def test_a_hundred_parallel_sessions_neither_deadlock_nor_lose_a_count(
    stack_factory: Callable[..., Stack], counting_sink: CountingSink,
) -> None:
    stack = stack_factory({"actions": {"mode": "tag-only"}}, postfix=counting_sink.transports())
    messages = 2000
    seconds = smtp_source(stack.postfix, messages=messages, sessions=100, size=2000,
                          recipient=f"user@{LOCAL_DOMAIN}")
    print(f"{messages} messages, 100 sessions: {messages / seconds:.0f} msg/s")
    result = finish(Tally(sent=messages, accepted=messages), stack.postfix, counting_sink)
    result.assert_nothing_lost()

    assert stack.thurac.stop() == 0
    log = stack.thurac.log()
    assert "database is locked" not in log
    assert "THURAC_HISTORY_UNAVAILABLE" not in log  # every verdict had its history
    assert log.count(" direction=inbound ") == messages
    assert stack.thurac.events() == messages
    # One sender from one address: each of its rate keys counted every message once.
    with stack.thurac.store() as db:
        sums = dict(db.execute("SELECT kind, SUM(messages) FROM rate_buckets GROUP BY kind"))
    assert sums == {"sender": messages, "domain": messages, "ip": messages}
