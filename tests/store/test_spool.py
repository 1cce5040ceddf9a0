"""While the database is away, history goes to a local spool; it comes back when the database
does, and nothing is counted twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.store.test_store import inbound, settings

import thurac.store.recorder as recorder_module
from thurac.config import DatabaseSettings
from thurac.errors import StoreError
from thurac.store.engine import make_engine, upgrade
from thurac.store.history import read_history
from thurac.store.record import Record, record_from_dict, record_to_dict
from thurac.store.recorder import Recorder
from thurac.store.schema import events, senders
from thurac.store.spool import Spool, spool_path_for
from thurac.symbols import Symbol
from thurac.verdict import decide

WAIT = 20.0  # seconds a background replay may take at most here


def records(count: int) -> list[Record]:
    verdict = decide([Symbol("C22_FREQ_SENDER", 4.0, "47 msgs/1h > 30")],
                     settings().actions)
    return [Record(inbound("burst@remote.test", (f"u{n}@example.test",)), verdict,
                   (f"u{n}@example.test",), settings().local.is_local_address)
            for n in range(count)]


def test_history_survives_a_database_outage_and_is_replayed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(recorder_module, "REPLAY_EVERY", 0.2)
    db_dir = tmp_path / "db"  # missing: the database cannot be opened
    engine = make_engine(f"sqlite:///{db_dir}/thurac.db", create=False)
    spool = Spool(tmp_path / "spool.jsonl", 10_000_000, settings().local.is_local_address)
    recorder = Recorder(engine, keep_minutes=60, spool=spool)
    try:
        for record in records(5):
            recorder.submit(record)
        assert recorder.flush(WAIT)
        assert len(spool.path.read_text().splitlines()) == 5

        db_dir.mkdir()  # the database is back
        upgrade(engine)
        deadline = time.monotonic() + WAIT
        while spool:
            assert time.monotonic() < deadline, "spool not replayed"
            time.sleep(0.05)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(events)).scalar() == 5
            assert conn.execute(select(senders.c.messages)).scalar() == 5
            history = read_history(conn, inbound("burst@remote.test", ("x@example.test",)),
                                   settings())
        assert history.window("sender", 600).messages == 5
        assert history.window("sender", 600).unrelated == 5
    finally:
        recorder.close()


def test_a_spooled_record_comes_back_as_it_went_in() -> None:
    original = records(1)[0]
    junk = inbound("a\udcff@remote.test", ("u@example.test",), refs="<\udcfe@x>")
    for record in (original, Record(junk, None, (), original.is_local)):
        back = record_from_dict(record_to_dict(record), record.is_local)
        assert back.message.headers == record.message.headers
        assert back.message.sender == record.message.sender
        assert back.message.received_at == record.message.received_at
        assert back.verdict == record.verdict
        assert back.unrelated == record.unrelated


def test_a_full_spool_takes_no_more_than_its_bound(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl", 3000, settings().local.is_local_address)
    kept = spool.append(records(20))
    assert 0 < kept < 20
    assert spool.path.stat().st_size <= 3000


def test_what_neither_the_database_nor_a_full_spool_takes_waits_in_memory_and_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(recorder_module, "REPLAY_EVERY", 0.2)
    db_dir = tmp_path / "db"  # missing: the database cannot be opened
    engine = make_engine(f"sqlite:///{db_dir}/thurac.db", create=False)
    spool = Spool(tmp_path / "spool.jsonl", 3000, settings().local.is_local_address)
    recorder = Recorder(engine, keep_minutes=60, spool=spool)
    try:
        for record in records(12):
            recorder.submit(record)
        assert recorder.flush(WAIT)
        on_disk = sum(len(chunk) for chunk in spool.chunks(100))
        assert 0 < on_disk < 12  # the rest is in memory
        assert caplog.text.count("store writes failing") == 1
        assert caplog.text.count("keeping history in memory") == 1

        db_dir.mkdir()
        upgrade(engine)
        woken = 0
        deadline = time.monotonic() + WAIT
        while spool:
            assert time.monotonic() < deadline, "spool not replayed"
            time.sleep(0.05)
            recorder.submit(records(1)[0])  # a record wakes the replay, as mail does
            woken += 1
            assert recorder.flush(WAIT)
    finally:
        recorder.close()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 12 + woken
    assert "store writes work again" in caplog.text


def test_a_damaged_spool_line_is_skipped_not_fatal(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl", 10_000_000, settings().local.is_local_address)
    spool.append(records(2))
    with spool.path.open("a") as out:
        out.write("{not json\n")
    spool.append(records(1))
    assert sum(len(chunk) for chunk in spool.chunks(10)) == 3


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:////var/lib/thurac/thurac.db", "/var/lib/thurac/thurac.spool.jsonl"),
    ("sqlite:////srv/mx2/history.sqlite", "/srv/mx2/history.spool.jsonl"),
    ("postgresql://thurac:secret@db.example.test:5433/mail",
     "/var/lib/thurac/postgresql-db.example.test-5433-mail.spool.jsonl"),
    ("postgresql+psycopg2://thurac@/mail?host=/run/postgresql",
     "/var/lib/thurac/postgresql-local-mail.spool.jsonl"),
    ("postgresql+psycopg://thurac@/mail?host=db1:5432&host=db2:5432"
     "&target_session_attrs=read-write",
     "/var/lib/thurac/postgresql-db1_5432_db2_5432-mail.spool.jsonl"),
])
def test_the_default_spool_is_derived_from_the_database_in_use(url: str, expected: str) -> None:
    assert spool_path_for(DatabaseSettings(url=url)) == Path(expected)


def test_two_daemons_with_different_databases_never_share_a_spool() -> None:
    one = spool_path_for(DatabaseSettings(url="sqlite:////var/lib/thurac/a.db"))
    two = spool_path_for(DatabaseSettings(url="sqlite:////var/lib/thurac/b.db"))
    assert one != two


def test_a_configured_spool_path_wins() -> None:
    chosen = DatabaseSettings(url="sqlite:////x/thurac.db", spool_path="/y/spool.jsonl")
    assert spool_path_for(chosen) == Path("/y/spool.jsonl")


def test_an_unwritable_spool_is_refused_with_its_key_and_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool's folder should be")
    spool = Spool(blocker / "spool.jsonl", 1000, settings().local.is_local_address)
    with pytest.raises(StoreError) as refused:
        spool.ensure_writable()
    assert str(refused.value).startswith(
        f"database.spool_path: cannot write {blocker}/spool.jsonl: Not a directory")
