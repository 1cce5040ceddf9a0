"""Per-recipient policies through a real Postfix: a stricter mailbox's thresholds decide for
a message that also goes to others, and a per-domain score override changes the verdict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.integration.conftest import Stack, message

pytestmark = pytest.mark.postfix

SENDER_IP = "127.0.0.10"


def send(stack: Stack, rcpts: list[str], subject: str, helo: str = "mail.shop.test") -> Any:
    return stack.send("news@shop.test", rcpts, message("news@shop.test", rcpts[0], subject),
                      source_ip=SENDER_IP, helo=helo)


def test_the_strictest_recipient_policy_decides_and_is_named(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory({"policies": {"legal@example.test": {
        "actions": {"add_header": 0.5, "quarantine": 0.8, "reject": 1.0}}}})
    relaxed = send(stack, ["bob@example.test"], "to bob")
    assert relaxed.ok, relaxed.message
    line = stack.thurac.log_line_for(relaxed.queue_id)
    assert "policy=" not in line

    strict = send(stack, ["bob@example.test", "legal@example.test"], "to both")
    assert strict.code == 550, strict.message
    assert "policy=legal@example.test" in stack.thurac.log()
    assert "action=reject" in stack.thurac.log()


def test_a_per_domain_score_override_changes_the_verdict(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory({"policies": {"example.test": {
        "scores": {"C22_TECH_HELO_NOT_FQDN": 25.0}}}})
    rejected = send(stack, ["bob@example.test"], "bare helo", helo="shophost")
    assert rejected.code == 550, rejected.message
    assert "C22_TECH_HELO_NOT_FQDN" in rejected.message
    fine = send(stack, ["bob@example.test"], "good helo")
    assert fine.ok, fine.message
    delivered = stack.sink.wait_for(lambda m: m.subject == "good helo")
    assert "policy=example.test" in " ".join(delivered.headers("X-Thurac-Report"))
