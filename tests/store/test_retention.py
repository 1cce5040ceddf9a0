"""`thurac db purge`, on a real SQLite file and on a real PostgreSQL server: header blocks go
after database.header_log_days, events after database.event_days, in batches; quarantine
releases stay. Rate buckets go after the longest window; correspondents, senders and sent
Message-IDs after database.correspondent_days without being seen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, func, insert, select
from tests.store.test_store import NOW, inbound, migrated, record

from thurac.message import Connection, Message
from thurac.store.engine import make_engine, upgrade
from thurac.store.retention import purge, purge_counters
from thurac.store.schema import (
    correspondents,
    events,
    header_log,
    rate_buckets,
    releases,
    senders,
    sent_messages,
)


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


def received(engine: Engine, days_ago: int) -> str:
    """Record one inbound message from `age<days_ago>@remote.test`; return its sender."""
    sender = f"age{days_ago}@remote.test"
    record(engine, inbound(sender, ("u@example.test",), NOW - timedelta(days=days_ago)))
    return sender


def senders_of(engine: Engine, with_headers: bool = False) -> set[str]:
    query = select(events.c.sender)
    if with_headers:
        query = query.join(header_log, header_log.c.event_id == events.c.id)
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def test_header_blocks_go_after_header_log_days_while_their_events_stay(engine: Engine) -> None:
    # Decree 91/2020 art. 10.6: headers kept at least database.header_log_days (>= 180);
    # the statistics reports count events for longer (database.event_days).
    young, old, older, oldest = (received(engine, d) for d in (179, 181, 399, 401))

    purged = purge(engine, header_log_days=180, event_days=400, now=NOW)

    assert (purged.header_log, purged.events) == (3, 1)
    assert purged.header_log_before == NOW - timedelta(days=180)
    assert purged.events_before == NOW - timedelta(days=400)
    assert senders_of(engine) == {young, old, older}
    assert senders_of(engine, with_headers=True) == {young}
    assert oldest not in senders_of(engine)


def test_a_second_purge_finds_nothing_more(engine: Engine) -> None:
    received(engine, 500)
    received(engine, 10)
    assert purge(engine, 180, 400, now=NOW).events == 1
    again = purge(engine, 180, 400, now=NOW)
    assert (again.header_log, again.events) == (0, 0)
    assert len(senders_of(engine)) == 1


def test_a_big_purge_goes_in_batches_and_counts_every_row(engine: Engine) -> None:
    for n in range(7):
        record(engine, inbound(f"bulk{n}@remote.test", ("u@example.test",),
                               NOW - timedelta(days=450, minutes=n)))
    kept = received(engine, 1)

    purged = purge(engine, 180, 400, now=NOW, batch=3)  # 3 + 3 + 1 rows, each table

    assert (purged.header_log, purged.events) == (7, 7)
    assert senders_of(engine) == {kept}


def test_a_released_message_keeps_its_release_when_its_event_goes(engine: Engine) -> None:
    received(engine, 450)
    with engine.begin() as conn:
        event_id = conn.execute(select(events.c.id)).scalar_one()
        conn.execute(insert(releases).values(
            queue_id="4Y2Kq70Zf1z9vB", event_id=event_id, released_at=NOW - timedelta(days=449),
            released_by="admin", sender="age450@remote.test", recipients='["u@example.test"]'))

    assert purge(engine, 180, 400, now=NOW).events == 1

    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 0
        kept = conn.execute(select(releases.c.queue_id, releases.c.event_id)).all()
    assert [tuple(row) for row in kept] == [("4Y2Kq70Zf1z9vB", None)]


def test_events_kept_shorter_than_their_headers_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="event_days must be at least header_log_days"):
        purge(engine, header_log_days=365, event_days=200, now=NOW)


def test_now_given_in_hanoi_time_is_the_same_instant(engine: Engine) -> None:
    edge = NOW - timedelta(days=180)
    record(engine, inbound("inside@remote.test", ("u@example.test",), edge + timedelta(hours=3)))
    record(engine, inbound("past@remote.test", ("u@example.test",), edge - timedelta(hours=3)))

    purged = purge(engine, 180, 400, now=NOW.astimezone(timezone(timedelta(hours=7))))

    assert purged.header_log == 1
    assert senders_of(engine, with_headers=True) == {"inside@remote.test"}


def sent(engine: Engine, local: str, remote: str, days_ago: int) -> None:
    """Our user `local` writes to `remote`: a correspondence and a sent Message-ID."""
    when = NOW - timedelta(days=days_ago)
    msg = Message(Connection("127.0.0.1", helo="ws.example.test", auth_user=local), local,
                  (remote,), (("From", local), ("Message-ID", f"<{local}.{days_ago}@x>")),
                  b"body", received_at=when, direction="outbound")
    record(engine, msg)


def rows(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def pairs(engine: Engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        found = conn.execute(select(correspondents.c.local, correspondents.c.remote)).all()
    return {(local, remote) for local, remote in found}


def test_correspondents_senders_and_sent_ids_not_seen_for_a_year_are_forgotten(
    engine: Engine,
) -> None:
    sent(engine, "old@example.test", "friend@remote.test", 400)
    sent(engine, "keen@example.test", "friend@remote.test", 400)
    sent(engine, "keen@example.test", "friend@remote.test", 3)  # still writing: last_seen now
    received(engine, 366)  # age366@remote.test last wrote more than a year ago
    received(engine, 10)

    purged = purge_counters(engine, bucket_minutes=1442, correspondent_days=365, now=NOW)

    # old -> friend, and age366 -> u (inbound mail makes a pair too); two sent Message-IDs
    assert (purged.correspondents, purged.senders, purged.sent_messages) == (2, 1, 2)
    assert purged.seen_before == NOW - timedelta(days=365)
    assert pairs(engine) == {("keen@example.test", "friend@remote.test"),
                             ("u@example.test", "age10@remote.test")}
    with engine.connect() as conn:
        assert set(conn.execute(select(senders.c.address)).scalars()) == {"age10@remote.test"}
        assert list(conn.execute(select(sent_messages.c.message_id)).scalars()) == [
            "keen@example.test.3@x"]


def test_rate_buckets_go_once_the_longest_window_has_passed_them(engine: Engine) -> None:
    record(engine, inbound("a@remote.test", ("u@example.test",), NOW - timedelta(minutes=30)))
    record(engine, inbound("b@remote.test", ("u@example.test",), NOW - timedelta(hours=25)),
           ("u@example.test",))

    purged = purge_counters(engine, bucket_minutes=24 * 60 + 2, correspondent_days=365, now=NOW)

    assert purged.buckets == 3  # b's sender, domain and IP buckets of 25 hours ago
    with engine.connect() as conn:
        assert set(conn.execute(select(rate_buckets.c.key)).scalars()) == {
            "a@remote.test", "remote.test", "203.0.113.5"}
    assert purge_counters(engine, 24 * 60 + 2, 365, now=NOW).buckets == 0


def test_a_big_counter_purge_goes_in_batches_and_counts_every_row(engine: Engine) -> None:
    for n in range(7):
        sent(engine, f"user{n}@example.test", f"far{n}@remote.test", 500)
    sent(engine, "user3@example.test", "near@remote.test", 1)  # between the old ones

    purged = purge_counters(engine, 1442, 365, now=NOW, batch=3)  # key walk: 3 + 3 + 2 rows

    assert (purged.correspondents, purged.sent_messages) == (7, 7)
    assert pairs(engine) == {("user3@example.test", "near@remote.test")}
    assert rows(engine, sent_messages) == 1
