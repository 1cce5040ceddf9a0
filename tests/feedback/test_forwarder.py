"""Forwarded spam reports reach the relay, however long the relay is away, without the milter
ever waiting for it; a restart loses none, and a full queue says so."""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.support.net import free_port
from tests.support.smtp_sink import SinkMessage, SmtpSink

import thurac.feedback.forwarder as forwarder_module
from thurac.feedback.arf_out import MAX_REPORTED, build_arf
from thurac.feedback.forwarder import (
    QUEUE_FILE,
    Forwarder,
    ForwardError,
    ForwardJob,
    ForwardSettings,
    parse_relay,
)

WAIT = 15.0  # seconds a background delivery may take at most here
AUTHORITY = "chongthurac@vncert.vn"
FAST = ForwardSettings(timeout=2.0, retry_first=0.1, retry_max=0.2)


def arf(n: int = 1) -> bytes:
    spam = (f"From: promo@spam.test\r\nTo: lan@example.vn\r\nSubject: Mua ngay {n}\r\n"
            f"Message-ID: <run-{n}@spam.test>\r\n\r\nGi\u1ea3m gi\u00e1!\r\n").encode()
    return build_arf(reported=spam, reported_headers="", source_ip="192.0.2.7",
                     original_mail_from="promo@spam.test",
                     arrival_date=datetime(2024, 5, 1, 8, 30, tzinfo=UTC),
                     reported_domain="spam.test", reporter_note="reported by lan@example.vn",
                     from_address="thurac <abuse@example.vn>", to_address=AUTHORITY)


_JOBS: dict[int, ForwardJob] = {}


def job(n: int = 1) -> ForwardJob:
    """Job Cn, the same each time it is asked for (a report has its own date and boundary)."""
    if n not in _JOBS:
        _JOBS[n] = ForwardJob(arf(n), "abuse@example.vn", (AUTHORITY,), id=f"C{n}")
    return _JOBS[n]


def subject_is(n: int) -> Callable[[SinkMessage], bool]:
    return lambda message: f"Mua ngay {n}" in message.raw.decode("utf-8", "replace")


def feedback_type(message: SinkMessage) -> str:
    parsed = email.message_from_bytes(message.raw, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/report"
    assert parsed.get_param("report-type") == "feedback-report"
    part = parsed.get_payload(1)
    assert isinstance(part, email.message.Message)
    assert part.get_content_type() == "message/feedback-report"
    fields = part.get_payload(0)
    assert isinstance(fields, email.message.Message)
    return str(fields["Feedback-Type"])


def lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in list(caplog.records) if text in r.getMessage()]


def wait_for_lines(caplog: pytest.LogCaptureFixture, text: str, count: int = 1) -> list[str]:
    deadline = time.monotonic() + WAIT
    while len(found := lines(caplog, text)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} log line(s) with {text!r}: {found}")
        time.sleep(0.05)
    return found


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def forward_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="thurac.forward")
    return caplog


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return free_port()


def test_a_submitted_report_reaches_the_relay_as_arf(
    tmp_path: Path, sink: SmtpSink, caplog: pytest.LogCaptureFixture,
) -> None:
    with Forwarder(f"127.0.0.1:{sink.port}", tmp_path, FAST) as forwarder:
        assert forwarder.submit(job(1))
        delivered = sink.wait_for(subject_is(1), timeout=WAIT)
        wait_until(lambda: forwarder.pending() == [], "the sent job is still held")
    assert delivered.mail_from == "abuse@example.vn"
    assert delivered.rcpt_tos == (AUTHORITY,)
    assert "BODY=8BITMIME" in delivered.mail_options
    assert feedback_type(delivered) == "abuse"
    assert delivered.raw.replace(b"\r\n", b"\n") == job(1).message.replace(b"\r\n", b"\n")
    [sent] = lines(caplog, "status=sent")
    assert sent.startswith(f"forward C1: to=<{AUTHORITY}> relay=127.0.0.1:{sink.port} "
                           "attempt=1 status=sent (2.0.0 Ok: queued as SINK1)")
    assert (tmp_path / QUEUE_FILE).read_bytes() == b""  # nothing left to send
    assert (tmp_path / QUEUE_FILE).stat().st_mode & 0o777 == 0o600  # users' mail: ours alone


