"""The admin asks "why?" through a real Postfix and a real `thurac run` (Decree 91/2020 art.
10.6): `thurac explain` gives what thurac's log line said for that queue id, by queue id and
by Message-ID, and `thurac headers` gives the header block as it was sent."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.integration.conftest import Stack, message
from tests.support.thurac import ROOT

pytestmark = pytest.mark.postfix

SPAMMER_IP = "127.0.0.10"
MSGID = "<why.1@bulk.test>"
SUBJECT = "Khuyến mãi: why was this tagged?"
# Pinned so that later tuning of default scores does not change the story.
CONFIG: dict[str, Any] = {
    "scores": {"SPF_NONE": 1.0, "DKIM_NONE": 0.5, "C22_TECH_NO_TLS": 0.5,
               "C22_TECH_MAILER": 3.0},
    "actions": {"add_header": 3.0, "quarantine": 50.0, "reject": 60.0},
}
_LOG_RE = re.compile(r" score=(?P<score>[\d.-]+) required=[\d.]+ action=(?P<action>\w+)"
                     r"(?: would=\w+)? symbols=(?P<symbols>\S+)")


def thurac(stack: Stack, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thurac", *argv, "--config", str(stack.thurac.config_path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT)


def wait_recorded(stack: Stack, queue_id: str, timeout: float = 10.0) -> None:
    """The recorder writes behind the reply: wait until the event is in the store."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with stack.thurac.store() as db:
            if db.execute("SELECT 1 FROM events WHERE queue_id = ?", (queue_id,)).fetchone():
                return
        time.sleep(0.05)
    raise AssertionError(f"no event for {queue_id} in the store:\n{stack.thurac.log()[-3000:]}")


def logged(line: str) -> tuple[str, str, dict[str, str]]:
    """Score, action and {symbol: score} of thurac's log line."""
    found = _LOG_RE.search(line)
    assert found, line
    symbols = dict(re.findall(r"([A-Z0-9_]+)\(([^)]*)\)", found["symbols"]))
    return found["score"], found["action"], symbols


def test_explain_and_headers_tell_what_thurac_decided_for_a_queue_id(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(CONFIG)
    data = message("promo@bulk.test", "bob@example.test", SUBJECT,
                   extra="X-Mailer: PHPMailer 6.1\r\n", msgid=MSGID)
    sent = stack.send("promo@bulk.test", ["bob@example.test"], data, source_ip=SPAMMER_IP,
                      helo="mail.bulk.test")
    assert sent.ok and sent.queue_id, sent
    qid = sent.queue_id
    line = stack.thurac.log_line_for(qid)
    wait_recorded(stack, qid)

    explained = thurac(stack, "explain", qid, "--json")

    assert explained.returncode == 0, explained.stderr
    found = json.loads(explained.stdout)
    score, action, symbols = logged(line)
    assert found["queue_id"] == qid
    assert f"{found['score']:.1f}" == score
    assert found["action"] == action == "add_header"
    assert {s["name"]: f"{s['score']:g}" for s in found["symbols"]} == symbols
    assert "C22_TECH_MAILER" in symbols
    assert all(s["reason"] for s in found["symbols"] if s["name"] == "C22_TECH_MAILER")
    assert (found["sender"], found["recipients"], found["helo"], found["message_id"]) == (
        "promo@bulk.test", ["bob@example.test"], "mail.bulk.test", "why.1@bulk.test")
    assert found["direction"] == "inbound" and found["older_events"] == 0

    by_message_id = thurac(stack, "explain", "--message-id", MSGID, "--json")
    assert by_message_id.returncode == 0, by_message_id.stderr
    assert json.loads(by_message_id.stdout)["queue_id"] == qid

    headers = thurac(stack, "headers", "--queue-id", qid)
    assert headers.returncode == 0, headers.stderr
    lines = headers.stdout.splitlines()
    assert f"Subject: {SUBJECT}" in lines
    assert f"Message-ID: {MSGID}" in lines
    assert "X-Spam-Flag: YES" not in lines  # the block as it arrived, before our headers

    unknown = thurac(stack, "explain", "NOSUCHQUEUEID")
    assert unknown.returncode == 1
    assert "no message with queue id NOSUCHQUEUEID" in unknown.stderr
