"""`thurac db purge`, on a real SQLite file and on a real PostgreSQL server: header blocks go
after database.header_log_days, events after database.event_days, in batches; quarantine
releases stay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select
from tests.store.test_store import NOW, inbound, migrated, record

from thurac.store.engine import make_engine, upgrade
from thurac.store.retention import purge
from thurac.store.schema import events, header_log, releases


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
