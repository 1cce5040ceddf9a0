"""The administrator's story through a real Postfix: bursts end in quarantine or reject,
correspondents pass, forged X-Spam headers vanish, tag-only mode only tags."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.integration.conftest import INTERNAL_IP, Stack, message

pytestmark = pytest.mark.postfix

SPAMMER_IP = "127.0.0.10"
FRIEND_IP = "127.0.0.11"

# Low limits so a short burst shows the whole escalation.
BURST_CONFIG: dict[str, Any] = {
    "frequency": {"windows": [{"seconds": 600, "messages": {"sender": 3, "domain": 50, "ip": 50},
                               "recipients": {"sender": 50, "domain": 50, "ip": 50}}]},
    "unrelated_recipients": {"min_recipients": 3, "ratio": 0.8},
    "one_way_source": {"min_messages": 3},
    # Pinned so that later tuning of default scores does not move this story's thresholds.
    "scores": {"SPF_NONE": 1.0, "DKIM_NONE": 0.5, "C22_TECH_NO_TLS": 0.5},
    "actions": {"add_header": 5.0, "quarantine": 9.0, "reject": 18.0},
}


def well_run_domain(stack: Stack, domain: str, ip: str) -> None:
    """MX, A and matching PTR: nothing about the sender's DNS counts against it."""
    stack.dns.add(domain, "MX", f"10 mail.{domain}")
    stack.dns.add(f"mail.{domain}", "A", ip)
    stack.dns.add_ptr(ip, f"mail.{domain}")


def send_burst(stack: Stack, count: int) -> list[Any]:
    """One external sender, one message each to `count` distinct local users."""
    well_run_domain(stack, "bulk.test", SPAMMER_IP)
    return [stack.send("promo@bulk.test", [f"user{n}@example.test"],
                       message("promo@bulk.test", f"user{n}@example.test", f"offer {n}"),
                       source_ip=SPAMMER_IP, helo="mail.bulk.test")
            for n in range(count)]


