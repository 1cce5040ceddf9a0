"""The quarantine through a real Postfix: Postfix keeps no reason with a held message, so
`thurac quarantine list` gives it from the store; a release delivers at once and teaches
thurac that the sender and that recipient are related; a delete removes the message."""

from __future__ import annotations

import json
import os
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

SENDER = "promo@bulk.test"
SENDER_IP = "127.0.0.10"
# A first message from a stranger to one of our users scores 3.0 and is held; once the pair
# is related (no C22_UNRELATED_RCPT), the same mail scores 2.0 and is only tagged.
QUARANTINE_CONFIG: dict[str, Any] = {
    "scores": {"SPF_NONE": 1.0, "DKIM_NONE": 0.5, "C22_TECH_NO_TLS": 0.5,
               "C22_UNRELATED_RCPT": 1.0},
    "actions": {"add_header": 1.0, "quarantine": 2.5, "reject": 50.0},
}


def start(stack_factory: Callable[..., Stack]) -> Stack:
    stack = stack_factory(QUARANTINE_CONFIG)
    stack.dns.add("bulk.test", "MX", "10 mail.bulk.test")
    stack.dns.add("mail.bulk.test", "A", SENDER_IP)
    stack.dns.add_ptr(SENDER_IP, "mail.bulk.test")
    return stack


def send(stack: Stack, rcpt: str, subject: str) -> str:
    result = stack.send(SENDER, [rcpt], message(SENDER, rcpt, subject),
                        source_ip=SENDER_IP, helo="mail.bulk.test")
    assert result.ok and result.queue_id, (result.code, result.message)
    return result.queue_id


def send_held(stack: Stack, rcpt: str, subject: str) -> str:
    queue_id = send(stack, rcpt, subject)
    stack.postfix.wait_hold(queue_id)
    return queue_id


def thurac(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m thurac ARGS --config …` as an operator runs it, on this Postfix instance."""
    env = {**os.environ, "MAIL_CONFIG": str(stack.postfix.config_dir)}
    return subprocess.run([sys.executable, "-m", "thurac", *args,
                           "--config", str(stack.thurac.config_path)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)


def listed(stack: Stack, queue_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The held message's entry in `quarantine list --json`, once its verdict is stored
    (the recorder writes behind the reply)."""
    deadline = time.monotonic() + timeout
    while True:
        done = thurac(stack, "quarantine", "list", "--json")
        assert done.returncode == 0, done.stderr
        entry = {e["queue_id"]: e for e in json.loads(done.stdout)}[queue_id]
        if entry["score"] is not None or time.monotonic() > deadline:
            return entry
        time.sleep(0.2)


def logged_symbols(line: str) -> tuple[str, list[tuple[str, float]]]:
    """score and symbols (name, score) of thurac's log line for a message."""
    score = re.search(r" score=(\S+)", line)
    symbols = re.search(r" symbols=(\S+)", line)
    assert score and symbols, line
    found = re.findall(r"([A-Z0-9_]+)\(([-0-9.e]+)\)", symbols.group(1))
    return score.group(1), [(name, float(value)) for name, value in found]


def test_list_gives_the_reason_postfix_does_not_keep(stack_factory: Callable[..., Stack]) -> None:
    stack = start(stack_factory)
    queue_id = send_held(stack, "bob@example.test", "first contact")
    # Postfix itself only knows that the milter asked for HOLD.
    assert [q["queue_id"] for q in stack.postfix.queue_json()
            if q["queue_name"] == "hold"] == [queue_id]

    entry = listed(stack, queue_id)
    score, symbols = logged_symbols(stack.thurac.log_line_for(queue_id))
    assert f"{entry['score']:.1f}" == score == "3.0"
    by_score = sorted(symbols, key=lambda s: (-s[1], s[0]))
    assert entry["symbols"] == [name for name, _ in by_score]
    assert "C22_UNRELATED_RCPT" in entry["symbols"]
    assert (entry["sender"], entry["recipients"]) == (SENDER, ["bob@example.test"])
    assert entry["action"] == "quarantine" and 0 <= entry["age_seconds"] < 60
    assert all(r["reason"] for r in entry["reasons"])

    text = thurac(stack, "quarantine", "list")
    assert text.returncode == 0, text.stderr
    assert f"{queue_id}  held " in text.stdout and "score 3.0" in text.stdout
    assert "C22_UNRELATED_RCPT: none of 1 recipient(s) ever exchanged mail" in text.stdout


def test_release_delivers_now_and_relates_the_sender_to_that_recipient(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = start(stack_factory)
    held = send_held(stack, "bob@example.test", "wanted after all")
    listed(stack, held)  # its verdict is stored

    done = thurac(stack, "quarantine", "release", held, "NOSUCH42", "--by", "alice")
    assert done.returncode == 1
    assert "thurac quarantine: NOSUCH42: not in the hold queue" in done.stderr
    assert held not in done.stderr
    assert f"{held}: released by alice" in done.stdout
    assert f"<{SENDER}> now counts as a correspondent of bob@example.test" in done.stdout
    delivered = stack.sink.wait_for(lambda m: m.subject == "wanted after all", timeout=5)
    assert delivered.headers("X-Spam-Flag") == ["YES"]
    assert held not in stack.postfix.hold_queue()
    with stack.thurac.store() as db:
        (released_by, event_id), = db.execute("SELECT released_by, event_id FROM releases "
                                              "WHERE queue_id = ?", (held,)).fetchall()
    assert released_by == "alice" and event_id is not None

    # The next message from that sender to Bob is related; to Carol it is still not.
    to_bob = send(stack, "bob@example.test", "second to bob")
    to_carol = send(stack, "carol@example.test", "first to carol")
    assert "C22_UNRELATED_RCPT" not in stack.thurac.log_line_for(to_bob)
    assert "action=add_header" in stack.thurac.log_line_for(to_bob)
    assert stack.sink.wait_for(lambda m: m.subject == "second to bob", timeout=5)
    assert "C22_UNRELATED_RCPT" in stack.thurac.log_line_for(to_carol)
    stack.postfix.wait_hold(to_carol)


def test_delete_removes_a_held_message(stack_factory: Callable[..., Stack]) -> None:
    stack = start(stack_factory)
    held = send_held(stack, "bob@example.test", "unwanted")
    done = thurac(stack, "quarantine", "delete", held)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{held}: deleted"
    assert held not in stack.postfix.hold_queue()
    again = thurac(stack, "quarantine", "delete", held)
    assert again.returncode == 1 and f"{held}: not in the hold queue" in again.stderr
    assert all(m.subject != "unwanted" for m in stack.sink.messages)
