"""The read-only views behind `thurac explain` and `thurac headers`, on a real SQLite file and
on a real PostgreSQL server: what the recorder wrote comes back as values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from thurac.explain import (
    Release,
    StoredSymbol,
    by_message_id,
    by_queue_id,
    header_blocks,
)
from thurac.message import Connection, Message
from thurac.store.engine import make_engine, open_existing, upgrade
from thurac.store.record import Record
from thurac.store.recorder import write_record
from thurac.store.schema import events, releases
from thurac.symbols import Symbol
from thurac.verdict import Override, Verdict

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
QID = "4Y2Kq70Zf1z9vB"
SYMBOLS = (Symbol("SPF_NONE", 1.0, "no SPF record for bulk.test"),
           Symbol("C22_FREQ_SENDER", 5.33, "sender promo@bulk.test: 47 msgs/1h > 30"),
           Symbol("DKIM_NONE", 0.5, "no DKIM signature"),
           Symbol("C22_UNRELATED_RATIO", 5.0, "3/3 recipients never wrote to bulk.test"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (f"sqlite:///{tmp_path}/thurac.db" if request.param == "sqlite"
           else request.getfixturevalue("postgres_database"))
    made = make_engine(url)
    upgrade(made)
    yield made
    made.dispose()


def spam(queue_id: str = QID, when: datetime = NOW, subject: str = "offer",
         msgid: str = "<Offer.1@Bulk.test>", sender: str = "promo@bulk.test") -> Message:
    headers = (("From", f"Promo <{sender}>"), ("To", "bob@example.test"),
               ("Subject", subject), ("Message-ID", msgid))
    return Message(Connection("203.0.113.5", "mail.bulk.test", "mail.bulk.test", "TLSv1.3"),
                   sender, ("bob@example.test", "carol@example.test"), headers, b"buy",
                   queue_id=queue_id, received_at=when)


def record(engine: Engine, msg: Message, verdict: Verdict | None = None) -> int:
    """Write `msg` as the recorder does, with `verdict` (default: quarantined); its event id."""
    verdict = verdict or Verdict(11.83, 5.0, "quarantine", "quarantine", SYMBOLS)
    with engine.begin() as conn:
        write_record(conn, Record(msg, verdict, (), lambda a: a.endswith("@example.test")))
        return int(conn.execute(events.select().order_by(events.c.id.desc())).first().id)


def test_a_queue_id_gives_the_stored_verdict_with_every_symbol_highest_first(
        engine: Engine) -> None:
    record(engine, spam())

    found = by_queue_id(engine, QID)

    assert found is not None
    assert (found.queue_id, found.score, found.action) == (QID, 11.83, "quarantine")
    assert found.symbols == (
        StoredSymbol("C22_FREQ_SENDER", 5.33, "sender promo@bulk.test: 47 msgs/1h > 30"),
        StoredSymbol("C22_UNRELATED_RATIO", 5.0, "3/3 recipients never wrote to bulk.test"),
        StoredSymbol("SPF_NONE", 1.0, "no SPF record for bulk.test"),
        StoredSymbol("DKIM_NONE", 0.5, "no DKIM signature"))
    assert found.received_at == NOW and found.received_at.tzinfo is not None
    assert (found.direction, found.client_ip, found.client_name, found.helo,
            found.tls_version, found.auth_user) == (
        "inbound", "203.0.113.5", "mail.bulk.test", "mail.bulk.test", "TLSv1.3", None)
    assert (found.sender, found.header_from, found.message_id) == (
        "promo@bulk.test", "promo@bulk.test", "offer.1@bulk.test")
    assert found.recipients == ("bob@example.test", "carol@example.test")
    assert (found.policy, found.overrides, found.releases, found.older_events) == (
        None, (), (), 0)


def test_a_queue_id_pasted_from_the_mail_log_with_its_colon_is_found(engine: Engine) -> None:
    record(engine, spam())
    assert by_queue_id(engine, f" {QID}: ") is not None
    assert by_queue_id(engine, QID.lower()) is None  # Postfix queue ids are case-sensitive


def test_the_policy_and_the_overrides_that_imposed_the_action_are_given(engine: Engine) -> None:
    record(engine, spam(), Verdict(1.5, 5.0, "reject", "reject", SYMBOLS[:1], "strict",
                                   (Override("reject", "block list",
                                             "domain bulk.test (added by admin)"),)))
    found = by_queue_id(engine, QID)
    assert found is not None
    assert (found.action, found.policy, found.overrides) == (
        "reject", "strict", ("block list: domain bulk.test (added by admin)",))


def test_a_reused_queue_id_gives_the_newest_message_and_counts_the_older(
        engine: Engine) -> None:
    record(engine, spam(when=NOW - timedelta(days=90), subject="old"))
    record(engine, spam(when=NOW - timedelta(days=30), subject="older"))
    record(engine, spam(when=NOW, subject="new", msgid="<new@bulk.test>"))

    found = by_queue_id(engine, QID)

    assert found is not None
    assert (found.message_id, found.older_events) == ("new@bulk.test", 2)


def test_a_message_id_is_found_with_or_without_brackets_in_any_case(engine: Engine) -> None:
    record(engine, spam())
    record(engine, spam(queue_id="OTHER1", msgid="<other@bulk.test>"))
    for typed in ("<Offer.1@Bulk.test>", "offer.1@bulk.test", " <OFFER.1@BULK.TEST> "):
        found = by_message_id(engine, typed)
        assert found is not None and found.queue_id == QID


def test_an_unknown_id_is_none(engine: Engine) -> None:
    record(engine, spam())
    assert by_queue_id(engine, "NOSUCH") is None
    assert by_message_id(engine, "<nosuch@bulk.test>") is None


def test_outbound_mail_has_no_score(engine: Engine) -> None:
    msg = Message(Connection("127.0.0.2", None, "ws1.example.test", None, "alice"),
                  "alice@example.test", ("carol@partner.test",), (("From", "alice@example.test"),),
                  b"hi", queue_id="OUT1", received_at=NOW, direction="outbound")
    with engine.begin() as conn:
        write_record(conn, Record(msg, None, (), lambda a: a.endswith("@example.test")))
    found = by_queue_id(engine, "OUT1")
    assert found is not None
    assert (found.direction, found.score, found.action, found.symbols, found.auth_user) == (
        "outbound", None, "accept", (), "alice")


def release(engine: Engine, event_id: int | None, when: datetime, by: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(releases).values(
            queue_id=QID, event_id=event_id, released_at=when, released_by=by,
            sender="promo@bulk.test", recipients=json.dumps(["bob@example.test"])))


def test_a_release_of_the_message_is_shown_and_not_one_of_an_older_namesake(
        engine: Engine) -> None:
    old = record(engine, spam(when=NOW - timedelta(days=60)))
    new = record(engine, spam())
    release(engine, old, NOW - timedelta(days=59), "alice")
    release(engine, new, NOW + timedelta(hours=2), "bob")
    # Written before the recorder had the event: matched by queue id and time.
    release(engine, None, NOW + timedelta(hours=1), "carol")
    release(engine, None, NOW - timedelta(days=10), "dave")  # before this message came

    found = by_queue_id(engine, QID)

    assert found is not None
    assert found.releases == (Release(NOW + timedelta(hours=1), "carol"),
                              Release(NOW + timedelta(hours=2), "bob"))


def test_header_blocks_come_as_stored_oldest_first(engine: Engine) -> None:
    record(engine, spam(when=NOW, subject="second"))
    record(engine, spam(when=NOW - timedelta(days=1), subject="first"))
    record(engine, spam(queue_id="OTHER1", subject="other", msgid="<other@bulk.test>"))

    blocks = list(header_blocks(engine, queue_id=QID))

    assert [b.headers for b in blocks] == [
        f"From: Promo <promo@bulk.test>\r\nTo: bob@example.test\r\nSubject: {s}\r\n"
        f"Message-ID: <Offer.1@Bulk.test>\r\n" for s in ("first", "second")]
    assert [b.received_at for b in blocks] == [NOW - timedelta(days=1), NOW]
    assert {(b.queue_id, b.sender, b.message_id) for b in blocks} == {
        (QID, "promo@bulk.test", "offer.1@bulk.test")}


def test_header_blocks_by_message_id_or_sender_and_since(engine: Engine) -> None:
    record(engine, spam(queue_id="A1", when=NOW - timedelta(days=8), subject="a"))
    record(engine, spam(queue_id="B2", when=NOW - timedelta(days=2), subject="b",
                        msgid="<b@bulk.test>"))
    record(engine, spam(queue_id="C3", subject="c", msgid="<c@x>", sender="other@x.test"))

    def queue_ids(**selector: object) -> list[str]:
        return [b.queue_id for b in header_blocks(engine, **selector)]  # type: ignore[arg-type]

    assert queue_ids(message_id="<OFFER.1@bulk.test>") == ["A1"]
    assert queue_ids(sender="<Promo@Bulk.Test>") == ["A1", "B2"]
    assert queue_ids(sender="promo@bulk.test", since=NOW - timedelta(days=7)) == ["B2"]
    assert queue_ids(queue_id="A1", since=NOW - timedelta(days=7)) == []
    assert queue_ids(sender="nobody@bulk.test") == []


def test_header_blocks_need_exactly_one_selector(engine: Engine) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        list(header_blocks(engine, queue_id=QID, sender="promo@bulk.test"))
    with pytest.raises(ValueError, match="exactly one"):
        list(header_blocks(engine))


def test_a_store_without_the_tables_is_a_store_error_not_a_traceback(tmp_path: Path) -> None:
    import sqlite3

    from thurac.errors import StoreError

    with sqlite3.connect(tmp_path / "empty.db") as other:  # a SQLite file, not our schema
        other.execute("CREATE TABLE unrelated (x)")
    engine = open_existing(f"sqlite:///{tmp_path}/empty.db")
    try:
        with pytest.raises(StoreError, match="no such table: events"):
            by_queue_id(engine, QID)
    finally:
        engine.dispose()

