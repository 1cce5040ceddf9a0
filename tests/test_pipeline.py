"""The pipeline runs every check on one message and never raises: a broken check, an unreadable
history or a slow check cost the message a zero-score note, never the mail itself."""

from __future__ import annotations

import logging
import time

import pytest
from tests.builders import make_message, names, only
from tests.conftest import ContextFactory
from tests.support.dns_server import TestDnsServer

from thurac.checks import CHECKS, CheckContext
from thurac.history import History, WindowCount
from thurac.message import Message
from thurac.pipeline import run_checks
from thurac.symbols import Symbol

HISTORY_SYMBOLS = {"C22_FREQ_SENDER", "C22_FREQ_DOMAIN", "C22_FREQ_IP", "C22_ONE_WAY",
                   "C22_UNRELATED_RATIO", "C22_UNRELATED_RCPT"}


class Finds:
    """A check that always finds its one symbol, and remembers that it ran."""

    def __init__(self, name: str, ran: list[str], score: float = 1.0) -> None:
        self.name = name
        self.symbols = (name.upper(),)
        self.ran = ran
        self.score = score

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        self.ran.append(self.name)
        return [Symbol(self.name.upper(), self.score, f"{self.name} found it")]


class Broken:
    name = "broken"
    symbols: tuple[str, ...] = ()

    def __init__(self, error: Exception) -> None:
        self.error = error

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        raise self.error


class ReturnsNothingUseful:
    name = "sloppy"
    symbols: tuple[str, ...] = ()

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        return None  # type: ignore[return-value]


class Slow:
    name = "slow"
    symbols: tuple[str, ...] = ()

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        time.sleep(self.seconds)
        return []


def test_a_broken_check_is_skipped_with_a_zero_score_symbol_and_the_rest_still_run(
    context: ContextFactory,
) -> None:
    ran: list[str] = []
    checks = (Finds("first", ran), Broken(RuntimeError("database gone")), Finds("last", ran))

    found = run_checks(make_message(), History(), context(), checks)

    assert names(found) == ["FIRST", "THURAC_CHECK_ERROR", "LAST"]
    assert ran == ["first", "last"]
    error = only(found, "THURAC_CHECK_ERROR")
    assert error.score == 0.0
    assert error.reason == "broken skipped: RuntimeError: database gone"


def test_a_check_error_does_not_change_the_score_of_the_message(context: ContextFactory) -> None:
    ran: list[str] = []
    clean = run_checks(make_message(), History(), context(), (Finds("a", ran, 3.0),))
    broken = run_checks(make_message(), History(), context(),
                        (Finds("a", ran, 3.0), Broken(ValueError("x"))))
    assert sum(s.score for s in broken) == sum(s.score for s in clean) == 3.0


def test_a_check_returning_garbage_is_treated_as_broken(context: ContextFactory) -> None:
    ran: list[str] = []
    found = run_checks(make_message(), History(), context(),
                       (ReturnsNothingUseful(), Finds("after", ran)))
    assert names(found) == ["THURAC_CHECK_ERROR", "AFTER"]
    assert found[0].reason.startswith("sloppy skipped: TypeError: ")


def test_error_text_in_the_report_is_one_bounded_line(context: ContextFactory) -> None:
    error = RuntimeError("line one\r\nX-Spam-Flag: NO\r\n" + "x" * 1000)
    found = run_checks(make_message(), History(), context(), (Broken(error),))
    reason = only(found, "THURAC_CHECK_ERROR").reason
    assert "\r" not in reason and "\n" not in reason
    assert len(reason) <= 200
    assert reason.startswith("broken skipped: RuntimeError: line one X-Spam-Flag: NO x")


def test_a_broken_check_is_logged_under_the_queue_id_with_its_traceback(
    context: ContextFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="thurac.pipeline"):
        run_checks(make_message(queue_id="4XQID9"), History(), context(),
                   (Broken(KeyError("k")),))
    [record] = caplog.records
    assert record.getMessage() == "4XQID9: check broken failed"
    assert record.exc_info is not None


def test_a_broken_check_next_to_the_real_ones_does_not_stop_them(
    context: ContextFactory,
) -> None:
    found = run_checks(make_message(tls_version=None, helo="localhost"), History(), context(),
                       (Broken(RuntimeError("boom")), *CHECKS))
    assert {"THURAC_CHECK_ERROR", "C22_TECH_NO_TLS", "C22_TECH_HELO_NOT_FQDN"} <= set(names(found))


@pytest.fixture
def reachable_sender(zone: TestDnsServer) -> TestDnsServer:
    zone.add("shop.example", "MX", "10 mail.shop.example")
    zone.add("mail.shop.example", "A", "198.51.100.7")
    zone.add_ptr("198.51.100.7", "mail.shop.example")
    return zone


@pytest.mark.usefixtures("reachable_sender")
def test_unreadable_history_is_noted_and_gives_no_history_penalty(
    context: ContextFactory,
) -> None:
    bad_record = History(
        sender_messages=50,
        windows={("sender", 600): WindowCount(messages=100, recipients=100, unrelated=100),
                 ("sender", 86400): WindowCount(messages=100, recipients=100, unrelated=100)},
    )
    known = run_checks(make_message(), bad_record, context())
    unknown = run_checks(make_message(), History.unknown(), context())

    assert HISTORY_SYMBOLS & set(names(known)) == {
        "C22_FREQ_SENDER", "C22_ONE_WAY", "C22_UNRELATED_RATIO", "C22_UNRELATED_RCPT",
    }
    assert HISTORY_SYMBOLS & set(names(unknown)) == set()
    note = unknown[0]
    assert (note.name, note.score, note.reason) == (
        "THURAC_HISTORY_UNAVAILABLE", 0.0, "history store unreadable",
    )
    assert "THURAC_HISTORY_UNAVAILABLE" not in names(known)


def test_checks_past_the_deadline_are_skipped_and_named(context: ContextFactory) -> None:
    ran: list[str] = []
    checks = (Slow(0.12), Finds("second", ran), Finds("third", ran))

    found = run_checks(make_message(), History(), context(milter={"deadline": 0.05}), checks)

    assert ran == []
    deadline = only(found, "THURAC_DEADLINE")
    assert deadline.reason == "0.05s passed; skipped second,third"
    assert deadline.score == 0.0


def test_checks_within_the_deadline_all_run(context: ContextFactory) -> None:
    ran: list[str] = []
    checks = (Slow(0.01), Finds("second", ran), Finds("third", ran))
    found = run_checks(make_message(), History(), context(milter={"deadline": 5}), checks)
    assert ran == ["second", "third"]
    assert names(found) == ["SECOND", "THIRD"]
