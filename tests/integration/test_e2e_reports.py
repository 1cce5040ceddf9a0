"""Spam reports through a real Postfix (Circular 22/2021 art. 5.3): a local user forwards
spam to the report address — as an attachment, inline, or a feedback loop sends ARF — and
each becomes one complaint against the right source; the next message from it scores
C22_COMPLAINTS; an outsider's report counts at weight 0; deliver: discard drops reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest
from tests.integration.conftest import INTERNAL_IP, Stack, message, queue_id_of
from tests.support.thurac import ROOT

pytestmark = pytest.mark.postfix

SPAMMER_IP = "127.0.0.10"
PROVIDER_IP = "127.0.0.20"
OUTSIDER_IP = "127.0.0.30"
REPORTS = {"reports": {"addresses": ["spam@example.test"],
                       "feedback_sources": ["fbl.provider.test"]},
           "lists": {"refresh_seconds": 0.5}}


def complaints(stack: Stack) -> list[dict[str, Any]]:
    ran = subprocess.run([sys.executable, "-m", "thurac", "complaints", "list", "--json",
                          "--config", str(stack.thurac.config_path)], capture_output=True,
                         text=True, timeout=60, cwd=ROOT, env=dict(os.environ))
    assert ran.returncode == 0, ran.stderr
    return list(json.loads(ran.stdout))


def spam_delivered(stack: Stack, subject: str, rcpt: str = "bob@example.test") -> Any:
    sent = stack.send("promo@bulk.test", [rcpt], message("promo@bulk.test", rcpt, subject),
                      source_ip=SPAMMER_IP, helo="mail.bulk.test")
    assert sent.ok, sent.message
    return sent.queue_id, stack.sink.wait_for(lambda m: m.subject == subject)


def as_attachment(reporter: str, spam: bytes) -> bytes:
    report = EmailMessage()
    report["From"] = reporter
    report["To"] = "spam@example.test"
    report["Subject"] = "Fwd: spam"
    report["Message-ID"] = f"<report.{time.monotonic_ns()}@example.test>"
    report.set_content("This is spam.")
    report.add_attachment(spam, maintype="message", subtype="rfc822")
    return report.as_bytes()


def result_of(stack: Stack, subject: str) -> str:
    delivered = stack.sink.wait_for(lambda m: m.subject == subject)
    return " ".join(delivered.headers("X-Thurac-Report-Result"))


def test_reports_in_three_forms_become_complaints_that_raise_the_score(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(REPORTS)
    queue_id, spam = spam_delivered(stack, "cheap offer")
    # Delivered before any report (after one, the source's mail scores higher).
    _, other = spam_delivered(stack, "second offer", "carol@example.test")

    # 1. bob forwards it as an attachment from his mail client (our network: a local user).
    sent = stack.send("bob@example.test", ["spam@example.test"],
                      as_attachment("bob@example.test", spam.raw), source_ip=INTERNAL_IP)
    assert sent.ok, sent.message
    result = result_of(stack, "Fwd: spam")
    assert "against sender=promo@bulk.test ip=127.0.0.10 method=trace" in result, result

    # 2. carol forwards another one inline, Gmail style.
    inline = (f"From: carol@example.test\r\nTo: spam@example.test\r\nSubject: Fwd: offer\r\n"
              f"Message-ID: <inline.{time.monotonic_ns()}@example.test>\r\n\r\n"
              f"spam\r\n\r\n---------- Forwarded message ---------\r\n"
              f"From: Promo <promo@bulk.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0700\r\n"
              f"Subject: second offer\r\nTo: <carol@example.test>\r\n\r\nHello.\r\n").encode()
    sent = stack.send("carol@example.test", ["spam@example.test"], inline,
                      source_ip=INTERNAL_IP)
    assert sent.ok, sent.message
    assert "sender=promo@bulk.test" in result_of(stack, "Fwd: offer")
    assert other is not None

    # 3. A listed feedback loop sends ARF, from a host its SPF names.
    stack.dns.add("fbl.provider.test", "TXT", f"v=spf1 ip4:{PROVIDER_IP} -all")
    arf = (f"From: fbl@fbl.provider.test\r\nTo: spam@example.test\r\nSubject: FBL report\r\n"
           f"Message-ID: <arf.{time.monotonic_ns()}@fbl.provider.test>\r\nMIME-Version: 1.0\r\n"
           f'Content-Type: multipart/report; report-type=feedback-report; boundary="b1"\r\n'
           f"\r\n--b1\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n"
           f"--b1\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
           f"User-Agent: provider-fbl/1.0\r\nVersion: 1\r\nSource-IP: 203.0.113.77\r\n"
           f"Original-Mail-From: <promo@bulk.test>\r\n\r\n"
           f"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: promo@bulk.test\r\n"
           f"Subject: third offer\r\n\r\n--b1--\r\n").encode()
    sent = stack.send("fbl@fbl.provider.test", ["spam@example.test"], arf,
                      source_ip=PROVIDER_IP, helo="mx.fbl.provider.test")
    assert sent.ok, sent.message
    assert "method=arf" in result_of(stack, "FBL report")

    found = complaints(stack)
    assert sorted((c["method"], c["trusted"], c["sender"]) for c in found) == [
        ("arf", True, "promo@bulk.test"), ("inline", True, "promo@bulk.test"),
        ("trace", True, "promo@bulk.test")]
    traced = next(c for c in found if c["method"] == "trace")
    assert traced["client_ip"] == SPAMMER_IP and traced["event_id"] is not None

    # The next message from that source carries the complaints.
    nxt = stack.send("promo@bulk.test", ["dave@example.test"],
                     message("promo@bulk.test", "dave@example.test", "fourth offer"),
                     source_ip=SPAMMER_IP, helo="mail.bulk.test")
    assert "C22_COMPLAINTS" in stack.thurac.log_line_for(queue_id_of(nxt))
    # bob reported it: that sender is blocked for bob (only), from the store's lists.
    time.sleep(1)
    to_bob = stack.send("promo@bulk.test", ["bob@example.test"],
                        message("promo@bulk.test", "bob@example.test", "fifth offer"),
                        source_ip=SPAMMER_IP, helo="mail.bulk.test")
    line = stack.thurac.log_line_for(queue_id_of(to_bob))
    assert "BLOCKLIST" in line
    assert "for bob@example.test (reported as spam, complaint" in line
    # Reports are not scored, and the report mailbox's log line says what became of it.
    assert "action=report result=<complaint" in stack.thurac.log()
    assert queue_id


def test_an_outsiders_report_counts_at_weight_zero_and_discard_drops_reports(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory({"reports": {**REPORTS["reports"], "deliver": "discard"}})
    _, spam = spam_delivered(stack, "an offer")
    sent = stack.send("rival@competitor.test", ["spam@example.test"],
                      as_attachment("rival@competitor.test", spam.raw),
                      source_ip=OUTSIDER_IP, helo="mail.competitor.test")
    assert sent.ok, sent.message  # never rejected
    found = complaints(stack)
    assert [(c["trusted"], c["weight"]) for c in found] == [(False, 0.0)]
    time.sleep(1)
    assert not [m for m in stack.sink.messages if m.subject == "Fwd: spam"]  # discarded
    nxt = stack.send("promo@bulk.test", ["dave@example.test"],
                     message("promo@bulk.test", "dave@example.test", "again"),
                     source_ip=SPAMMER_IP, helo="mail.bulk.test")
    assert "C22_COMPLAINTS" not in stack.thurac.log_line_for(nxt.queue_id)


def test_trusted_reports_are_forwarded_as_arf_and_a_dead_relay_costs_mail_nothing(
    stack_factory: Callable[..., Stack],
) -> None:
    from tests.support.net import free_port
    from tests.support.smtp_sink import SmtpSink

    relay_port = free_port()  # nothing listens yet: the relay is down
    stack = stack_factory({"reports": {**REPORTS["reports"],
                                       "forward_to": "chongthurac@authority.test",
                                       "smtp_relay": f"127.0.0.1:{relay_port}",
                                       "forward_retry_seconds": 0.5}})
    _, spam = spam_delivered(stack, "forward me")
    sent = stack.send("bob@example.test", ["spam@example.test"],
                      as_attachment("bob@example.test", spam.raw), source_ip=INTERNAL_IP)
    assert sent.ok, sent.message
    assert "method=trace" in result_of(stack, "Fwd: spam")
    # Mail flows while the relay is down.
    later = stack.send("ann@partner.test", ["bob@example.test"],
                       message("ann@partner.test", "bob@example.test", "still flowing"),
                       source_ip="127.0.0.40", helo="mail.partner.test")
    assert later.ok, later.message
    stack.sink.wait_for(lambda m: m.subject == "still flowing")
    # The relay comes up: the queued report arrives, as RFC 5965 ARF.
    relay = SmtpSink(port=relay_port).start()
    try:
        arrived = relay.wait_for(lambda m: "chongthurac@authority.test" in m.rcpt_tos,
                                 timeout=90)
    finally:
        relay.stop()
    report = arrived.message
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "feedback-report"
    parts = report.get_payload()
    assert isinstance(parts, list) and len(parts) == 3
    fields = parts[1].get_payload()[0] if parts[1].is_multipart() else parts[1]
    text = fields.as_string() if hasattr(fields, "as_string") else str(fields)
    for field in ("Feedback-Type: abuse", "User-Agent: thurac/", "Version: 1",
                  f"Source-IP: {SPAMMER_IP}", "Original-Mail-From: <promo@bulk.test>"):
        assert field in text, (field, text)
