"""Releases from the hold queue in the store: the verdict a held message got is found by its
queue id, and a release is recorded as a false positive that relates the sender to the local
recipients (on SQLite, and on PostgreSQL where the server is there)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from thurac.config import Settings, parse_settings
from thurac.message import Connection, Message
from thurac.store.engine import make_engine, upgrade
from thurac.store.history import read_history
from thurac.store.record import Record
from thurac.store.recorder import write_record
from thurac.store.releases import Release, record_release, stored_verdicts
from thurac.store.schema import correspondents, releases
from thurac.symbols import Symbol
from thurac.verdict import Verdict

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SPAMMER = "promo@bulk.test"


def settings() -> Settings:
    return parse_settings({"local": {"domains": ["example.test"]}})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path}/thurac.db" if request.param == "sqlite"
                       else request.getfixturevalue("postgres_database"))
    upgrade(made)
    yield made
    made.dispose()


def held_message(queue_id: str, rcpts: tuple[str, ...], when: datetime = NOW,
                 sender: str = SPAMMER) -> Message:
    return Message(Connection("203.0.113.5", helo="mail.bulk.test"), sender, rcpts,
                   (("From", sender),), b"body", queue_id=queue_id, received_at=when)


def record_held(engine: Engine, msg: Message, score: float = 3.0) -> None:
    symbols = (Symbol("SPF_NONE", 1.0, "no SPF record"),
               Symbol("C22_UNRELATED_RCPT", 1.5, "none of 1 recipient(s) ever exchanged mail"),
               Symbol("DKIM_NONE", 0.5, "no signature"))
    verdict = Verdict(score, 1.0, "quarantine", "quarantine", symbols)
    with engine.begin() as conn:
        write_record(conn, Record(msg, verdict, msg.recipients,
                                  settings().local.is_local_address))


def release(queue_id: str, rcpts: tuple[str, ...], when: datetime = NOW,
            event_id: int | None = None, sender: str = SPAMMER) -> Release:
    return Release(queue_id=queue_id, released_by="alice", released_at=when, sender=sender,
                   recipients=rcpts, event_id=event_id)


def pairs(engine: Engine) -> dict[tuple[str, str], tuple[int, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(correspondents.c.local, correspondents.c.remote,
                                   correspondents.c.sent, correspondents.c.received,
                                   correspondents.c.released))
        return {(r.local, r.remote): (r.sent, r.received, r.released) for r in rows}


def test_a_held_message_finds_its_newest_verdict_by_queue_id(engine: Engine) -> None:
    record_held(engine, held_message("ABC123", ("bob@example.test",), NOW), score=2.0)
    record_held(engine, held_message("ABC123", ("bob@example.test",), NOW + timedelta(1)))
    with engine.connect() as conn:
        found = stored_verdicts(conn, {"ABC123": NOW + timedelta(1), "NOSUCH1": NOW})
    assert set(found) == {"ABC123"}
    verdict = found["ABC123"]
    assert verdict.score == 3.0 and verdict.action == "quarantine"
    assert verdict.symbol_names == ["C22_UNRELATED_RCPT", "SPF_NONE", "DKIM_NONE"]
    assert verdict.symbols[0].reason == "none of 1 recipient(s) ever exchanged mail"
    assert (verdict.sender, verdict.recipients) == (SPAMMER, ("bob@example.test",))
    assert verdict.received_at == NOW + timedelta(1)


def test_an_event_from_before_the_message_arrived_was_another_message(engine: Engine) -> None:
    # Short queue ids come round again: last month's ABC123 says nothing about today's.
    record_held(engine, held_message("ABC123", ("bob@example.test",), NOW - timedelta(30)))
    with engine.connect() as conn:
        assert stored_verdicts(conn, {"ABC123": NOW}) == {}


def test_a_release_is_recorded_with_its_event(engine: Engine) -> None:
    record_held(engine, held_message("ABC123", ("bob@example.test", "x@remote.test")))
    with engine.connect() as conn:
        event_id = stored_verdicts(conn, {"ABC123": NOW})["ABC123"].event_id
    release_id = record_release(
        engine, release("ABC123", ("bob@example.test", "x@remote.test"), event_id=event_id),
        settings().local.is_local_address)
    with engine.connect() as conn:
        row = conn.execute(select(releases)).one()
    assert row.id == release_id and row.queue_id == "ABC123" and row.event_id == event_id
    assert row.released_by == "alice" and row.sender == SPAMMER
    assert json.loads(row.recipients) == ["bob@example.test", "x@remote.test"]
    assert row.released_at.replace(tzinfo=UTC) == NOW


def test_a_release_relates_the_sender_to_each_local_recipient_only(engine: Engine) -> None:
    record_release(engine, release("ABC123", ("bob@example.test", "carol@example.test",
                                              "x@remote.test", SPAMMER)),
                   settings().local.is_local_address)
    assert pairs(engine) == {("bob@example.test", SPAMMER): (0, 0, 1),
                             ("carol@example.test", SPAMMER): (0, 0, 1)}


def test_released_pairs_add_up_and_keep_what_the_recorder_counted(engine: Engine) -> None:
    record_held(engine, held_message("ABC123", ("bob@example.test",)))  # received 1
    is_local = settings().local.is_local_address
    record_release(engine, release("ABC123", ("bob@example.test",)), is_local)
    later = NOW + timedelta(hours=2)
    record_release(engine, release("DEF456", ("bob@example.test", "bob@example.test"), later),
                   is_local)
    assert pairs(engine) == {("bob@example.test", SPAMMER): (0, 1, 2)}
    with engine.connect() as conn:
        first, last = conn.execute(select(correspondents.c.first_seen,
                                          correspondents.c.last_seen)).one()
    assert (first.replace(tzinfo=UTC), last.replace(tzinfo=UTC)) == (NOW, later)


def test_after_a_release_the_next_message_to_that_user_is_related(engine: Engine) -> None:
    record_release(engine, release("ABC123", ("bob@example.test",)),
                   settings().local.is_local_address)
    nxt = held_message("GHI789", ("bob@example.test", "carol@example.test"),
                       NOW + timedelta(minutes=5))
    with engine.connect() as conn:
        history = read_history(conn, nxt, settings())
    assert history.related_recipients == {"bob@example.test"}
    assert history.unrelated(nxt.recipients) == ("carol@example.test",)
    assert history.sender_written_to  # no longer a one-way source either


def test_a_released_bounce_is_recorded_without_pairs(engine: Engine) -> None:
    record_release(engine, release("ABC123", ("bob@example.test",), sender=""),
                   settings().local.is_local_address)
    assert pairs(engine) == {}
    with engine.connect() as conn:
        assert conn.execute(select(releases.c.sender)).scalar_one() == ""


def test_keys_are_the_recorders_stored_text(engine: Engine) -> None:
    odd = "promo\x00@bulk.test"  # what stored_text makes of it is what history looks up
    record_release(engine, release("ABC123", ("bob@example.test",), sender=odd),
                   settings().local.is_local_address)
    nxt = held_message("GHI789", ("bob@example.test",), sender=odd)
    with engine.connect() as conn:
        assert read_history(conn, nxt, settings()).related_recipients == {"bob@example.test"}
