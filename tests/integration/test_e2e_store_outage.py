"""The administrator's story of a shared PostgreSQL store going away, through a real Postfix:
mail keeps flowing (scored without history, never refused or deferred for it), the history
waits in the local spool, and when the database is back it is replayed once, so the next
message is judged on everything that came before. Also: thurac started while the database
is down migrates the store once it answers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool
from tests.integration.conftest import Stack, message
from tests.support.postgres import TemporaryPostgres, postgres_or_skip

from thurac.store.engine import alembic_config, current_revision
from thurac.store.schema import events, rate_buckets, senders

pytest.importorskip("psycopg2", reason="the PostgreSQL tests need psycopg2 (thurac[test])")
pytestmark = [pytest.mark.postfix, pytest.mark.postgres]

SENDER = "news@partner.test"
SENDER_IP = "127.0.0.12"
REPLAY_SECONDS = 0.5  # production: 30 s
WAIT = 20.0  # seconds any background step (recording, spooling, replay) may take here
UNAVAILABLE = "THURAC_HISTORY_UNAVAILABLE"
REPLAYED = "recorder: replayed"  # and not "... not replayed yet" while the database is away


@pytest.fixture
def postgres() -> Iterator[TemporaryPostgres]:
    """A server of this test's own: the test stops and starts it."""
    yield from postgres_or_skip()


@pytest.fixture
def db(postgres: TemporaryPostgres) -> Iterator[Engine]:
    """The test's own look at the store: no pool, so an outage leaves no dead connections."""
    engine = create_engine(postgres.url, poolclass=NullPool)
    yield engine
    engine.dispose()


def store_config(postgres: TemporaryPostgres, tmp_path: Path) -> dict[str, Any]:
    return {
        # tempfail on internal errors: a message refused or deferred because the store is
        # away would show here as a 4xx.
        "milter": {"on_error": "tempfail"},
        "database": {"url": postgres.url, "spool_path": str(tmp_path / "spool.jsonl"),
                     "spool_replay_seconds": REPLAY_SECONDS},
        # One message per 10 minutes is this sender's limit: the count in the reason shows
        # how much history the verdict saw.
        "frequency": {"windows": [{"seconds": 600,
                                   "messages": {"sender": 1, "domain": 100, "ip": 100},
                                   "recipients": {"sender": 100, "domain": 100, "ip": 100}}]},
        # Far above any score here: every message is delivered, tagged.
        "actions": {"add_header": 100.0, "quarantine": 200.0, "reject": 300.0},
    }


def wait_until(what: str, condition: Callable[[], Any], stack: Stack) -> Any:
    deadline = time.monotonic() + WAIT
    while not (result := condition()):
        assert time.monotonic() < deadline, (
            f"not within {WAIT}s: {what}\n{stack.thurac.log()[-4000:]}")
        time.sleep(0.05)
    return result


def well_run_sender(stack: Stack) -> None:
    """MX, A and matching PTR: nothing about the sender's DNS counts against it."""
    stack.dns.add("partner.test", "MX", "10 mail.partner.test")
    stack.dns.add("mail.partner.test", "A", SENDER_IP)
    stack.dns.add_ptr(SENDER_IP, "mail.partner.test")


def send(stack: Stack, subject: str, rcpt: str) -> tuple[str, str, str]:
    """One message from SENDER; delivered with our headers. (queue id, X-Spam-Status, report)"""
    result = stack.send(SENDER, [rcpt], message(SENDER, rcpt, subject), source_ip=SENDER_IP,
                        helo="mail.partner.test")
    assert result.ok and result.code == 250, (subject, result.code, result.message)
    assert result.queue_id
    got = stack.sink.wait_for(lambda m: m.subject == subject)
    assert got.headers("X-Spam-Flag") == ["NO"]
    assert len(got.headers("X-Spam-Score")) == 1
    (status,) = got.headers("X-Spam-Status")
    (report,) = got.headers("X-Thurac-Report")
    assert stack.thurac.process is not None and stack.thurac.process.poll() is None
    return result.queue_id, status, report


