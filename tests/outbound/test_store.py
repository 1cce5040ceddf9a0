"""Outbound history and suspensions in the store, on SQLite and on a real PostgreSQL: the
account's windows are read in the one history read; held mail counts but teaches nothing; a
release starts the windows afresh; complaints suppress exactly their recipients; a suspension
made on one host is seen by another sharing the store at its next refresh."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from thurac.config import Settings, parse_settings
from thurac.history import ACCOUNT, History, epoch_minute
from thurac.message import Connection, Message
from thurac.outbound import suspensions
from thurac.outbound.suspensions import Suspensions
from thurac.store.accounts import account_state, release, suspend
from thurac.store.complaints import Complaint, add_complaint
from thurac.store.engine import make_engine, upgrade
from thurac.store.history import read_history
from thurac.store.record import Record
from thurac.store.recorder import write_record
from thurac.store.schema import correspondents
from thurac.symbols import Symbol
from thurac.verdict import Verdict

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
USER = "alice@example.test"


def settings(**outbound: object) -> Settings:
    return parse_settings({"local": {"domains": ["example.test"]}, "outbound": outbound})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path}/thurac.db")
    else:
        made = make_engine(request.getfixturevalue("postgres_database"))
    upgrade(made)
    yield made
    made.dispose()


def sent(rcpts: tuple[str, ...], when: datetime = NOW, login: str | None = "alice") -> Message:
    return Message(Connection("127.0.0.40", auth_user=login), USER, rcpts,
                   (("From", USER), ("Message-ID", f"<{when.timestamp()}.{rcpts[0]}>")),
                   b"", received_at=when, direction="outbound")


def verdict(action: str = "accept", *names: str) -> Verdict:
    return Verdict(0.0, 5.0, action, action, tuple(Symbol(n, 0.0, "") for n in names))  # type: ignore[arg-type]


def record(engine: Engine, message: Message, history: History, action: str = "accept",
           *names: str) -> None:
    with engine.begin() as conn:
        write_record(conn, Record(message, verdict(action, *names),
                                  history.unrelated(message.recipients),
                                  settings().local.is_local_address))


def history(engine: Engine, message: Message, counts_from: int | None = None) -> History:
    with engine.connect() as conn:
        return read_history(conn, message, settings(), counts_from=counts_from)


def test_the_accounts_windows_count_its_mail_and_its_fresh_recipients(engine: Engine) -> None:
    first = sent(("a@remote.test", "b@remote.test"))
    record(engine, first, history(engine, first))
    second = sent(("a@remote.test", "c@remote.test"), NOW + timedelta(minutes=1))
    seen = history(engine, second)
    assert seen.window(ACCOUNT, 600).messages == 1
    assert seen.window(ACCOUNT, 600).recipients == 2
    assert seen.window(ACCOUNT, 600).unrelated == 2
    assert seen.related_recipients == {"a@remote.test"}  # alice wrote to a before
    assert seen.unrelated(second.recipients) == ("c@remote.test",)


def test_held_mail_counts_but_makes_no_recipient_related(engine: Engine) -> None:
    burst = sent(("victim@remote.test",))
    record(engine, burst, history(engine, burst), "quarantine", "OUT_UNRELATED")
    with engine.connect() as conn:
        assert conn.execute(select(correspondents)).all() == []
    later = sent(("victim@remote.test",), NOW + timedelta(minutes=1))
    seen = history(engine, later)
    assert seen.window(ACCOUNT, 600).unrelated == 1
    assert seen.related_recipients == frozenset()


def test_refused_mail_of_a_suspended_account_is_not_counted(engine: Engine) -> None:
    refused = sent(("x@remote.test",))
    record(engine, refused, History.unknown(), "reject", "OUT_SUSPENDED")
    assert history(engine, sent(("x@remote.test",))).window(ACCOUNT, 600).messages == 0


def test_a_release_starts_the_windows_afresh(engine: Engine) -> None:
    burst = sent(tuple(f"r{i}@remote.test" for i in range(30)))
    record(engine, burst, history(engine, burst))
    after = sent(("new@remote.test",), NOW + timedelta(minutes=2))
    assert history(engine, after).window(ACCOUNT, 600).recipients == 30
    released_at = epoch_minute(NOW + timedelta(minutes=1)) + 1
    assert history(engine, after, counts_from=released_at).window(ACCOUNT, 600).recipients == 0


def complaint(reporter: str, kind: str = "user", trusted: bool = True,
              sender: str = USER) -> Complaint:
    return Complaint(NOW, reporter, trusted, 1.0 if trusted else 0.0, kind, "attachment",
                     sender, "example.test", "127.0.0.40")


def test_complaints_suppress_exactly_the_recipients_who_made_them(engine: Engine) -> None:
    with engine.begin() as conn:
        add_complaint(conn, complaint("carol@remote.test"))  # a user's own report
        add_complaint(conn, complaint("fbl@provider.test:dave@provider.test", "arf:abuse"))
        add_complaint(conn, complaint("erin@remote.test", trusted=False))  # anyone at all
        add_complaint(conn, complaint("frank@remote.test", sender="bob@example.test"))
    rcpts = ("carol@remote.test", "dave@provider.test", "erin@remote.test",
             "frank@remote.test", "gina@remote.test")
    seen = history(engine, sent(rcpts, NOW + timedelta(minutes=1)))
    assert seen.suppressed == {"carol@remote.test", "dave@provider.test"}
    assert seen.complaints == {ACCOUNT: 2.0}


def test_a_suspension_is_in_force_here_at_once_and_on_another_host_at_its_refresh(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    clock = [0.0]
    here = Suspensions(engine, 2.0, clock=lambda: clock[0])
    there = Suspensions(engine, 2.0, clock=lambda: clock[0])
    now = datetime.now(UTC)
    assert here.state("alice", now) is None and there.state("alice", now) is None
    with caplog.at_level(logging.INFO, "thurac.outbound"):
        here.suspend("alice", "account alice: 120 unrelated rcpts/10min > 100", "Q1",
                     settings(), now)
        assert here.state("alice", now) is not None  # before the store has it
        here.close()  # the write behind the reply is done
        stored = account_state(engine, "alice")
        assert stored is not None and stored.queue_id == "Q1"
        assert there.state("alice", now) is None  # its copy is younger than refresh_seconds
        clock[0] += 2.0
        assert there.state("alice", now) is not None
        assert release(engine, "alice", "helpdesk", "password changed")
        clock[0] += 2.0
        assert there.state("alice", datetime.now(UTC)) is None
        assert there.counts_from("alice") is not None  # its windows start at the release
    lines = [r.getMessage() for r in caplog.records]
    assert "Q1: account=<alice> suspended" in lines[0]
    assert any(line.startswith("account=<alice> released ") and
               line.endswith("by helpdesk: password changed") for line in lines)
    there.close()


def test_a_timed_suspension_ends_by_itself(engine: Engine) -> None:
    start = datetime.now(UTC)
    assert suspend(engine, "bob", "ops", "test", until=start + timedelta(hours=1), now=start)
    cache = Suspensions(engine, 2.0)
    assert cache.state("bob", start + timedelta(minutes=59)) is not None
    assert cache.state("bob", start + timedelta(hours=1)) is None
    assert cache.counts_from("bob", start + timedelta(hours=1)) == \
        epoch_minute(start + timedelta(hours=1)) + 1
    cache.close()


def test_a_release_is_seen_even_when_this_hosts_own_write_landed_late(
        engine: Engine, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    landed = threading.Event()
    written = suspensions.suspend

    def late(*args: Any, **kwargs: Any) -> bool:
        landed.wait(10)  # the store is slow: a refresh reads before the row is there
        return written(*args, **kwargs)

    monkeypatch.setattr(suspensions, "suspend", late)
    clock = [0.0]
    here = Suspensions(engine, 2.0, clock=lambda: clock[0])
    assert here.state("alice") is None
    here.suspend("alice", "limit", "Q2", settings())
    clock[0] += 2.0
    assert here.state("alice") is not None  # in force here, though the store has no row yet
    landed.set()
    here.close()
    assert release(engine, "alice", "helpdesk", "ok")
    clock[0] += 2.0
    with caplog.at_level(logging.INFO, "thurac.outbound"):
        assert here.state("alice") is None
    assert any(r.getMessage().startswith("account=<alice> released ") for r in caplog.records)


def test_a_suspension_the_store_refused_is_written_when_it_answers_again(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    written = suspensions.suspend
    failures = [1]

    def away_once(*args: Any, **kwargs: Any) -> bool:
        if failures.pop() if failures else 0:
            raise OSError("database away")
        return written(*args, **kwargs)

    monkeypatch.setattr(suspensions, "suspend", away_once)
    clock = [0.0]
    here = Suspensions(engine, 2.0, clock=lambda: clock[0])
    here.suspend("alice", "limit", "Q3", settings())
    here._writer.submit(lambda: None).result(10)  # the failed write is done
    assert account_state(engine, "alice") is None
    assert here.state("alice") is not None  # still in force here
    clock[0] += 2.0
    here.state("alice")  # a good read: the refused suspension is written again
    here.close()
    stored = account_state(engine, "alice")
    assert stored is not None and stored.queue_id == "Q3"
