"""The hot statements run on the driver's connection (thurac.store.raw) store and read what
SQLAlchemy would, on a real SQLite file and a real PostgreSQL, and fail the way it does."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError

from thurac.store import raw
from thurac.store.engine import make_engine, upgrade
from thurac.store.schema import correspondents, senders

WHEN = datetime(2026, 11, 23, 10, 0, 5, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (f"sqlite:///{tmp_path}/thurac.db" if request.param == "sqlite"
           else request.getfixturevalue("postgres_database"))
    made = make_engine(url)
    upgrade(made)
    yield made
    made.dispose()


def pair(local: str, remote: str, sent: int) -> dict[str, object]:
    # no "released": the column's Python-side default (0) fills it, as SQLAlchemy's would
    return {"local": local, "remote": remote, "first_seen": WHEN, "last_seen": WHEN,
            "sent": sent, "received": 0}


def test_rows_written_raw_read_back_the_same_through_sqlalchemy(engine: Engine) -> None:
    with engine.begin() as conn:
        raw.execute_many(conn, correspondents.insert(),
                         [pair("a@example.test", "x@remote.test", 1),
                          pair("b@example.test", "x@remote.test", 0),
                          pair("c@example.test", "x@remote.test", 2)])
    with engine.connect() as conn:
        stored = conn.execute(select(correspondents).order_by(correspondents.c.local)).all()
        asked = (select(correspondents.c.local)
                 .where(correspondents.c.remote == bindparam("remote"),
                        correspondents.c.sent > 0,
                        correspondents.c.local.in_(bindparam("locals", expanding=True))))
        found = raw.rows(conn, asked, {"remote": "x@remote.test",
                                       "locals": ["a@example.test", "b@example.test",
                                                  "c@example.test", "d@example.test"]})
        one = raw.rows(conn, asked, {"remote": "x@remote.test", "locals": ["c@example.test"]})
    # the datetime went through the dialect's own processor: it reads back as written
    assert [(r.local, r.released, r.first_seen.replace(tzinfo=UTC)) for r in stored] == [
        ("a@example.test", 0, WHEN), ("b@example.test", 0, WHEN), ("c@example.test", 0, WHEN)]
    assert sorted(r for r, in found) == ["a@example.test", "c@example.test"]
    assert one == [("c@example.test",)]
    with engine.connect() as conn, pytest.raises(ValueError, match="empty IN list"):
        raw.rows(conn, asked, {"remote": "x@remote.test", "locals": []})


def test_a_duplicate_key_is_sqlalchemys_integrity_error(engine: Engine) -> None:
    row = {"address": "s@remote.test", "first_seen": WHEN, "last_seen": WHEN, "messages": 1}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        raw.execute_many(conn, senders.insert(), [row, row])
    with engine.connect() as conn:
        assert conn.execute(select(senders)).all() == []  # the transaction was rolled back


def test_a_locked_sqlite_store_is_sqlalchemys_operational_error(tmp_path: Path) -> None:
    """The recorder spools a batch when the database is away, told by OperationalError."""
    url = f"sqlite:///{tmp_path}/thurac.db"
    made = make_engine(url)
    upgrade(made)
    holder = sqlite3.connect(tmp_path / "thurac.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with made.begin() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout=50")
            with pytest.raises(OperationalError, match="locked"):
                raw.execute_many(conn, senders.insert(), [
                    {"address": "s@remote.test", "first_seen": WHEN, "last_seen": WHEN,
                     "messages": 1}])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        made.dispose()
