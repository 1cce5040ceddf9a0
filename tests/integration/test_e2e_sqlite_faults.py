"""The SQLite store breaks while mail flows through the real Postfix: its disk fills up, or
another process locks the database. Mail is never refused or
lost, the fault is logged once when it starts and once when it ends, and after recovery
the store holds one event per message accepted."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.integration.conftest import LOCAL_DOMAIN, Stack
from tests.support import faults
from tests.support.load import CountingSink, Stream, finish

pytestmark = pytest.mark.postfix

MESSAGES = 120
SESSIONS = 5
REPLAY_SECONDS = 0.5  # production: 30 s
SETTLE = 60.0  # seconds the store may take to catch up after the fault ends


@pytest.fixture
def counting_sink() -> Iterator[CountingSink]:
    with CountingSink() as sink:
        yield sink


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    with faults.tmpfs(tmp_path / "state", size_mb=16) as path:
        yield path


def start(stack_factory: Callable[..., Stack], sink: CountingSink, state: Path) -> Stack:
    # The shipped defaults: the spool derived beside the database, on the same disk.
    return stack_factory(
        {"actions": {"mode": "tag-only"},
         "database": {"url": f"sqlite:///{state}/thurac.db", "spool_path": "",
                      "spool_replay_seconds": REPLAY_SECONDS}},
        postfix=sink.transports())


def events(state: Path) -> int:
    with sqlite3.connect(state / "thurac.db", timeout=30) as db:
        return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def nudge_until_recorded(stack: Stack, state: Path, expected: int) -> int:
    """Wait until the store has `expected` events; a message now and then wakes the
    recorder's replay, as live mail does. Returns how many extra messages that took."""
    extra = 0
    deadline = time.monotonic() + SETTLE
    while events(state) < expected + extra:
        assert time.monotonic() < deadline, (
            f"store has {events(state)} events, expected {expected + extra}:\n"
            + stack.thurac.log()[-2000:])
        time.sleep(REPLAY_SECONDS)
        result = stack.send("nudge@sender.test", [f"user@{LOCAL_DOMAIN}"],
                            b"Subject: nudge\r\n\r\nx\r\n", source_ip="127.0.0.21")
        assert result.ok
        extra += 1
    return extra


def recovered(stack: Stack, sink: CountingSink, state: Path, stream: Stream) -> None:
    """After the fault: every message accepted and delivered, and, once thurac has caught up
    and stopped, one event in the store per message."""
    result = stream.join()
    finish(result, stack.postfix, sink).assert_nothing_lost()
    assert result.accepted == MESSAGES
    extra = nudge_until_recorded(stack, state, MESSAGES)
    assert stack.thurac.stop() == 0
    assert events(state) == MESSAGES + extra


def assert_told_once(log: str, what: str) -> None:
    assert log.count(f"store {what} failing") == 1, log[-3000:]
    assert log.count(f"store {what} work again") == 1, log[-3000:]


def test_a_full_disk_costs_no_mail_and_no_history(
    stack_factory: Callable[..., Stack], counting_sink: CountingSink, state: Path,
) -> None:
    stack = start(stack_factory, counting_sink, state)
    stream = Stream(stack.postfix, MESSAGES, SESSIONS, recipient=f"user@{LOCAL_DOMAIN}",
                    pause=0.02).start()
    stream.wait_sent(30)
    print(f"disk filled with {faults.fill(state)} bytes")
    stream.wait_sent(80)
    faults.free(state)
    recovered(stack, counting_sink, state, stream)
    assert_told_once(stack.thurac.log(), "writes")


def test_another_process_locking_the_database_for_10s_delays_history_not_mail(
    stack_factory: Callable[..., Stack], counting_sink: CountingSink, state: Path,
) -> None:
    stack = start(stack_factory, counting_sink, state)
    stream = Stream(stack.postfix, MESSAGES, SESSIONS, recipient=f"user@{LOCAL_DOMAIN}",
                    pause=0.05).start()
    stream.wait_sent(20)
    with faults.sqlite_locked(state / "thurac.db", 10.0):
        stream.wait_sent(MESSAGES, timeout=120)
    recovered(stack, counting_sink, state, stream)
    assert "Traceback" not in stack.thurac.log()


def test_the_state_directory_moved_away_and_back_costs_no_mail_and_no_history(
    stack_factory: Callable[..., Stack], counting_sink: CountingSink, tmp_path: Path,
) -> None:
    state = tmp_path / "state-dir"
    stack = start(stack_factory, counting_sink, state)
    stream = Stream(stack.postfix, MESSAGES, SESSIONS, recipient=f"user@{LOCAL_DOMAIN}",
                    pause=0.02).start()
    stream.wait_sent(30)
    away = tmp_path / "state-dir.away"
    state.rename(away)  # an unmounted volume, a mistaken mv: the path names nothing
    stream.wait_sent(70)
    away.rename(state)
    recovered(stack, counting_sink, state, stream)
    log = stack.thurac.log()
    assert log.count(f"the store {state}/thurac.db is gone") == 1, log[-3000:]
    assert log.count("is there again (the same file)") == 1, log[-3000:]
