"""thurac itself fails while mail flows through the real Postfix: kill -9, SIGTERM, a second
signal. Every test counts what the clients sent and what came out the other side."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator

import pytest
from tests.integration.conftest import LOCAL_DOMAIN, Stack
from tests.support.load import CountingSink, Stream, Tally, finish

pytestmark = pytest.mark.postfix

SESSIONS = 5
STOP_WITHIN = 3.0  # seconds: the promise is 2; the margin is for a loaded CI machine


@pytest.fixture
def counting_sink() -> Iterator[CountingSink]:
    with CountingSink() as sink:
        yield sink


def start(stack_factory: Callable[..., Stack], sink: CountingSink, default_action: str) -> Stack:
    return stack_factory({"actions": {"mode": "tag-only"}},
                         postfix={**sink.transports(), "milter_default_action": default_action})


def scored_lines(stack: Stack) -> list[str]:
    return [line for line in stack.thurac.log().splitlines() if " direction=inbound " in line]


def kill_9(stack: Stack) -> None:
    assert stack.thurac.process is not None
    stack.thurac.process.send_signal(signal.SIGKILL)
    stack.thurac.process.wait(10)


def test_kill_9_with_default_action_tempfail_loses_nothing_and_retried_mail_is_scored(
    stack_factory: Callable[..., Stack], counting_sink: CountingSink,
) -> None:
    stack = start(stack_factory, counting_sink, "tempfail")
    stream = Stream(stack.postfix, 200, SESSIONS, recipient=f"user@{LOCAL_DOMAIN}").start()
    stream.wait_sent(60)
    kill_9(stack)
    first = stream.join()
    print(f"while thurac was killed: {first}")
    assert first.tempfailed > 0  # what was in flight, and everything after, got a 4xx
    assert first.other_5xx == 0 and first.failed == 0

    stack.thurac.start()  # Restart= in the service unit does this
    retry = Stream(stack.postfix, first.tempfailed, SESSIONS, recipient=f"user@{LOCAL_DOMAIN}",
                   sender="stream@sender.test").start().join()
    print(f"the clients' retries: {retry}")
    assert retry.accepted == first.tempfailed

    # Each message counted once: its first try, or its retry if the first was a 4xx.
    total = Tally(sent=first.sent, accepted=first.accepted + retry.accepted,
                  tempfailed=retry.tempfailed, rejected=first.rejected + retry.rejected)
    finish(total, stack.postfix, counting_sink).assert_nothing_lost()
    assert total.accepted == 200

    # Every retried message was scored by the restarted daemon, and the store came back whole.
    assert stack.thurac.stop() == 0
    scored = scored_lines(stack)
    with stack.thurac.store() as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    events = stack.thurac.events()
    lost = len(scored) - events
    print(f"history rows lost to kill -9: {lost} of {len(scored)} scored messages")
    assert 0 <= lost <= SESSIONS  # at most the messages whose records were still queued


def test_kill_9_with_default_action_accept_lets_mail_through_unfiltered(
    stack_factory: Callable[..., Stack], counting_sink: CountingSink,
) -> None:
    stack = start(stack_factory, counting_sink, "accept")
    stream = Stream(stack.postfix, 150, SESSIONS, recipient=f"user@{LOCAL_DOMAIN}").start()
    stream.wait_sent(40)
    kill_9(stack)
    result = stream.join()
    finish(result, stack.postfix, counting_sink).assert_nothing_lost()
    assert result.accepted == 150  # the cost: the messages after the kill were not scored
    assert len(scored_lines(stack)) < 150


def test_sigterm_under_load_stops_at_once_and_writes_queued_history(
    stack_factory: Callable[..., Stack], counting_sink: CountingSink,
) -> None:
    stack = start(stack_factory, counting_sink, "accept")
    stream = Stream(stack.postfix, 300, SESSIONS, recipient=f"user@{LOCAL_DOMAIN}").start()
    stream.wait_sent(80)
    assert stack.thurac.process is not None
    asked = time.monotonic()
    stack.thurac.process.send_signal(signal.SIGTERM)
    code = stack.thurac.process.wait(20)
    took = time.monotonic() - asked
    print(f"SIGTERM under load: exit {code} after {took:.2f}s")
    assert code == 0
    assert took < STOP_WITHIN
    result = stream.join()
    finish(result, stack.postfix, counting_sink).assert_nothing_lost()
    assert result.accepted == 300

    log = stack.thurac.log()
    assert "Fatal Python error" not in log and "Traceback" not in log
    assert stack.thurac.events() == len(scored_lines(stack))  # everything it scored, it wrote


def test_a_second_sigterm_exits_at_once(stack_factory: Callable[..., Stack],
                                        counting_sink: CountingSink) -> None:
    stack = start(stack_factory, counting_sink, "accept")
    # DNS that takes its time keeps verdicts, and so the orderly stop, waiting.
    stack.dns.latency = 2.0
    stream = Stream(stack.postfix, 10, SESSIONS, recipient=f"user@{LOCAL_DOMAIN}").start()
    # Verdicts in flight: the DNS server holds their queries back (a busy machine may take
    # a while to get the sessions going; a stop with nothing in flight ends by itself).
    deadline = time.monotonic() + 30
    while not stack.dns.queries:
        assert time.monotonic() < deadline, "no verdict started"
        time.sleep(0.05)
    assert stack.thurac.process is not None
    stack.thurac.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    stack.thurac.process.send_signal(signal.SIGTERM)
    code = stack.thurac.process.wait(STOP_WITHIN)
    assert code == 1
    assert "received SIGTERM again: exiting now" in stack.thurac.log()
    stack.dns.latency = 0.0
    finish(stream.join(), stack.postfix, counting_sink).assert_nothing_lost()


def test_sighup_under_load_drops_no_connection(
    stack_factory: Callable[..., Stack], counting_sink: CountingSink,
) -> None:
    stack = start(stack_factory, counting_sink, "tempfail")  # a dropped session would show
    stream = Stream(stack.postfix, 300, SESSIONS, recipient=f"user@{LOCAL_DOMAIN}").start()
    config = stack.thurac.config()
    for n in range(5):
        stream.wait_sent(40 * (n + 1))
        config["actions"]["add_header"] = 5.0 + n  # a real change each time
        stack.thurac.reload(config, expect="configuration reloaded")
    result = stream.join()
    finish(result, stack.postfix, counting_sink).assert_nothing_lost()
    assert result.accepted == 300 and result.tempfailed == 0
    assert stack.thurac.log().count("configuration reloaded") == 5
    milter_trouble = [line for line in stack.postfix.log_lines() if "warning: milter" in line]
    assert milter_trouble == []
