"""The milter adapter on outbound mail (pymilter's test context, real scanner and SQLite):
a suspension answered with 451 defers with the outbound text; one answered with `hold` is
accepted and held with the reason Postfix logs; nothing is added to outbound mail unless
outbound.add_headers is on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import Milter
from tests.test_milter import dns, feed, scanner_with  # noqa: F401  (the fixtures)

from thurac.scanner import Scanner

LOGIN = {"{auth_authen}": "alice@example.test"}
STRANGERS = tuple(f"r{i}@remote.test" for i in range(5))
LIMITS: dict[str, Any] = {"windows": [{"seconds": 600, "unrelated": 2}],
                          "suspend_limits": [{"seconds": 600, "unrelated": 4}]}


def mail(rcpts: tuple[str, ...]) -> bytes:
    return (f"From: alice@example.test\nTo: {rcpts[0]}\nSubject: hi\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0700\nMessage-ID: <m.{rcpts[0]}>\n\nHi\n").encode()


def send(scanner: Scanner, rcpts: tuple[str, ...]) -> Any:
    return feed(scanner, mail(rcpts), "alice@example.test", *rcpts, ip="198.51.100.20",
                helo="laptop.example.net", macros=LOGIN)


def test_a_suspension_answered_with_451_defers_with_the_outbound_text(
        scanner_with: Callable[..., Scanner]) -> None:  # noqa: F811
    scanner = scanner_with(outbound={**LIMITS, "suspend_answer": "tempfail"})
    ctx = send(scanner, STRANGERS)
    assert ctx.rc == Milter.TEMPFAIL
    code, xcode, text = ctx._reply
    assert (code, xcode) == ("451", "4.7.1")
    assert text == ("Your account is suspended for sending suspected spam (5 new "
                    "recipients/10min > 4); please contact support [queue id 4XQID123]")
    again = send(scanner, STRANGERS[:1])  # suspended here at once, before any store read
    assert again.rc == Milter.TEMPFAIL and "account suspended since" in again._reply[2]


def test_a_suspension_answered_with_hold_is_accepted_and_held(
        scanner_with: Callable[..., Scanner]) -> None:  # noqa: F811
    scanner = scanner_with(outbound={**LIMITS, "suspend_answer": "hold"})
    ctx = send(scanner, STRANGERS)
    assert ctx.rc == Milter.ACCEPT
    assert ctx.quarantined == ("thurac outbound suspension: account alice@example.test: 5 "
                               "unrelated rcpts/10min > 4")
    assert "X-Spam-Flag" not in ctx._msg and "X-Thurac-Report" not in ctx._msg


def test_held_outbound_mail_gets_headers_only_when_asked(
        scanner_with: Callable[..., Scanner]) -> None:  # noqa: F811
    quiet = send(scanner_with(outbound=LIMITS), STRANGERS[:3])
    assert quiet.rc == Milter.ACCEPT and quiet.quarantined is not None
    assert "X-Spam-Flag" not in quiet._msg
    tagged = send(scanner_with(outbound={**LIMITS, "add_headers": True}), STRANGERS[:3])
    assert tagged.rc == Milter.ACCEPT and tagged.quarantined is not None
    assert tagged._msg["X-Spam-Flag"] == "YES"
    assert "OUT_UNRELATED" in tagged._msg["X-Spam-Status"]