def test_burst_from_unknown_sender_is_tagged_then_quarantined_then_rejected(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(BURST_CONFIG)
    results = send_burst(stack, 8)

    # The first messages are delivered, with our headers.
    first = stack.sink.wait_for(lambda m: m.subject == "offer 0")
    assert first.headers("X-Spam-Flag") == ["NO"]
    assert first.headers("X-Spam-Status")[0].startswith("No, score=")
    assert results[0].ok

    # The burst escalates: some held in Postfix's hold queue, the last refused with 5.7.1.
    held = [r.queue_id for r in results if r.ok and r.queue_id in stack.postfix.hold_queue()]
    assert held, f"nothing quarantined: {[(r.code, r.message) for r in results]}"
    last = results[-1]
    assert last.code == 550 and "5.7.1" in last.message
    # The reply cites the criterion that weighed most, with what was measured.
    assert ("art. 4.3a, send frequency: 8 messages/10min > 3" in last.message
            or "art. 4.3b, recipients with no prior exchange" in last.message), last.message

    # thurac's log lines for held messages, found by queue id, name the criteria.
    lines = [stack.thurac.log_line_for(qid) for qid in held]
    assert all("action=quarantine" in line for line in lines)
    assert any("C22_FREQ_SENDER" in line and "C22_UNRELATED_RATIO" in line for line in lines)
    # Nothing quarantined or rejected reached the mailbox side.
    subjects = {m.subject for m in stack.sink.messages}
    assert "offer 7" not in subjects


def test_reply_from_a_correspondent_is_not_penalised(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory({"one_way_source": {"min_messages": 1}})
    well_run_domain(stack, "partner.test", FRIEND_IP)
    # Our user writes out first (from the internal network) ...
    out = stack.send("alice@example.test", ["carol@partner.test"],
                     message("alice@example.test", "carol@partner.test", "question",
                             msgid="<q1@example.test>"),
                     source_ip=INTERNAL_IP, helo="ws1.example.test")
    assert out.ok
    sent = stack.sink.wait_for(lambda m: m.subject == "question")
    assert not sent.headers("X-Spam-Status")  # nothing is added to outbound mail
    assert "action=accept" in stack.thurac.log_line_for(out.queue_id)

    # ... then Carol answers, and a stranger from the same network writes too.
    reply = stack.send("carol@partner.test", ["alice@example.test"],
                       message("carol@partner.test", "alice@example.test", "answer",
                               extra="In-Reply-To: <q1@example.test>\r\n"),
                       source_ip=FRIEND_IP, helo="mail.partner.test")
    stranger = stack.send("dave@partner.test", ["alice@example.test"],
                          message("dave@partner.test", "alice@example.test", "cold call"),
                          source_ip=FRIEND_IP, helo="mail.partner.test")
    assert reply.ok and stranger.ok
    answer = stack.sink.wait_for(lambda m: m.subject == "answer")
    status = answer.headers("X-Spam-Status")[0]
    assert "C22_UNRELATED" not in status and "C22_ONE_WAY" not in status
    cold = stack.sink.wait_for(lambda m: m.subject == "cold call")
    cold_status = cold.headers("X-Spam-Status")[0]
    assert "C22_UNRELATED_RCPT" in cold_status and "C22_ONE_WAY" in cold_status


def test_forged_spam_headers_from_outside_are_replaced(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory({"actions": {"add_header": 3.0}})
    well_run_domain(stack, "bulk.test", SPAMMER_IP)
    forged = ("X-Spam-Flag: NO\r\nX-Spam-Status: No, score=-50 required=5.0 tests=none\r\n"
              "x-spam-flag: NO\r\nX-Thurac-Report: trust me\r\nX-Mailer: PHPMailer 6.1\r\n")
    result = stack.send("promo@bulk.test", ["bob@example.test"],
                        message("promo@bulk.test", "bob@example.test", "forged", extra=forged),
                        source_ip=SPAMMER_IP, helo="mail.bulk.test")
    assert result.ok
    got = stack.sink.wait_for(lambda m: m.subject == "forged")
    assert got.headers("X-Spam-Flag") == ["YES"]
    assert len(got.headers("X-Spam-Status")) == 1
    assert got.headers("X-Spam-Status")[0].startswith("Yes, score=")
    assert "C22_TECH_MAILER" in got.headers("X-Spam-Status")[0]
    assert all("trust me" not in v for v in got.headers("X-Thurac-Report"))
    assert len(got.headers("X-Thurac-Report")) == 1
    # Written as mail clients and Sieve rules expect them, byte for byte.
    assert b"\r\nX-Spam-Flag: YES\r\n" in got.raw
    assert b"\r\nX-Spam-Status: Yes, score=" in got.raw
    assert b"\r\nX-Thurac-Report: score=" in got.raw


def test_tag_only_mode_delivers_the_whole_burst_tagged(
    stack_factory: Callable[..., Stack],
) -> None:
    config = {**BURST_CONFIG, "actions": {**BURST_CONFIG["actions"], "mode": "tag-only"}}
    stack = stack_factory(config)
    results = send_burst(stack, 8)
    assert all(r.ok for r in results), [(r.code, r.message) for r in results]
    delivered = stack.sink.wait_count(8)
    assert stack.postfix.hold_queue() == []
    last = next(m for m in delivered if m.subject == "offer 7")
    assert last.headers("X-Spam-Flag") == ["YES"]
    line = stack.thurac.log_line_for(results[-1].queue_id)
    assert "action=add_header" in line and "would=reject" in line


def test_mail_submitted_on_the_server_itself_is_outbound(
    stack_factory: Callable[..., Stack],
) -> None:
    # The sendmail command goes through Postfix's pickup and non_smtpd_milters; with the
    # default internal network 127.0.0.1 it teaches thurac a correspondent, untouched.
    stack = stack_factory({"local": {"internal_networks": ["127.0.0.1/32", "::1/128"]}})
    done = stack.postfix.sendmail("alice@example.test", ["zoe@partner.test"],
                                  message("alice@example.test", "zoe@partner.test", "local"))
    assert done.returncode == 0, done.stderr
    delivered = stack.sink.wait_for(lambda m: m.subject == "local")
    assert not delivered.headers("X-Spam-Status")
    lines = [line for line in stack.thurac.log().splitlines() if "direction=" in line]
    assert lines and "direction=outbound" in lines[-1]
    assert "action=accept" in lines[-1]


def test_unix_socket_is_reachable_by_postfix(stack_factory: Callable[..., Stack]) -> None:
    # Like /run/thurac: a folder Postfix's processes (user postfix) may traverse.
    run_dir = Path(tempfile.mkdtemp(prefix="thurac-run-"))
    run_dir.chmod(0o755)
    sock = run_dir / "milter.sock"
    stack = stack_factory({"milter": {"socket": f"unix:{sock}"}})
    result = stack.send("promo@bulk.test", ["bob@example.test"],
                        message("promo@bulk.test", "bob@example.test", "via unix socket"),
                        source_ip=SPAMMER_IP, helo="mail.bulk.test")
    assert result.ok
    got = stack.sink.wait_for(lambda m: m.subject == "via unix socket")
    assert got.headers("X-Spam-Status")  # scored by thurac, not passed by default action
    assert oct(sock.stat().st_mode & 0o777) == "0o660"
    stack.thurac.stop()
    shutil.rmtree(run_dir, ignore_errors=True)


def test_sighup_applies_a_new_config_and_refuses_a_broken_one(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory({"actions": {"mode": "tag-only", "add_header": 1.0,
                                       "quarantine": 2.0, "reject": 3.0}})
    well_run_domain(stack, "bulk.test", SPAMMER_IP)

    def send(subject: str) -> Any:
        return stack.send("promo@bulk.test", ["bob@example.test"],
                          message("promo@bulk.test", "bob@example.test", subject,
                                  extra="X-Mailer: PHPMailer 6.1\r\n"),
                          source_ip=SPAMMER_IP, helo="mail.bulk.test")

    assert send("first week").ok  # tag-only: delivered, however high the score
    config = stack.thurac.config()
    config["actions"]["mode"] = "enforce"
    stack.thurac.reload(config, expect="configuration reloaded")
    refused = send("after the switch")
    assert refused.code == 550 and "5.7.1" in refused.message

    stack.thurac.reload("actions: {reject: [oops\n", expect="reload refused")
    assert "keeping the running configuration" in stack.thurac.log()
    still = send("after a typo")
    assert still.code == 550  # the last good configuration is still in force
    assert stack.thurac.process is not None and stack.thurac.process.poll() is None


def test_sigterm_stops_thurac_cleanly(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory()
    assert stack.thurac.stop() == 0
    assert "thurac stopped" in stack.thurac.log()
