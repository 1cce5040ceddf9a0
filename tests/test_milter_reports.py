"""Mail to a report mailbox through the milter: every report of the corpus (ARF, attached,
inline, pasted, and malformed ones) gets one X-Thurac-Report-Result line, is accepted
(never rejected, never scored), and the malformed ones say "nothing extracted"."""

from __future__ import annotations

import email.parser
import io
from collections.abc import Callable
from pathlib import Path

import Milter
import pytest
from tests.support.reports import USER, ReportCase, report_corpus
from tests.test_milter import WORKERS, RecordingCtx, dns, feed, scanner_with  # noqa: F401

from thurac.message import parse_rfc822
from thurac.milter import FLAGS, ThuracMilter
from thurac.scanner import Scanner

REPORT_ADDRESS = "spam@example.test"
# Cases that need extract() options of their own (a small max_bytes...) test the library.
CASES = [c for c in report_corpus() if not c.options]


def feed_raw(scanner: Scanner, raw: bytes, sender: str, *rcpts: str) -> RecordingCtx:
    """As feed(), but the body goes to the milter byte for byte (pymilter's _feedFile
    re-serialises MIME through the email package, which rewrites message/feedback-report
    parts; Postfix passes them as they are)."""
    Milter.factory = lambda: ThuracMilter(scanner, WORKERS)
    Milter.set_flags(FLAGS)
    ctx = RecordingCtx()
    ctx._setsymval("i", "4XQRPT1")
    assert ctx._connect(helo="client.example.test", ip="10.1.2.3") == Milter.CONTINUE
    ctx._msg = email.parser.BytesHeaderParser().parsebytes(raw)  # the body: as is
    assert ctx._envfrom(f"<{sender}>") == Milter.CONTINUE
    for rcpt in rcpts:
        assert ctx._envrcpt(f"<{rcpt}>") == Milter.CONTINUE
    headers, body = parse_rfc822(raw)
    for name, value in headers:
        assert ctx._header(name, value) == Milter.CONTINUE
    assert ctx._eoh() == Milter.CONTINUE
    assert ctx._feed_body(io.BytesIO(body)) == Milter.CONTINUE
    ctx.rc = ctx._eom()
    return ctx


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 20
    assert {c.method for c in CASES} >= {"arf", "attachment", "inline", "none"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_report_gets_a_result_line_and_is_delivered(
    scanner_with: Callable[..., Scanner], case: ReportCase, tmp_path: Path,  # noqa: F811
) -> None:
    scanner = scanner_with(reports={"addresses": [REPORT_ADDRESS]})
    ctx = feed_raw(scanner, case.raw, USER, REPORT_ADDRESS)
    assert ctx.rc == Milter.ACCEPT
    results = ctx._msg.get_all("X-Thurac-Report-Result") or []
    assert len(results) == 1, results
    line = results[0].strip()
    assert line.isascii() and "\n" not in line and len(line.encode()) <= 300
    assert "X-Spam-Status" not in ctx._msg  # a report is not scored
    if case.method == "none":
        assert line.startswith("nothing extracted"), line
    else:
        assert line.startswith("complaint "), line


def test_a_report_can_be_discarded(scanner_with: Callable[..., Scanner]) -> None:  # noqa: F811
    scanner = scanner_with(reports={"addresses": [REPORT_ADDRESS], "deliver": "discard"})
    ctx = feed_raw(scanner, CASES[0].raw, USER, REPORT_ADDRESS)
    assert ctx.rc == Milter.DISCARD


def test_mail_to_the_report_address_and_someone_else_is_scored_as_usual(
    scanner_with: Callable[..., Scanner],  # noqa: F811
) -> None:
    scanner = scanner_with(reports={"addresses": [REPORT_ADDRESS]})
    ctx = feed(scanner, CASES[0].raw, "x@sender.test", REPORT_ADDRESS, "bob@example.test")
    assert "X-Spam-Status" in ctx._msg and "X-Thurac-Report-Result" not in ctx._msg
