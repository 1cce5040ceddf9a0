"""A store URL that leads to a read-only standby (a replica named by mistake, or a primary a
failover demoted): the recorder's writes are refused there, and the history waits in the
spool, as in any outage, until the server is promoted; nothing is given up as bad data."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from tests.store.test_spool import WAIT, records
from tests.store.test_store import settings
from tests.support.postgres import TemporaryPostgres, TemporaryStandby

from thurac.store.engine import make_engine, upgrade
from thurac.store.recorder import Recorder
from thurac.store.schema import events
from thurac.store.spool import Spool

pytestmark = pytest.mark.postgres


def test_history_refused_by_a_read_only_standby_waits_in_the_spool_until_promotion(
    postgres_server: TemporaryPostgres, postgres_database: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    primary = make_engine(postgres_database)
    upgrade(primary)
    primary.dispose()
    with TemporaryStandby(postgres_server) as standby:
        engine = make_engine(standby.url_for(str(make_url(postgres_database).database)))
        spool = Spool(tmp_path / "spool.jsonl", 10_000_000, settings().local.is_local_address)
        recorder = Recorder(engine, keep_minutes=60, spool=spool, replay_every=0.2)
        try:
            for record in records(3):
                recorder.submit(record)
            assert recorder.flush(WAIT)
            assert len(list(spool.records())) == 3
            assert "gave up" not in caplog.text
            assert "read-only transaction" in caplog.text  # the server's own words, once

            standby.promote()
            deadline = time.monotonic() + WAIT
            while spool:
                assert time.monotonic() < deadline, "spool not replayed after promotion"
                time.sleep(0.05)
            with engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 3
        finally:
            recorder.close()
            engine.dispose()