def spool_lines(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except FileNotFoundError:
        return 0


def event_counts(db: Engine) -> dict[str, int]:
    """Rows per queue id in the events table (none while the table does not exist yet:
    the recorder creates it when it migrates a store that came up empty)."""
    try:
        with db.connect() as conn:
            rows = conn.execute(select(events.c.queue_id, func.count())
                                .group_by(events.c.queue_id)).all()
    except ProgrammingError:
        return {}
    return {queue_id: count for queue_id, count in rows}


def sender_counters(db: Engine) -> tuple[int, dict[str, int]]:
    """senders.messages of SENDER, and the sum of its rate buckets per kind."""
    with db.connect() as conn:
        messages = conn.execute(select(senders.c.messages)
                                .where(senders.c.address == SENDER)).scalar_one()
        buckets = conn.execute(
            select(rate_buckets.c.kind, func.sum(rate_buckets.c.messages))
            .where(rate_buckets.c.key.in_([SENDER, "partner.test", SENDER_IP]))
            .group_by(rate_buckets.c.kind)).all()
    return messages, {kind: int(total) for kind, total in buckets}


def freq_count(report: str) -> int:
    """The message count C22_FREQ_SENDER saw (this message included)."""
    found = re.search(rf"C22_FREQ_SENDER\([\d.]+\): sender {re.escape(SENDER)}: (\d+) msgs/",
                      report)
    assert found, report
    return int(found.group(1))


def test_mail_flows_through_a_database_outage_and_history_comes_back_whole(
    postgres: TemporaryPostgres, db: Engine, stack_factory: Callable[..., Stack],
    tmp_path: Path,
) -> None:
    # postgres before stack_factory: thurac and Postfix stop before the database does.
    spool = tmp_path / "spool.jsonl"
    stack = stack_factory(store_config(postgres, tmp_path))
    well_run_sender(stack)
    queue_ids: list[str] = []

    # 1. The store is up: the first message is scored with history and recorded.
    first, status, _ = send(stack, "issue 0", "user0@example.test")
    queue_ids.append(first)
    assert UNAVAILABLE not in status
    wait_until("first message recorded", lambda: event_counts(db).get(first) == 1, stack)

    # 2. The database goes away. Mail is still delivered, tagged, scored without history.
    postgres.shut_down()
    down = 4
    for n in range(1, down + 1):
        queue_id, status, report = send(stack, f"issue {n}", f"user{n}@example.test")
        queue_ids.append(queue_id)
        assert UNAVAILABLE in status and f"{UNAVAILABLE}(0): history store unreadable" in report
        assert "C22_FREQ_SENDER" not in status  # no history, so no count to hold against it
    wait_until(f"{down} records spooled", lambda: spool_lines(spool) == down, stack)
    assert "spooled to" in stack.thurac.log()
    assert REPLAYED not in stack.thurac.log()

    # 3. The database is back with its data: the spool is replayed, every message once.
    postgres.start_again()
    wait_until("spool replayed", lambda: REPLAYED in stack.thurac.log() and not spool.exists(),
               stack)
    assert f"{REPLAYED} {down} spooled record(s)" in stack.thurac.log()
    assert event_counts(db) == {queue_id: 1 for queue_id in queue_ids}
    assert sender_counters(db) == (1 + down, {"sender": 1 + down, "domain": 1 + down,
                                              "ip": 1 + down})

    # 4. The next message sees the whole history, outage included.
    last, status, report = send(stack, "issue last", "user9@example.test")
    assert UNAVAILABLE not in status and "C22_FREQ_SENDER" in status
    assert freq_count(report) == 1 + down + 1  # the earlier ones and itself
    line = stack.thurac.log_line_for(last)
    assert "C22_FREQ_SENDER" in line and UNAVAILABLE not in line
    wait_until("last message recorded", lambda: event_counts(db).get(last) == 1, stack)
    assert sender_counters(db)[0] == 1 + down + 1
    assert "internal error" not in stack.thurac.log()
    assert stack.thurac.stop() == 0


def test_thurac_started_while_the_database_is_down_migrates_it_when_it_answers(
    postgres: TemporaryPostgres, db: Engine, stack_factory: Callable[..., Stack],
    tmp_path: Path,
) -> None:
    # postgres before stack_factory: thurac and Postfix stop before the database does.
    spool = tmp_path / "spool.jsonl"
    postgres.shut_down()  # the database exists, empty; the server is down
    stack = stack_factory(store_config(postgres, tmp_path))
    assert "store not ready, running without history until it is" in stack.thurac.log()
    well_run_sender(stack)

    # Mail flows, without history; the history waits in the spool.
    queue_ids = []
    for n in range(2):
        queue_id, status, _ = send(stack, f"early {n}", f"user{n}@example.test")
        queue_ids.append(queue_id)
        assert UNAVAILABLE in status
    wait_until("2 records spooled", lambda: spool_lines(spool) == 2, stack)

    # The database comes up with no schema: thurac migrates it, then replays the spool.
    postgres.start_again()
    wait_until("spool replayed", lambda: REPLAYED in stack.thurac.log() and not spool.exists(),
               stack)
    assert "store migrated" in stack.thurac.log()
    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    assert current_revision(db) == head
    assert event_counts(db) == {queue_id: 1 for queue_id in queue_ids}
    assert sender_counters(db) == (2, {"sender": 2, "domain": 2, "ip": 2})

    # History works from now on.
    last, status, report = send(stack, "later", "user5@example.test")
    assert UNAVAILABLE not in status
    assert freq_count(report) == 3
    wait_until("later message recorded", lambda: event_counts(db).get(last) == 1, stack)
    assert stack.thurac.stop() == 0


def test_a_store_that_comes_up_empty_before_any_mail_is_migrated_by_the_first_message(
    postgres: TemporaryPostgres, db: Engine, stack_factory: Callable[..., Stack],
    tmp_path: Path,
) -> None:
    postgres.shut_down()
    stack = stack_factory(store_config(postgres, tmp_path))
    assert "store not ready" in stack.thurac.log()
    postgres.start_again()  # up, but without thurac's tables: nothing is spooled yet
    well_run_sender(stack)

    first, status, _ = send(stack, "first", "user0@example.test")
    assert UNAVAILABLE in status  # read before the recorder migrated the store
    wait_until("first message recorded", lambda: event_counts(db).get(first) == 1, stack)
    assert "store migrated" in stack.thurac.log()
    assert "spooled to" not in stack.thurac.log()

    _, status, report = send(stack, "second", "user1@example.test")
    assert UNAVAILABLE not in status
    assert freq_count(report) == 2
    assert stack.thurac.stop() == 0


def test_connections_exhausted_by_another_client_cost_no_mail_and_no_history(
    postgres: TemporaryPostgres, db: Engine, stack_factory: Callable[..., Stack],
    tmp_path: Path,
) -> None:
    import psycopg2

    spool = tmp_path / "spool.jsonl"
    stack = stack_factory(store_config(postgres, tmp_path))
    well_run_sender(stack)
    first, _, _ = send(stack, "before", "user0@example.test")
    wait_until("first message recorded", lambda: event_counts(db).get(first) == 1, stack)

    # Another client takes every connection max_connections allows; thurac restarts then
    # (its pool is empty, as after any restart or a dropped connection).
    stack.thurac.stop()
    hogs = []
    try:
        for _ in range(200):  # bounded: max_connections is 50 here
            try:
                hogs.append(psycopg2.connect(postgres.url.replace("+psycopg2", ""),
                                             connect_timeout=3))
            except psycopg2.OperationalError as exc:
                assert "too many clients" in str(exc) or "reserved" in str(exc), exc
                break
        print(f"another client holds {len(hogs)} connections")
        stack.thurac.start()
        queue_ids = [first]
        for n in range(3):
            queue_id, status, _ = send(stack, f"exhausted {n}", f"user{n + 1}@example.test")
            queue_ids.append(queue_id)
            assert UNAVAILABLE in status
        wait_until("3 records spooled", lambda: spool_lines(spool) == 3, stack)
    finally:
        for hog in hogs:
            hog.close()
    wait_until("spool replayed", lambda: REPLAYED in stack.thurac.log() and not spool.exists(),
               stack)
    assert event_counts(db) == {queue_id: 1 for queue_id in queue_ids}
    log = stack.thurac.log()
    assert log.count("store reads failing") <= 1 and log.count("store writes failing") == 1
    assert stack.thurac.stop() == 0
