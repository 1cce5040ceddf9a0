"""Whatever a sender puts in headers, envelope and body, the adapter gives a verdict (never the
internal-error path) and every header it writes is safe."""

from __future__ import annotations

import email.message
from collections.abc import Iterator
from pathlib import Path

import Milter
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.dns_server import TestDnsServer
from tests.test_milter import RecordingCtx, make_scanner

from thurac.milter import FLAGS, ThuracMilter
from thurac.scanner import Scanner
from thurac.workers import VerdictWorkers

WORKERS = VerdictWorkers(2)  # as in the daemon: verdicts off the callback's thread

# Header names as an MTA passes them: printable, no colon, no space.
NAMES = st.one_of(
    st.sampled_from(["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References",
                     "Date", "X-Mailer", "User-Agent", "DKIM-Signature", "ARC-Seal",
                     "Authentication-Results", "X-Spam-Flag", "X-Thurac-Report"]),
    st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
            min_size=1, max_size=30),
)
# Values as pymilter hands them: any text, 8-bit junk as surrogates, folds, NULs, huge ones.
VALUES = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.text(alphabet="<>@.,;:\"()[]\\ \t\n\r\x00abc=-", max_size=200),
    st.integers(min_value=1000, max_value=20000).map(lambda n: "A" * n),
)
ADDRESSES = st.one_of(st.just(""), st.emails(), st.text(max_size=80),
                      st.text(alphabet="ab@.\r\n\x00\t <>%", min_size=3, max_size=30))


@pytest.fixture(scope="module")
def fuzz_scanner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanner]:
    with TestDnsServer() as server:
        scanner = make_scanner(Path(tmp_path_factory.mktemp("fuzz")), server)
        yield scanner
        scanner.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(headers=st.lists(st.tuples(NAMES, VALUES), max_size=25), sender=ADDRESSES,
       rcpts=st.lists(ADDRESSES, min_size=1, max_size=5), body=st.binary(max_size=3000),
       helo=st.text(max_size=60))
def test_any_message_gets_a_verdict_and_safe_headers(
    fuzz_scanner: Scanner, headers: list[tuple[str, str]], sender: str, rcpts: list[str],
    body: bytes, helo: str,
) -> None:
    Milter.factory = lambda: ThuracMilter(fuzz_scanner, WORKERS)
    Milter.set_flags(FLAGS)
    ctx = RecordingCtx()
    ctx._setsymval("i", "FUZZ1")
    assert ctx._connect(helo=helo or "x", ip="203.0.113.77") == Milter.CONTINUE
    ctx._envfrom(f"<{sender}>")
    for rcpt in rcpts:
        ctx._envrcpt(f"<{rcpt}>")
    milter = ctx._priv
    for name, value in headers:
        milter.header(name, value)
    milter.body(body)
    ctx._msg = email.message.Message()  # what TestCtx records our header changes into
    rc = ctx._eom()

    assert rc in (Milter.ACCEPT, Milter.REJECT, Milter.TEMPFAIL)
    written = ctx._msg.items()
    assert ("X-Thurac-Report", "not scored: internal error") not in written
    for name, value in written:
        lines = value.split("\n\t")  # our own folding between sanitised pieces
        assert all("\r" not in line and "\n" not in line and "\x00" not in line
                   for line in lines), (name, value)
        assert all(len(line.encode("utf-8", "surrogateescape")) <= 998 for line in lines), name
    if rc == Milter.REJECT:
        code, xcode, text = ctx._reply
        assert (code, xcode) == ("550", "5.7.1") and "\n" not in text
