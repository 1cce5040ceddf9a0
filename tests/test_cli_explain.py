"""`thurac explain` and `thurac headers` as an admin types them: what they print, exit codes,
and the messages when there is nothing to show."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, insert
from tests.test_explain import QID, SYMBOLS, record, spam

from thurac.cli import main
from thurac.message import Connection, Message
from thurac.store.engine import make_engine, upgrade
from thurac.store.schema import releases
from thurac.verdict import Override, Verdict

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "thurac.yaml"
    path.write_text(yaml.safe_dump({
        "database": {"url": f"sqlite:///{tmp_path}/db/thurac.db"},
        "local": {"domains": ["example.test"]},
    }))
    return path


@pytest.fixture
def store(tmp_path: Path, config: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/db/thurac.db")
    upgrade(engine)
    return engine


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_tells_the_whole_story_of_a_quarantined_then_released_message(
        store: Engine, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event_id = record(store, spam(when=NOW))
    with store.begin() as conn:
        conn.execute(insert(releases).values(
            queue_id=QID, event_id=event_id, released_at=NOW + timedelta(hours=1),
            released_by="admin", sender="promo@bulk.test", recipients='["bob@example.test"]'))

    code, out, _ = run(capsys, "explain", QID, "--config", str(config))

    assert code == 0
    local = (NOW.astimezone().strftime("%Y-%m-%d %H:%M:%S %z"),
             (NOW + timedelta(hours=1)).astimezone().strftime("%Y-%m-%d %H:%M:%S %z"))
    assert out.splitlines() == [
        f"queue id:   {QID}",
        f"time:       {local[0]}",
        "direction:  inbound",
        "client:     mail.bulk.test[203.0.113.5], TLSv1.3",
        "HELO:       mail.bulk.test",
        "sender:     <promo@bulk.test>",
        "recipients: bob@example.test, carol@example.test",
        "From:       promo@bulk.test",
        "Message-ID: <offer.1@bulk.test>",
        "score:      11.8",
        "action:     quarantine",
        "policy:     default",
        "overrides:  none",
        "symbols:",
        "     5.33  C22_FREQ_SENDER: sender promo@bulk.test: 47 msgs/1h > 30",
        "     5.00  C22_UNRELATED_RATIO: 3/3 recipients never wrote to bulk.test",
        "     1.00  SPF_NONE: no SPF record for bulk.test",
        "     0.50  DKIM_NONE: no DKIM signature",
        f"released:   {local[1]} by admin",
    ]


def test_explain_json_by_message_id_has_the_log_words_and_the_older_count(
        store: Engine, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record(store, spam(when=NOW - timedelta(days=100)))
    record(store, spam(when=NOW), Verdict(7.0, 5.0, "reject", "reject", SYMBOLS[:2], "strict",
                                          (Override("reject", "block list", "domain bulk.test"),)))

    code, out, _ = run(capsys, "explain", "--message-id", "<Offer.1@Bulk.test>", "--json",
                       "--config", str(config))

    assert code == 0
    found = json.loads(out)
    assert {k: found[k] for k in ("queue_id", "score", "action", "policy", "overrides",
                                  "older_events", "message_id", "sender", "helo")} == {
        "queue_id": QID, "score": 7.0, "action": "reject", "policy": "strict",
        "overrides": ["block list: domain bulk.test"], "older_events": 1,
        "message_id": "offer.1@bulk.test", "sender": "promo@bulk.test",
        "helo": "mail.bulk.test"}
    assert found["symbols"] == [
        {"name": "C22_FREQ_SENDER", "score": 5.33,
         "reason": "sender promo@bulk.test: 47 msgs/1h > 30"},
        {"name": "SPF_NONE", "score": 1.0, "reason": "no SPF record for bulk.test"}]
    assert datetime.fromisoformat(found["received_at"]) == NOW
    assert found["recipients"] == ["bob@example.test", "carol@example.test"]
    assert found["direction"] == "inbound" and found["client_ip"] == "203.0.113.5"
    assert found["releases"] == []


def test_explain_text_says_how_many_older_messages_share_the_queue_id(
        store: Engine, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for days in (300, 200, 0):
        record(store, spam(when=NOW - timedelta(days=days)))
    _, out, _ = run(capsys, "explain", QID, "--config", str(config))
    assert "older:      2 older message(s) share this id; this is the newest" in out


def test_what_a_sender_chose_cannot_drive_the_admins_terminal(
        store: Engine, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    msg = Message(Connection("203.0.113.5", None, "evil\x1b[2J.test"), "a\x9b31m@evil.test",
                  ("bob@example.test",), (("From", "a@evil.test"),), b"", queue_id=QID,
                  received_at=NOW)
    record(store, msg)
    _, out, _ = run(capsys, "explain", QID, "--config", str(config))
    assert "\x1b" not in out and "\x9b" not in out
    assert "HELO:       evil [2J.test" in out


def test_outbound_mail_is_explained_as_learned_from(
        store: Engine, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from thurac.store.record import Record
    from thurac.store.recorder import write_record

    msg = Message(Connection("127.0.0.2", None, "ws1.example.test", None, "alice"),
                  "alice@example.test", ("carol@partner.test",), (), b"", queue_id="OUT1",
                  received_at=NOW, direction="outbound")
    with store.begin() as conn:
        write_record(conn, Record(msg, None, (), lambda a: a.endswith("@example.test")))
    _, out, _ = run(capsys, "explain", "OUT1", "--config", str(config))
    assert "score:      not scored (outbound: learned from)" in out
    assert "client:     unknown[127.0.0.2], authenticated as alice" in out
    assert "symbols:    none" in out


def test_an_unknown_queue_id_is_named_on_stderr_with_exit_1(
        store: Engine, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record(store, spam())
    code, out, err = run(capsys, "explain", "NOSUCH1", "--config", str(config))
    assert (code, out) == (1, "")
    assert "thurac explain: no message with queue id NOSUCH1 in the store sqlite:///" in err
    assert "events are kept 400 days: database.event_days" in err
    code, _, err = run(capsys, "explain", "--message-id", "nosuch@x", "--config", str(config))
    assert code == 1 and "no message with Message-ID <nosuch@x>" in err


def test_explain_without_a_store_says_so_and_creates_none(
        tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "db").mkdir()
    for argv in (["explain", QID], ["headers", "--queue-id", QID]):
        assert main([*argv, "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.count(f"no history store at sqlite:///{tmp_path}/db/thurac.db yet") == 2
    assert not (tmp_path / "db/thurac.db").exists()
    assert "Traceback" not in err


def test_explain_needs_a_queue_id_or_a_message_id(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["explain"], ["explain", QID, "--message-id", "x@y"]):
        with pytest.raises(SystemExit) as usage:
            main([*argv, "--config", str(config)])
        assert usage.value.code == 2
    assert "QUEUE_ID" in capsys.readouterr().err


def test_headers_prints_each_block_as_stored_oldest_first_a_blank_line_between(
        store: Engine, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record(store, spam(queue_id="B2", when=NOW, subject="second"))
    record(store, spam(queue_id="A1", when=NOW - timedelta(days=3), subject="first"))

    code, out, _ = run(capsys, "headers", "--sender", "Promo@Bulk.test", "--config", str(config))

    assert code == 0
    block = ("From: Promo <promo@bulk.test>\nTo: bob@example.test\nSubject: {}\n"
             "Message-ID: <Offer.1@Bulk.test>\n")
    assert out == block.format("first") + "\n" + block.format("second")
    _, out, _ = run(capsys, "headers", "--queue-id", "A1", "--config", str(config))
    assert out == block.format("first")
    _, out, _ = run(capsys, "headers", "--message-id", "offer.1@bulk.test", "--since", "1d",
                    "--config", str(config))
    assert out == block.format("second")


def test_headers_with_no_match_says_what_it_looked_for_with_exit_1(
        store: Engine, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record(store, spam(when=NOW - timedelta(days=3)))
    code, out, err = run(capsys, "headers", "--sender", "promo@bulk.test", "--since", "12h",
                         "--config", str(config))
    assert (code, out) == (1, "")
    assert "thurac headers: no stored headers for sender <promo@bulk.test> since " in err
    assert "header blocks are kept 180 days: database.header_log_days" in err


def test_a_malformed_since_is_a_usage_error(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["headers", "--sender", "a@b", "--since", "a week", "--config", str(config)])
    assert usage.value.code == 2
    assert ("argument --since: expected a duration such as 30m, 12h or 7d (got 'a week')"
            in capsys.readouterr().err)
