"""Malformed mail through a real Postfix: every message is delivered and scored, none is lost,
and thurac keeps running."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.integration.conftest import Stack

pytestmark = pytest.mark.postfix

SOURCE_IP = "127.0.0.20"
BIG_BODY_LINES = 60_000  # about 4.6 MB: well past milter.max_body_bytes below

MALFORMED: dict[str, bytes] = {
    "no header section": b"just a body line, no headers at all\r\n",
    "header line without colon": (b"Subject: malformed-colon\r\nThis is not a header\r\n"
                                  b"From: a@junk.test\r\n\r\nbody\r\n"),
    "8-bit junk in headers": (b"Subject: malformed-8bit \xff\xfe\xc3\x28\r\n"
                              b"From: \xe9\xe8 <a@junk.test>\r\nX-Mailer: \x80\x81\r\n"
                              b"\r\nbody\r\n"),
    "a 20k-character header": (b"Subject: malformed-long\r\nX-Long: " + b"A" * 20_000
                               + b"\r\nFrom: a@junk.test\r\n\r\nbody\r\n"),
    "broken MIME": (b"Subject: malformed-mime\r\nFrom: a@junk.test\r\nMIME-Version: 1.0\r\n"
                    b"Content-Type: multipart/mixed; boundary=\"nope\r\n\r\n--nope\r\n"
                    b"Content-Type: text/plain; charset=bogus-charset\r\n\r\nunterminated\r\n"),
    "NUL and control bytes": (b"Subject: malformed-nul\x01\x02\r\nFrom: a@junk.test\r\n\r\n"
                              b"nul \x00 byte\r\n"),
    "several From headers": (b"Subject: malformed-from\r\nFrom: a@junk.test\r\n"
                             b"From: b@junk.test, c@junk.test\r\n\r\nbody\r\n"),
    "forged folded X-Spam-Flag": (b"Subject: malformed-folded\r\nFrom: a@junk.test\r\n"
                                  b"X-Spam-Flag:\r\n NO\r\n\r\nbody\r\n"),
    "giant body": (b"Subject: malformed-giant\r\nFrom: a@junk.test\r\n\r\n"
                   + b"0123456789 abcdefghij 0123456789 abcdefghij 0123456789 abcdef\r\n"
                   * BIG_BODY_LINES),
}


def test_malformed_mail_is_delivered_scored_and_thurac_survives(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory({"actions": {"mode": "tag-only"},
                           "milter": {"max_body_bytes": 1_000_000}})
    results = {}
    for n, (case, data) in enumerate(MALFORMED.items()):
        results[case] = stack.send(f"sender{n}@junk.test", [f"user{n}@example.test"], data,
                                   source_ip=SOURCE_IP, helo="junk")
    refused = {case: (r.code, r.message) for case, r in results.items() if not r.ok}
    assert refused == {}

    delivered = stack.sink.wait_count(len(MALFORMED), timeout=60)
    for mail in delivered:
        # Scored (not the on_error path), and exactly one of our headers each.
        assert len(mail.headers("X-Spam-Status")) == 1, mail.rcpt_tos
        assert len(mail.headers("X-Spam-Flag")) == 1, mail.rcpt_tos
        assert "not scored" not in " ".join(mail.headers("X-Thurac-Report"))
    for case, result in results.items():
        assert "action=" in stack.thurac.log_line_for(result.queue_id), case
    assert "Traceback" not in stack.thurac.log()

    # Still alive and answering: one more ordinary message goes through.
    after = stack.send("late@junk.test", ["user0@example.test"],
                       b"Subject: after the storm\r\nFrom: late@junk.test\r\n\r\nok\r\n",
                       source_ip=SOURCE_IP, helo="junk")
    assert after.ok
    assert stack.sink.wait_for(lambda m: m.subject == "after the storm").headers("X-Spam-Flag")


def test_null_sender_bounce_is_scored_by_client_ip(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory()
    result = stack.send("", ["user@example.test"],
                        b"Subject: Undelivered Mail Returned to Sender\r\n"
                        b"From: MAILER-DAEMON@junk.test\r\n\r\nbounce\r\n",
                        source_ip=SOURCE_IP, helo="mx.junk.test")
    assert result.ok
    line = stack.thurac.log_line_for(result.queue_id)
    assert "from=<>" in line and "action=" in line
