"""The shared store behind pgbouncer in transaction mode (each transaction may get another
server connection): thurac migrates, records and reads history through it, with several
readers at once and every statement run far more than the 5 times after which psycopg 3
would have prepared it on one server connection (docs/scaling.md: connection pooling)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from tests.store.test_spool import WAIT, records
from tests.store.test_store import inbound, settings
from tests.support.pgbouncer import TemporaryPgbouncer, unavailable_reason
from tests.support.postgres import TemporaryPostgres

from thurac.store.engine import make_engine, upgrade
from thurac.store.history import read_history
from thurac.store.recorder import Recorder
from thurac.store.schema import events

pytestmark = pytest.mark.postgres
pytest.importorskip("psycopg", reason="needs psycopg 3 (thurac[test])")

READERS = 4
READS = 15  # per reader: each statement well past psycopg 3's prepare_threshold of 5


@pytest.fixture
def bouncer(postgres_server: TemporaryPostgres) -> Iterator[TemporaryPgbouncer]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with TemporaryPgbouncer(postgres_server) as running:
        yield running


def test_history_is_recorded_and_read_whole_through_pgbouncer_in_transaction_mode(
    bouncer: TemporaryPgbouncer, postgres_database: str, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    engine = make_engine(bouncer.url_for(str(make_url(postgres_database).database)))
    upgrade(engine)  # its advisory lock lasts one transaction: pgbouncer keeps it
    # The records are dated NOW (test_store): buckets are kept whatever today's date is.
    recorder = Recorder(engine, keep_minutes=10 * 365 * 24 * 60)
    seen: list[int] = []
    failures: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(READS):
                with engine.connect() as conn:
                    history = read_history(
                        conn, inbound("burst@remote.test", ("x@example.test",)), settings())
                seen.append(history.window("sender", 600).messages)
        except BaseException as exc:
            failures.append(exc)

    try:
        for record in records(3):  # written before the readers start
            recorder.submit(record)
        assert recorder.flush(WAIT)
        readers = [threading.Thread(target=read) for _ in range(READERS)]
        for reader in readers:
            reader.start()
        for batch in range(10):  # ten transactions of the same INSERTs and upserts
            for record in records(2):
                recorder.submit(record)
            assert recorder.flush(WAIT), batch
        for reader in readers:
            reader.join()
    finally:
        recorder.close()
    assert not failures, failures[0]
    assert len(seen) == READERS * READS and min(seen) >= 3 and max(seen) <= 23
    assert "recorder" not in caplog.text and "failing" not in caplog.text, caplog.text
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 23
        last = read_history(conn, inbound("burst@remote.test", ("x@example.test",)),
                            settings())
    assert last.window("sender", 600).messages == 23
    engine.dispose()