def test_a_relay_that_is_down_delays_the_report_until_it_listens(
    tmp_path: Path, closed_port: int, caplog: pytest.LogCaptureFixture,
) -> None:
    with Forwarder(f"127.0.0.1:{closed_port}", tmp_path, FAST) as forwarder:
        assert forwarder.submit(job(2))  # returns although the relay refuses connections
        deferred = wait_for_lines(caplog, "status=deferred", count=2)  # tried, and again
        assert deferred[0].startswith(f"forward C2: to=<{AUTHORITY}> relay=127.0.0.1:"
                                      f"{closed_port} attempt=1 status=deferred (")
        assert forwarder.pending() == ["C2"]
        with SmtpSink(port=closed_port) as late:
            delivered = late.wait_for(subject_is(2), timeout=WAIT)
            wait_until(lambda: forwarder.pending() == [], "the sent job is still held")
    assert feedback_type(delivered) == "abuse"
    assert [line for line in lines(caplog, "status=sent") if line.startswith("forward C2:")]


def test_queued_reports_survive_a_restart(
    tmp_path: Path, closed_port: int, sink: SmtpSink, caplog: pytest.LogCaptureFixture,
) -> None:
    with Forwarder(f"127.0.0.1:{closed_port}", tmp_path, FAST) as first:
        assert first.submit(job(3)) and first.submit(job(4))
        wait_for_lines(caplog, "status=deferred", count=2)
    assert b'"id": "C3"' in (tmp_path / QUEUE_FILE).read_bytes()
    with Forwarder(f"127.0.0.1:{sink.port}", tmp_path, FAST) as second:
        assert sorted(second.pending()) == ["C3", "C4"]
        sink.wait_for(subject_is(3), timeout=WAIT)
        sink.wait_for(subject_is(4), timeout=WAIT)
        wait_until(lambda: second.pending() == [], "the sent jobs are still held")
    assert len(sink.messages) == 2
    assert lines(caplog, "forward: 2 queued report(s) from")


