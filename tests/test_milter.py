"""The milter adapter, driven through pymilter's TestCtx: callbacks in, milter actions out."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import Milter
import pytest
from Milter.testctx import TestCtx as MilterTestCtx
from tests.support.dns_server import TestDnsServer

from thurac.config import parse_settings
from thurac.milter import FLAGS, ThuracMilter
from thurac.scanner import Scanner, open_scanner
from thurac.workers import VerdictWorkers

WORKERS = VerdictWorkers(2)  # as in the daemon: verdicts off the callback's thread

# Offer the milter every protocol step but no "no reply" flags: TestCtx treats NOREPLY as a failure.
_NO_REPLY_FLAGS = (Milter.P_NR_CONN | Milter.P_NR_HELO | Milter.P_NR_MAIL | Milter.P_NR_RCPT
                   | Milter.P_NR_DATA | Milter.P_NR_UNKN | Milter.P_NR_EOH | Milter.P_NR_BODY
                   | Milter.P_NR_HDR)
# Nor SMFIP_HDR_LEADSPC: TestCtx hands header values without their leading space.
MilterTestCtx.default_opts = [Milter.CURR_ACTS,
                              0x1FFFFF & ~_NO_REPLY_FLAGS & ~Milter.P_HDR_LEADSPC, 0, 0]


class RecordingCtx(MilterTestCtx):  # type: ignore[misc]
    """MilterTestCtx that also remembers quarantine requests (pymilter's raises NotImplemented)."""

    def __init__(self) -> None:
        super().__init__()
        self.quarantined: str | None = None

    def quarantine(self, reason: str) -> None:
        self.quarantined = reason


@pytest.fixture(scope="module")
def dns() -> Iterator[TestDnsServer]:
    with TestDnsServer() as server:
        # A well-run sender: MX, forward-confirmed reverse DNS.
        server.add("sender.test", "MX", "10 mail.sender.test")
        server.add("mail.sender.test", "A", "203.0.113.9")
        server.add_ptr("203.0.113.9", "mail.sender.test")
        yield server


def make_scanner(tmp_path: Path, dns: TestDnsServer, **overrides: Any) -> Scanner:
    data: dict[str, Any] = {
        "database": {"url": f"sqlite:///{tmp_path}/thurac.db",
                     "spool_path": f"{tmp_path}/spool.jsonl"},
        "dns": {"nameservers": [dns.address], "timeout": 0.5, "budget": 2},
        "local": {"domains": ["example.test"], "internal_networks": ["10.0.0.0/8"],
                  "authserv_id": "mx.example.test"},
        "actions": {"add_header": 5, "quarantine": 10, "reject": 15},
    }
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    return open_scanner(parse_settings(data))


@pytest.fixture
def scanner(tmp_path: Path, dns: TestDnsServer) -> Iterator[Scanner]:
    s = make_scanner(tmp_path, dns)
    yield s
    s.close()


@pytest.fixture
def scanner_with(tmp_path: Path, dns: TestDnsServer) -> Iterator[Callable[..., Scanner]]:
    """scanner_with(section={...}, ...) -> a scanner with those overrides, closed after."""
    made: list[Scanner] = []

    def make(**overrides: Any) -> Scanner:
        made.append(make_scanner(tmp_path / str(len(made)), dns, **overrides))
        return made[-1]

    yield make
    for s in made:
        s.close()


def feed(scanner: Scanner, raw: bytes, sender: str, *rcpts: str, ip: str = "203.0.113.9",
         helo: str = "mail.sender.test", macros: dict[str, str] | None = None) -> RecordingCtx:
    Milter.factory = lambda: ThuracMilter(scanner, WORKERS)
    Milter.set_flags(FLAGS)
    ctx = RecordingCtx()
    ctx._setsymval("i", "4XQID123")
    for name, value in (macros or {}).items():
        ctx._setsymval(name, value)
    assert ctx._connect(helo=helo, ip=ip) == Milter.CONTINUE
    ctx.rc = ctx._feedFile(io.BytesIO(raw), sender, *rcpts)
    return ctx


# Scores C22_TECH_MAILER (2.5) and a few technology symbols: over 3 with the thresholds below.
SPAMMY = b"From: x@sender.test\nTo: bob@example.test\nX-Mailer: PHPMailer 5\n\nbuy\n"
PLAIN = (b"From: Ann <ann@sender.test>\nTo: bob@example.test\nSubject: hello\n"
         b"Date: Mon, 23 Nov 2026 10:00:00 +0700\nMessage-ID: <m1@sender.test>\n\nHi Bob\n")


def test_clean_message_is_accepted_with_spam_headers(scanner: Scanner) -> None:
    ctx = feed(scanner, PLAIN, "ann@sender.test", "bob@example.test")
    assert ctx.rc == Milter.ACCEPT
    assert ctx._msg["X-Spam-Flag"] == "NO"
    assert ctx._msg["X-Spam-Status"].startswith("No, score=")
    assert "X-Thurac-Report" in ctx._msg
    assert ctx.quarantined is None


def test_forged_spam_flag_from_outside_is_removed(scanner: Scanner) -> None:
    raw = b"X-Spam-Flag: NO\nX-Spam-Score: -100\n" + PLAIN
    ctx = feed(scanner, raw, "ann@sender.test", "bob@example.test")
    assert ctx._msg.get_all("X-Spam-Flag") == ["NO"]  # ours, exactly one
    assert ctx._msg.get_all("X-Spam-Score") != ["-100"]
    assert len(ctx._msg.get_all("X-Spam-Score")) == 1


def test_high_score_is_rejected_with_550_naming_top_symbols(
    scanner_with: Callable[..., Scanner],
) -> None:
    s = scanner_with(actions={"add_header": 1, "quarantine": 2, "reject": 3})
    ctx = feed(s, SPAMMY, "x@sender.test", "bob@example.test", helo="[203.0.113.9]")
    assert ctx.rc == Milter.REJECT
    code, xcode, text = ctx._reply
    assert (code, xcode) == ("550", "5.7.1")
    assert text.startswith("Rejected as spam (Circular 22/2021 art. 4.3c, sending technology: ")
    assert "C22_TECH_MAILER" in text and text.endswith("]") and "[queue id " in text


def test_middle_score_goes_to_quarantine(scanner_with: Callable[..., Scanner]) -> None:
    s = scanner_with(actions={"add_header": 1, "quarantine": 2, "reject": 100})
    ctx = feed(s, SPAMMY, "x@sender.test", "bob@example.test")
    assert ctx.rc == Milter.ACCEPT
    assert ctx.quarantined is not None and "C22_TECH_MAILER" in ctx.quarantined
    assert ctx._msg["X-Spam-Flag"] == "YES"


def test_tag_only_mode_never_rejects(scanner_with: Callable[..., Scanner]) -> None:
    s = scanner_with(actions={"mode": "tag-only", "add_header": 1, "quarantine": 2, "reject": 3})
    ctx = feed(s, SPAMMY, "x@sender.test", "bob@example.test", helo="[203.0.113.9]")
    assert ctx.rc == Milter.ACCEPT
    assert ctx.quarantined is None
    assert ctx._msg["X-Spam-Flag"] == "YES"


def test_authenticated_client_is_outbound_and_not_scored(scanner: Scanner) -> None:
    ctx = feed(scanner, PLAIN, "bob@example.test", "ann@sender.test",
               macros={"{auth_authen}": "bob"})
    assert ctx.rc == Milter.ACCEPT
    assert "X-Spam-Flag" not in ctx._msg


def test_reply_to_a_local_user_is_not_unrelated(scanner: Scanner) -> None:
    out = (b"From: bob@example.test\nTo: ann@sender.test\nMessage-ID: <out-1@example.test>\n"
           b"Date: Mon, 23 Nov 2026 09:00:00 +0700\n\nquestion\n")
    feed(scanner, out, "bob@example.test", "ann@sender.test", ip="10.1.2.3")
    assert scanner.recorder is not None and scanner.recorder.flush()
    reply = (b"From: ann@sender.test\nTo: bob@example.test\nIn-Reply-To: <out-1@example.test>\n"
             b"Message-ID: <r1@sender.test>\nDate: Mon, 23 Nov 2026 10:00:00 +0700\n\nanswer\n")
    ctx = feed(scanner, reply, "ann@sender.test", "bob@example.test")
    assert "C22_UNRELATED" not in ctx._msg["X-Spam-Status"]
    first_contact = feed(scanner, PLAIN.replace(b"bob@", b"carol@"), "ann@sender.test",
                         "carol@example.test")
    assert "C22_UNRELATED_RCPT" in first_contact._msg["X-Spam-Status"]


def test_internal_error_accepts_with_header_by_default(scanner: Scanner,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_message: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(scanner, "scan", broken)
    ctx = feed(scanner, b"X-Spam-Flag: NO\n" + PLAIN, "ann@sender.test", "bob@example.test")
    assert ctx.rc == Milter.ACCEPT
    assert ctx._msg["X-Thurac-Report"] == "not scored: internal error"
    assert "X-Spam-Flag" not in ctx._msg  # the sender's forged verdict is gone all the same


def test_internal_error_tempfails_when_configured(scanner_with: Callable[..., Scanner],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    s = scanner_with(milter={"on_error": "tempfail"})

    def broken(_message: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(s, "scan", broken)
    ctx = feed(s, PLAIN, "ann@sender.test", "bob@example.test")
    assert ctx.rc == Milter.TEMPFAIL
    assert ctx._reply[:2] == ("451", "4.7.1")


def test_unreadable_store_still_gives_a_verdict(tmp_path: Path, dns: TestDnsServer) -> None:
    s = make_scanner(tmp_path, dns)
    s.engine.dispose()
    (tmp_path / "thurac.db").write_bytes(b"this is not a database" * 100)
    try:
        ctx = feed(s, PLAIN, "ann@sender.test", "bob@example.test")
    finally:
        s.close()
    assert ctx.rc == Milter.ACCEPT
    assert "THURAC_HISTORY_UNAVAILABLE" in ctx._msg["X-Spam-Status"]


def test_giant_body_is_bounded_and_still_accepted(scanner_with: Callable[..., Scanner]) -> None:
    s = scanner_with(milter={"max_body_bytes": 1000})
    ctx = feed(s, PLAIN + b"x" * 200_000 + b"\n", "ann@sender.test", "bob@example.test")
    builder = ctx._priv.builder
    assert ctx.rc == Milter.ACCEPT
    assert builder.body_size == 1000 and builder.body_truncated


def test_reload_applies_to_the_next_message_and_names_what_needs_a_restart(
    scanner_with: Callable[..., Scanner],
) -> None:
    s = scanner_with(actions={"add_header": 1, "quarantine": 2, "reject": 3})
    assert feed(s, SPAMMY, "x@sender.test", "bob@example.test").rc == Milter.REJECT
    tag_only = s.settings.model_copy(update={
        "actions": s.settings.actions.model_copy(update={"mode": "tag-only"}),
        "database": s.settings.database.model_copy(update={"url": "sqlite:////elsewhere"}),
    })
    assert s.reload(tag_only) == ["database.url"]
    assert feed(s, SPAMMY, "x@sender.test", "bob@example.test").rc == Milter.ACCEPT


def test_the_restart_warning_compares_with_what_is_in_use_not_the_last_reload(
    scanner_with: Callable[..., Scanner],
) -> None:
    s = scanner_with()
    first = s.settings
    moved = first.model_copy(update={
        "milter": first.milter.model_copy(update={"socket": "inet:9999@127.0.0.1"})})
    assert s.reload(moved) == ["milter.socket"]
    assert s.reload(moved) == ["milter.socket"]  # still not in effect: still said
    assert s.reload(first) == []  # back to the socket in use: nothing to restart for


def test_verdict_is_computed_on_a_thurac_thread_not_the_mta_callback_thread(
    scanner: Scanner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # libmilter's threads carry pymilter's per-connection thread states; C code that uses
    # PyGILState there (sqlite3 closing a connection) corrupted memory under load.
    seen: list[str] = []
    read = scanner.history

    def history(message: Any, *args: Any) -> Any:
        seen.append(threading.current_thread().name)
        return read(message, *args)

    monkeypatch.setattr(scanner, "history", history)
    ctx = feed(scanner, PLAIN, "ann@sender.test", "bob@example.test")
    assert ctx.rc == Milter.ACCEPT and ctx._msg["X-Spam-Flag"] == "NO"
    assert len(seen) == 1 and seen[0].startswith("thurac-verdict")
    assert seen[0] != threading.current_thread().name


def test_verdict_that_overruns_its_time_is_accepted_unscored(
    scanner: Scanner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    scan = scanner.scan

    def slow_scan(message: Any) -> Any:
        time.sleep(1.0)
        return scan(message)

    monkeypatch.setattr(scanner, "scan", slow_scan)
    monkeypatch.setattr(scanner, "verdict_timeout", lambda: 0.2)
    ctx = feed(scanner, PLAIN, "ann@sender.test", "bob@example.test")
    assert ctx.rc == Milter.ACCEPT
    assert ctx._msg["X-Thurac-Report"] == "not scored: verdict timed out"
