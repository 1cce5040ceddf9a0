"""The history store, on a real SQLite file and on a real PostgreSQL server (each story runs on
both): migrations match the schema, records become history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select

from thurac.config import Settings, parse_settings
from thurac.message import Connection, Message
from thurac.store.engine import current_revision, make_engine, upgrade
from thurac.store.history import read_history
from thurac.store.record import Record
from thurac.store.recorder import Recorder, purge_buckets, write_record
from thurac.store.schema import events, header_log, metadata, rate_buckets

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def settings() -> Settings:
    return parse_settings({"local": {"domains": ["example.test"]},
                           "unrelated_recipients": {"window": 3600}})


def migrated(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/sub/dir/thurac.db")
    upgrade(engine)
    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated store: an SQLite file, or a fresh database on the private PostgreSQL."""
    if request.param == "sqlite":
        made = migrated(tmp_path)
    else:
        made = make_engine(request.getfixturevalue("postgres_database"))
        upgrade(made)
    yield made
    made.dispose()


def inbound(sender: str, rcpts: tuple[str, ...], when: datetime = NOW,
            ip: str = "203.0.113.5", refs: str = "") -> Message:
    headers = [("From", sender), ("Message-ID", f"<{when.timestamp()}@x>")]
    if refs:
        headers.append(("In-Reply-To", refs))
    return Message(Connection(ip, helo="mail.remote.test"), sender, rcpts, tuple(headers),
                   b"body", received_at=when)


def record(engine: Engine, msg: Message, unrelated: tuple[str, ...] = ()) -> None:
    with engine.begin() as conn:
        write_record(conn, Record(msg, None, unrelated, settings().local.is_local_address))


def test_first_start_creates_the_folder_and_migrates_to_head(tmp_path: Path) -> None:
    engine = migrated(tmp_path)
    assert (tmp_path / "sub/dir/thurac.db").exists()
    assert current_revision(engine) == "0006"
    upgrade(engine)  # a second start changes nothing
    assert current_revision(engine) == "0006"


def test_sqlite_keeps_rate_buckets_in_key_order_and_the_upgrade_keeps_them(
        tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/thurac.db")
    upgrade(engine, "0004")
    record(engine, inbound("a@remote.test", ("u1@example.test",), NOW - timedelta(minutes=3)))
    upgrade(engine)
    with engine.connect() as conn:
        ddl = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'rate_buckets'").scalar_one()
        history = read_history(conn, inbound("a@remote.test", ("u3@example.test",)), settings())
    assert "WITHOUT ROWID" in ddl
    assert history.window("sender", 600).messages == 1
    engine.dispose()


def test_migrations_and_schema_module_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_recorded_messages_fill_the_sliding_windows(engine: Engine) -> None:
    for minutes_ago in (0, 5, 30, 90):
        record(engine, inbound("a@remote.test", ("u1@example.test", "u2@example.test"),
                               NOW - timedelta(minutes=minutes_ago)), ("u1@example.test",))
    with engine.connect() as conn:
        history = read_history(conn, inbound("a@remote.test", ("u3@example.test",)), settings())
    ten_min = history.window("sender", 600)
    assert (ten_min.messages, ten_min.recipients) == (2, 4)
    assert history.window("sender", 3600).messages == 3
    assert history.window("sender", 86400).messages == 4
    assert history.window("domain", 600).messages == 2
    assert history.window("sender", 3600).unrelated == 3
    assert history.sender_messages == 4
    assert not history.sender_written_to


def test_a_window_of_ten_minutes_holds_the_last_ten_minute_buckets(engine: Engine) -> None:
    for minutes_ago in (9, 10, 59, 60, 1439, 1440):
        record(engine, inbound("a@remote.test", ("u1@example.test",),
                               NOW - timedelta(minutes=minutes_ago)))
    with engine.connect() as conn:
        history = read_history(conn, inbound("a@remote.test", ("u3@example.test",)), settings())
    assert [history.window("ip", s).messages for s in (600, 3600, 86400)] == [1, 3, 5]
    assert history.window("sender", 86400) == history.window("domain", 86400)


def test_a_bounce_counts_by_client_ip_only(engine: Engine) -> None:
    # A sender without a domain leaves buckets under the domain '', which a bounce (no
    # sender, so no domain) must not read as its own.
    record(engine, inbound("postmaster", ("u1@example.test",), NOW - timedelta(minutes=1)))
    with engine.connect() as conn:
        history = read_history(conn, inbound("", ("u1@example.test",)), settings())
    assert history.window("ip", 600).messages == 1
    assert history.window("domain", 600).messages == 0
    assert ("domain", 600) not in history.windows


def test_outbound_mail_makes_the_recipient_a_correspondent(engine: Engine) -> None:
    out = Message(Connection("10.0.0.5"), "bob@example.test", ("carol@remote.test",),
                  (("Message-ID", "<q1@example.test>"),), b"", received_at=NOW,
                  direction="outbound")
    record(engine, out)
    with engine.connect() as conn:
        answer = read_history(conn, inbound("carol@remote.test", ("bob@example.test",
                                                                  "eve@example.test")),
                              settings())
        reply_elsewhere = read_history(
            conn, inbound("dan@remote.test", ("bob@example.test",), refs="<q1@example.test>"),
            settings())
    assert answer.sender_written_to
    assert answer.related_recipients == {"bob@example.test"}
    assert reply_elsewhere.related_recipients == {"bob@example.test"}


def test_background_recorder_writes_events_and_header_log(engine: Engine) -> None:
    recorder = Recorder(engine, keep_minutes=60)
    for n in range(5):
        recorder.submit(Record(inbound(f"s{n}@remote.test", ("u@example.test",)), None, (),
                               settings().local.is_local_address))
    assert recorder.flush()
    recorder.close()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 5
        headers = conn.execute(select(header_log.c.headers)).scalars().all()
    assert any("From: s3@remote.test" in h for h in headers)


def test_expired_rate_buckets_are_purged(engine: Engine) -> None:
    record(engine, inbound("a@remote.test", ("u@example.test",), NOW - timedelta(days=3)))
    record(engine, inbound("a@remote.test", ("u@example.test",), NOW))
    with engine.begin() as conn:
        purged = purge_buckets(conn, int((NOW - timedelta(days=1)).timestamp() // 60))
        left = conn.execute(select(func.count()).select_from(rate_buckets)).scalar()
    assert purged == 3  # sender, domain and ip buckets of the old message
    assert left == 3
