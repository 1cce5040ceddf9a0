"""Postfix's hold queue as thurac reads it: postqueue -j parsed, queue ids checked before any
command sees them, the instance chosen as Postfix's own commands choose it, and a missing or
failing command named with what it said."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from thurac import quarantine
from thurac.cli import main
from thurac.cli.quarantine import age_text
from thurac.config import PostfixSettings, parse_settings
from thurac.errors import PostfixError
from thurac.quarantine import Postfix, QueuedMessage, parse_queue_json, release_of, valid_queue_id
from thurac.store.releases import StoredVerdict
from thurac.symbols import Symbol

# As Postfix 3.7 prints it (one held message, one deferred with a delay reason).
POSTQUEUE_J = (
    '{"queue_name": "hold", "queue_id": "ABA1420C592", "arrival_time": 1796169976, '
    '"message_size": 299, "forced_expire": false, "sender": "Promo@Bulk.test", '
    '"recipients": [{"address": "Bob@example.test"}, {"address": "carol@example.test"}]}\n'
    "\n"
    '{"queue_name": "deferred", "queue_id": "4Y2Kq70Zf1z9vB", "arrival_time": 1796160000, '
    '"message_size": 1024, "sender": "", "some_future_member": [1, 2], '
    '"recipients": [{"address": "x@remote.test", "delay_reason": "connect to ...: '
    'Connection refused"}]}\n'
)
ARRIVED = datetime.fromtimestamp(1796169976, UTC)


def test_postqueue_json_lines_become_queued_messages() -> None:
    held, deferred = parse_queue_json(POSTQUEUE_J)
    assert held == QueuedMessage("hold", "ABA1420C592", ARRIVED, "Promo@Bulk.test",
                                 ("Bob@example.test", "carol@example.test"), 299)
    assert deferred.queue_name == "deferred" and deferred.sender == ""
    assert deferred.recipients == ("x@remote.test",)
    assert held.age_seconds(datetime.fromtimestamp(1796169976 + 125, UTC)) == 125


def test_a_line_that_is_no_queue_entry_is_an_error_naming_the_line() -> None:
    with pytest.raises(PostfixError, match=r"^postqueue -j: line 2 is not a queue entry"):
        parse_queue_json('{"queue_name": "hold", "queue_id": "A1"}\n{"queue_id": "B2"}\n')
    with pytest.raises(PostfixError, match=r"line 1 .*: not json"):
        parse_queue_json("not json\n")


@pytest.mark.parametrize("queue_id", ["ABA1420C592", "4Y2Kq70Zf1z9vB", "3F2", "a" * 32])
def test_postfix_queue_ids_are_accepted(queue_id: str) -> None:
    assert valid_queue_id(queue_id)


@pytest.mark.parametrize("queue_id", [
    "", "-", "ALL", "ABC-123", "ABC 123", "ABC123\n", "../../etc/passwd", "-d", "a" * 33,
    "ABC;rm", "ABÇ123", "ABC_123",
])
def test_anything_else_never_reaches_postsuper(queue_id: str) -> None:
    assert not valid_queue_id(queue_id)
    with pytest.raises(PostfixError, match="is not a Postfix queue id"):
        Postfix("/nonexistent", environ={"PATH": ""}).release(queue_id)


def test_mail_config_in_the_environment_wins_then_the_setting_then_postfix_default() -> None:
    settings = PostfixSettings(config_directory="/etc/postfix-out")
    assert Postfix.from_settings(settings, {"MAIL_CONFIG": "/etc/postfix-in"}) \
        .config_directory == "/etc/postfix-in"
    assert Postfix.from_settings(settings, {}).config_directory == "/etc/postfix-out"
    assert Postfix.from_settings(PostfixSettings(), {}).config_directory is None
    # An empty MAIL_CONFIG is no directory (Postfix would look for /main.cf).
    assert Postfix.from_settings(settings, {"MAIL_CONFIG": ""}) \
        .config_directory == "/etc/postfix-out"
    assert Postfix.from_settings(PostfixSettings(), {"MAIL_CONFIG": ""}) \
        .config_directory is None


def test_the_setting_is_an_absolute_directory() -> None:
    assert parse_settings({"postfix": {"config_directory": "/etc/postfix-in"}}) \
        .postfix.config_directory == "/etc/postfix-in"
    with pytest.raises(Exception, match=r"postfix\.config_directory"):
        parse_settings({"postfix": {"config_directory": "etc/postfix"}})


def test_a_missing_postqueue_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(quarantine, "COMMAND_DIRS", ())
    with pytest.raises(PostfixError, match=r"^postqueue: command not found .*Postfix installed"):
        Postfix(environ={"PATH": str(tmp_path)}).held()


@pytest.mark.skipif(shutil.which("postqueue", path="/usr/sbin:/usr/bin") is None,
                    reason="needs Postfix's postqueue")
def test_a_failing_postqueue_is_named_with_what_it_said(tmp_path: Path) -> None:
    with pytest.raises(PostfixError) as caught:
        Postfix(str(tmp_path / "nowhere"), environ={"PATH": "/usr/sbin:/usr/bin"}).held()
    said = str(caught.value)
    assert said.startswith(f"postqueue -j (MAIL_CONFIG={tmp_path / 'nowhere'}) failed with "
                           "exit code ")
    assert f"{tmp_path / 'nowhere'}/main.cf: No such file or directory" in said


def test_a_bad_queue_id_on_the_command_line_is_refused_before_postfix_is_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "thurac.yaml"
    config.write_text(f"database: {{url: 'sqlite:///{tmp_path}/thurac.db'}}\n")
    monkeypatch.setattr(quarantine, "COMMAND_DIRS", ())  # postqueue cannot run at all
    monkeypatch.setenv("PATH", str(tmp_path))
    for command in ("release", "delete"):
        assert main(["quarantine", command, "x;rm -rf /", "ALL", "--config", str(config)]) == 1
        err = capsys.readouterr().err
        assert "thurac quarantine: 'x;rm -rf /': not a Postfix queue id" in err
        assert "thurac quarantine: 'ALL': not a Postfix queue id" in err
        assert "command not found" not in err


def test_without_postqueue_the_command_exits_1_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "thurac.yaml"
    config.write_text(f"database: {{url: 'sqlite:///{tmp_path}/thurac.db'}}\n")
    monkeypatch.setattr(quarantine, "COMMAND_DIRS", ())
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["quarantine", "list", "--config", str(config)]) == 1
    assert capsys.readouterr().err.startswith("thurac quarantine: postqueue: command not found")


def test_a_release_learns_the_envelope_the_milter_saw() -> None:
    held = QueuedMessage("hold", "ABA1420C592", ARRIVED, "Promo@Bulk.test",
                         ("Bob@example.test",))
    now = datetime(2026, 12, 1, tzinfo=UTC)
    verdict = StoredVerdict(7, ARRIVED, "promo@bulk.test", ("bob@example.test",), 3.0,
                            "quarantine", (Symbol("SPF_NONE", 1.0, "no SPF record"),))
    stored = release_of(held, verdict, "alice", now)
    assert (stored.sender, stored.recipients, stored.event_id) == (
        "promo@bulk.test", ("bob@example.test",), 7)
    # Without a stored event, Postfix's envelope, normalised as the milter normalises it.
    unknown = release_of(held, None, "alice", now)
    assert (unknown.sender, unknown.recipients, unknown.event_id) == (
        "promo@bulk.test", ("bob@example.test",), None)
    assert (unknown.queue_id, unknown.released_by, unknown.released_at) == (
        "ABA1420C592", "alice", now)


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0s"), (45, "45s"), (192, "3m12s"), (7500, "2h05m"), (273600, "3d04h"),
])
def test_ages_read_in_two_units_at_most(seconds: int, shown: str) -> None:
    assert age_text(seconds) == shown


def test_an_absent_store_leaves_the_reasons_unknown_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from thurac.cli.quarantine import _verdicts

    store = tmp_path / "thurac.db"
    settings = parse_settings({"database": {"url": f"sqlite:///{store}"}})
    held = QueuedMessage("hold", "ABA1420C592", ARRIVED, "promo@bulk.test", ("b@example.test",))
    assert _verdicts(settings, [held]) == {}
    assert f"store not read, reasons unknown: {store} does not exist" in capsys.readouterr().err
    assert not store.exists()
