"""What only a shared PostgreSQL store has to get right (tests/store/test_store.py runs the
common stories on PostgreSQL too): several MX hosts writing the same sender's counters at once,
time zones, retention, and PostgreSQL's refusal of NUL in text."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, func, select, text
from tests.store.test_store import NOW, inbound, record, settings

from thurac.cli import main
from thurac.history import History
from thurac.message import Connection, Message
from thurac.store.engine import current_revision, make_engine, upgrade
from thurac.store.history import read_history
from thurac.store.record import Record
from thurac.store.recorder import Recorder
from thurac.store.schema import (
    correspondents,
    events,
    header_log,
    metadata,
    rate_buckets,
    senders,
    sent_messages,
)

pytest.importorskip("psycopg2", reason="the PostgreSQL tests need psycopg2 (thurac[test])")
pytestmark = pytest.mark.postgres

HOSTS = 2  # MX hosts sharing one history: one engine and one Recorder each
THREADS_PER_HOST = 4  # SMTP sessions on each host
MESSAGES_PER_THREAD = 40
BULK_SENDER = "bulk@spam.test"
FLUSH_TIMEOUT = 60.0


@pytest.fixture
def engines(postgres_database: str) -> Iterator[Callable[[], Engine]]:
    """engines() -> a new engine on the test database (first call migrates it), disposed after."""
    made: list[Engine] = []

    def make() -> Engine:
        engine = make_engine(postgres_database)
        if not made:
            upgrade(engine)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


@pytest.fixture
def engine(engines: Callable[[], Engine]) -> Engine:
    return engines()


def history_of(engine: Engine, msg: Message) -> History:
    with engine.connect() as conn:
        return read_history(conn, msg, settings())


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def test_first_start_migrates_to_head_and_matches_the_schema_module(postgres_database: str) -> None:
    engine = make_engine(postgres_database)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == "0006"
        upgrade(engine)  # a second MX host starting on the same database changes nothing
        assert current_revision(engine) == "0006"
        with engine.connect() as conn:
            assert conn.dialect.name == "postgresql"
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_times_come_back_as_the_same_instant_whatever_the_session_time_zone(
        engine: Engine, postgres_database: str) -> None:
    hanoi = timezone(timedelta(hours=7))
    record(engine, inbound("tz@remote.test", ("u@example.test",), NOW.astimezone(hanoi)))
    other = create_engine(postgres_database,
                          connect_args={"options": "-c timezone=America/New_York"})
    try:
        with other.connect() as conn:
            assert conn.execute(text("SHOW timezone")).scalar() == "America/New_York"
            stored = conn.execute(select(events.c.received_at)).scalar_one()
            first_seen = conn.execute(select(senders.c.first_seen)).scalar_one()
    finally:
        other.dispose()
    assert stored == NOW and first_seen == NOW
    assert stored.utcoffset() is not None  # timestamptz, not a naive local time


def test_db_purge_deletes_header_log_and_events_past_retention(
        engine: Engine, postgres_database: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    for sender, days in (("gone@remote.test", 420), ("counted@remote.test", 200),
                         ("new@remote.test", 170)):
        record(engine, inbound(sender, ("u@example.test",), now - timedelta(days=days)))
    config = tmp_path / "thurac.yaml"
    config.write_text(yaml.safe_dump({
        "database": {"url": postgres_database, "header_log_days": 180, "event_days": 400},
        "local": {"domains": ["example.test"]},
    }))
    assert main(["db", "purge", "--config", str(config)]) == 0
    assert ("purged 2 header-log entries older than 180 days and 1 events older than 400 days"
            in capsys.readouterr().out)
    with engine.connect() as conn:
        assert set(conn.execute(select(events.c.sender)).scalars()) == {
            "counted@remote.test", "new@remote.test"}  # the statistics still count it
        assert conn.execute(select(events.c.sender).join(
            header_log, header_log.c.event_id == events.c.id)).scalars().all() == [
            "new@remote.test"]


def bulk_message(host: int, n: int, now: datetime) -> Message:
    """One message of a spam run that reaches every MX host: same sender, several minutes."""
    return Message(Connection(f"203.0.113.{host + 1}", helo="bulk.spam.test"), BULK_SENDER,
                   (f"u{n % 3}@example.test", "all@example.test"),
                   (("From", BULK_SENDER), ("Message-ID", f"<{host}.{n}@spam.test>")),
                   b"buy", queue_id=f"Q{host}x{n}", received_at=now - timedelta(minutes=n % 3))


def test_two_mx_hosts_recording_one_sender_at_once_see_the_exact_sum(
        engines: Callable[[], Engine], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="thurac.recorder")
    hosts = [engines() for _ in range(HOSTS)]
    recorders = [Recorder(engine, keep_minutes=24 * 60) for engine in hosts]
    is_local = settings().local.is_local_address
    start = threading.Barrier(HOSTS * THREADS_PER_HOST)
    now = datetime.now(UTC)  # the recorders purge buckets by the clock: no fixed date here

    def smtp_session(host: int, thread: int) -> None:
        start.wait(10)
        for i in range(MESSAGES_PER_THREAD):
            n = thread * MESSAGES_PER_THREAD + i
            recorders[host].submit(Record(bulk_message(host, n, now), None, (), is_local))

    threads = [threading.Thread(target=smtp_session, args=(h, t))
               for h in range(HOSTS) for t in range(THREADS_PER_HOST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert all(r.flush(FLUSH_TIMEOUT) for r in recorders)
    finally:
        for recorder in recorders:
            recorder.close()

    per_host = THREADS_PER_HOST * MESSAGES_PER_THREAD
    total = HOSTS * per_host
    assert "failed" not in caplog.text, caplog.text  # no deadlock between the hosts, no retry
    for host, engine in enumerate(hosts):
        history = history_of(engine, bulk_message(host, 0, now))
        day = history.window("sender", 86400)
        assert (day.messages, day.recipients) == (total, 2 * total)
        assert history.window("domain", 86400).messages == total
        assert history.window("ip", 86400).messages == per_host  # this host's client only
        assert history.sender_messages == total
        assert count(engine, events) == total
        assert count(engine, header_log) == total
    with hosts[0].connect() as conn:
        received = dict(conn.execute(select(correspondents.c.local, correspondents.c.received)
                                     .where(correspondents.c.remote == BULK_SENDER)).all())
        buckets = dict(conn.execute(select(rate_buckets.c.minute, rate_buckets.c.messages)
                                    .where(rate_buckets.c.kind == "sender")).all())
    assert received["all@example.test"] == total
    assert sum(received.values()) == 2 * total
    # One row per minute, however many writers raced to create it, holding every message.
    newest = int(now.timestamp() // 60)
    assert buckets == {newest - k: sum(1 for n in range(per_host) if n % 3 == k) * HOSTS
                       for k in range(3)}


JUNK = "\x00caf\udce9\udcff"  # a NUL and two raw 8-bit bytes, as pymilter hands them over


def junk_messages(now: datetime) -> list[Message]:
    sender = f"x{JUNK}@junk.test"
    inbound_junk = Message(
        Connection("203.0.113.9", client_name=f"ptr{JUNK}.test", helo=f"helo{JUNK}",
                   tls_version=f"TLS{JUNK}"),
        sender, (f"u{JUNK}@example.test", "u@example.test"),
        (("From", f"Caf\udce9 <{sender}>"), ("Subject", f"8-bit {JUNK} subject"),
         ("Message-ID", f"<in{JUNK}@junk.test>"), ("X-Nul", "a\x00b")),
        b"body\x00\xff", queue_id=f"Q{JUNK}", received_at=now)
    outbound_junk = Message(
        Connection("10.0.0.5", auth_user=f"bob{JUNK}"), "bob@example.test",
        (f"r{JUNK}@remote.test",),
        (("From", "bob@example.test"), ("Message-ID", f"<out{JUNK}@example.test>")),
        b"", received_at=now, direction="outbound")
    return [inbound_junk, inbound_junk, outbound_junk]


def test_8bit_junk_and_nul_in_headers_and_addresses_are_stored(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="thurac.recorder")
    now = datetime.now(UTC)  # the recorder purges buckets by the clock: no fixed date here
    recorder = Recorder(engine, keep_minutes=60)
    for msg in junk_messages(now):
        recorder.submit(Record(msg, None, (), settings().local.is_local_address))
    assert recorder.flush(FLUSH_TIMEOUT)
    recorder.close()
    assert not [r for r in caplog.records if r.name == "thurac.recorder"]  # nothing refused
    assert count(engine, events) == 3 and count(engine, header_log) == 3
    with engine.connect() as conn:
        stored = conn.execute(select(events.c.sender, events.c.helo, events.c.queue_id)).all()
        blocks = conn.execute(select(header_log.c.headers)).scalars().all()
        addresses = conn.execute(select(senders.c.address)).scalars().all()
        ids = conn.execute(select(sent_messages.c.message_id)).scalars().all()
    every = [v for row in stored for v in row] + blocks + addresses + ids
    assert every and not any("\x00" in v for v in every)
    "".join(every).encode("utf-8")  # valid text: a smuggled surrogate would raise here
    assert any("caf\ufffd" in b and "a\ufffdb" in b for b in blocks)

    # What was stored is found again under the same (sanitised) keys.
    inbound_junk, _, outbound_junk = junk_messages(now)
    history = history_of(engine, inbound_junk)
    assert history.window("sender", 600).messages == 2
    assert history.sender_messages == 2
    reply = history_of(engine, inbound(
        f"r{JUNK}@remote.test", ("bob@example.test",), refs=f"<out{JUNK}@example.test>"))
    assert reply.sender_written_to
    assert reply.related_recipients == {"bob@example.test"}
    assert outbound_junk.message_id  # the junk id really was a Message-ID