def test_a_full_queue_refuses_the_job_and_says_so(
    tmp_path: Path, closed_port: int, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = ForwardSettings(retry_first=60.0, max_jobs=2)
    with Forwarder(f"127.0.0.1:{closed_port}", tmp_path, settings) as forwarder:
        assert forwarder.submit(job(1)) and forwarder.submit(job(2))
        assert not forwarder.submit(job(3))
        assert forwarder.pending() == ["C1", "C2"]
    [full] = lines(caplog, "not queued")
    assert full == ("forward C3: not queued: queue full (2 jobs, "
                    f"{len(job(1).message) + len(job(2).message)} bytes held; limits 2 jobs, "
                    "67108864 bytes); send it later with thurac complaints forward C3")
    assert [r.levelname for r in caplog.records if "not queued" in r.getMessage()] == ["ERROR"]


def test_the_byte_bound_is_honoured_too(tmp_path: Path, closed_port: int) -> None:
    settings = ForwardSettings(retry_first=60.0, max_bytes=len(job(1).message) + 10)
    with Forwarder(f"127.0.0.1:{closed_port}", tmp_path, settings) as forwarder:
        assert forwarder.submit(job(1))
        assert not forwarder.submit(job(2))


def test_a_job_that_keeps_failing_is_dropped_with_one_clear_line(
    tmp_path: Path, closed_port: int, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = ForwardSettings(timeout=2.0, retry_first=0.1, retry_max=0.1, max_attempts=3)
    with Forwarder(f"127.0.0.1:{closed_port}", tmp_path, settings) as forwarder:
        assert forwarder.submit(job(5))
        [dropped] = wait_for_lines(caplog, "status=expired")
        wait_until(lambda: forwarder.pending() == [], "the dropped job is still held")
    assert dropped.startswith(f"forward C5: to=<{AUTHORITY}> relay=127.0.0.1:{closed_port} "
                              "attempt=3 status=expired (")
    assert dropped.endswith("dropped after 3 attempt(s) in 0.0 day(s): resend with thurac "
                            "complaints forward C5")
    assert len(lines(caplog, "status=deferred")) == 2


@contextlib.contextmanager
def greeting_relay(greeting: bytes) -> Iterator[int]:
    """A relay on loopback that greets with `greeting` and hangs up; yields its port."""

    class Greeting(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(greeting + b"\r\n")

    server = socketserver.TCPServer(("127.0.0.1", 0), Greeting)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_permanent_refusal_drops_the_job_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    with greeting_relay(b"554 5.7.1 thurac.test: relay access denied") as port, \
            Forwarder(f"127.0.0.1:{port}", tmp_path, FAST) as forwarder:
        assert forwarder.submit(job(6))
        [refused] = wait_for_lines(caplog, "status=refused")
        wait_until(lambda: forwarder.pending() == [], "the refused job is still held")
    assert refused == (f"forward C6: to=<{AUTHORITY}> relay=127.0.0.1:{port} attempt=1 "
                       "status=refused (greeting: 554 5.7.1 thurac.test: relay access "
                       "denied); dropped: resend with thurac complaints forward C6 once the "
                       "relay accepts it")
    assert lines(caplog, "status=deferred") == []


def test_a_temporary_refusal_is_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    with greeting_relay(b"421 4.3.2 thurac.test: shutting down") as port, \
            Forwarder(f"127.0.0.1:{port}", tmp_path, FAST) as forwarder:
        assert forwarder.submit(job(14))
        deferred = wait_for_lines(caplog, "status=deferred", count=2)
        assert forwarder.pending() == ["C14"]
    assert deferred[0] == (f"forward C14: to=<{AUTHORITY}> relay=127.0.0.1:{port} attempt=1 "
                           "status=deferred (greeting: 421 4.3.2 thurac.test: shutting down); "
                           "next attempt in 0.1s")
    assert lines(caplog, "status=refused") == []


def test_a_relay_that_never_answers_holds_neither_submit_nor_close(
    tmp_path: Path, sink: SmtpSink,
) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # takes the connection, says nothing
    silent.settimeout(WAIT)
    try:
        port = silent.getsockname()[1]
        forwarder = Forwarder(f"127.0.0.1:{port}", tmp_path,
                              ForwardSettings(timeout=3600.0, retry_first=0.1))
        assert forwarder.submit(job(7))
        conversation, _ = silent.accept()  # the thread now waits for a greeting
        try:
            assert forwarder.submit(job(8))
            assert forwarder.close(timeout=WAIT)
        finally:
            conversation.close()
    finally:
        silent.close()
    with Forwarder(f"127.0.0.1:{sink.port}", tmp_path, FAST) as after:
        sink.wait_for(subject_is(7), timeout=WAIT)  # the cut attempt did not lose it
        sink.wait_for(subject_is(8), timeout=WAIT)
        wait_until(lambda: after.pending() == [], "the sent jobs are still held")


def test_send_now_sends_and_removes_the_queued_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    settings = ForwardSettings(timeout=2.0, retry_first=3600.0)  # no retry during the test
    with Forwarder(f"127.0.0.1:{port}", tmp_path, settings) as forwarder:
        assert forwarder.submit(job(9))
        wait_for_lines(caplog, "status=deferred")
        error = forwarder.send_now(job(9))
        assert error is not None and error.startswith("ConnectionRefusedError: ")
        with SmtpSink(port=port) as late:
            assert forwarder.send_now(job(9)) is None
            wait_until(lambda: forwarder.pending() == [], "the queued copy is still held")
            assert len(late.wait_count(1, timeout=WAIT)) == 1
    assert lines(caplog, "forward C9: queued copy removed (sent manually)")
    assert lines(caplog, f"forward C9: to=<{AUTHORITY}> relay=127.0.0.1:{port} manual "
                         "status=sent (2.0.0 Ok: queued as SINK1)")


def test_a_forwarder_for_send_now_alone_touches_no_queue(tmp_path: Path, sink: SmtpSink) -> None:
    queue_dir = tmp_path / "queue"
    forwarder = Forwarder(f"127.0.0.1:{sink.port}", queue_dir, FAST, start=False)
    assert forwarder.send_now(job(10)) is None
    assert feedback_type(sink.wait_for(subject_is(10), timeout=WAIT)) == "abuse"
    assert not forwarder.submit(job(11))
    assert forwarder.close()
    assert not queue_dir.exists()


def test_two_forwarders_cannot_send_from_one_queue(tmp_path: Path, closed_port: int) -> None:
    with Forwarder(f"127.0.0.1:{closed_port}", tmp_path, FAST), \
            pytest.raises(ForwardError, match="in use by another thurac process"):
        Forwarder(f"127.0.0.1:{closed_port}", tmp_path, FAST)
    Forwarder(f"127.0.0.1:{closed_port}", tmp_path, FAST).close()  # free again once closed


def test_an_unwritable_queue_directory_fails_at_start(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ForwardError, match="cannot write"):
        Forwarder("127.0.0.1:25", tmp_path / "file", FAST)


def test_a_damaged_journal_line_is_skipped_and_the_rest_sent(
    tmp_path: Path, closed_port: int, sink: SmtpSink, caplog: pytest.LogCaptureFixture,
) -> None:
    with Forwarder(f"127.0.0.1:{closed_port}", tmp_path,
                   ForwardSettings(retry_first=60.0)) as first:
        assert first.submit(job(12))
        wait_for_lines(caplog, "status=deferred")
    with (tmp_path / QUEUE_FILE).open("ab") as journal:
        journal.write(b'{"op": "job", "id": "torn", "mess\n')
    with Forwarder(f"127.0.0.1:{sink.port}", tmp_path, FAST) as second:
        sink.wait_for(subject_is(12), timeout=WAIT)
        wait_until(lambda: second.pending() == [], "the sent job is still held")
    assert lines(caplog, "line 3 unreadable, skipped")


def test_submit_of_a_job_already_queued_keeps_one(tmp_path: Path, closed_port: int) -> None:
    with Forwarder(f"127.0.0.1:{closed_port}", tmp_path,
                   ForwardSettings(retry_first=60.0)) as forwarder:
        assert forwarder.submit(job(13)) and forwarder.submit(job(13))
        assert forwarder.pending() == ["C13"]


@pytest.mark.parametrize(("relay", "address"), [
    ("127.0.0.1:25", ("127.0.0.1", 25)), ("[::1]:2525", ("::1", 2525)),
    ("mail.example.vn", ("mail.example.vn", 25)), ("[::1]", ("::1", 25)),
])
def test_a_relay_is_host_and_port(relay: str, address: tuple[str, int]) -> None:
    assert parse_relay(relay) == address


@pytest.mark.parametrize("relay", ["", ":25", "::1", "host:", "host:x", "host:70000", "[::1]x"])
def test_a_relay_that_is_not_host_and_port_is_refused(relay: str) -> None:
    with pytest.raises(ValueError, match="relay"):
        parse_relay(relay)


def test_one_recipient_given_as_text_is_one_recipient() -> None:
    assert ForwardJob(b"x", "a@example.vn", AUTHORITY).rcpt_to == (AUTHORITY,)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no recipient"):
        ForwardJob(b"x", "a@example.vn", ())


def test_the_journal_is_rewritten_without_the_jobs_that_are_done(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(forwarder_module, "COMPACT_SLACK", 0)
    port = free_port()
    settings = ForwardSettings(timeout=2.0, retry_first=3600.0)
    with Forwarder(f"127.0.0.1:{port}", tmp_path, settings) as forwarder:
        assert forwarder.submit(job(15)) and forwarder.submit(job(16))
        wait_for_lines(caplog, "status=deferred", count=2)
        with SmtpSink(port=port):
            assert forwarder.send_now(job(15)) is None
            wait_until(lambda: forwarder.pending() == ["C16"], "C15 is still held")
        journal = [json.loads(line) for line in (tmp_path / QUEUE_FILE).read_bytes().splitlines()]
    assert [(r["op"], r["id"]) for r in journal] == [("job", "C16"), ("try", "C16")]
    assert journal[1]["attempts"] == 1


def test_the_forwarding_guide_gives_the_defaults_the_code_has() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs/forwarding.md").read_text()
    defaults = ForwardSettings()
    assert f"| timeout | {defaults.timeout:g} s |" in guide
    assert f"| `reports.forward_retry_seconds` | {defaults.retry_first:g} s |" in guide
    assert f"| retry_max | {defaults.retry_max / 60:g} min |" in guide
    assert f"| max_age | {defaults.max_age / 86400:g} days |" in guide
    assert f"| max_attempts | {defaults.max_attempts} |" in guide
    assert (f"| max_jobs / max_bytes | {defaults.max_jobs} / "
            f"{defaults.max_bytes // 2**20} MB |") in guide
    assert "**`chongthurac@vncert.vn`**" in guide and "never on by default" in guide.lower()
    assert f"larger than {MAX_REPORTED // 2**20} MB is replaced by its header" in " ".join(
        guide.split())
