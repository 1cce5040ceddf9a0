"""Allow and block lists through a real Postfix: an entry added with `thurac list` changes
the verdict of the next message without a restart; a YAML allow entry lets an
authenticated partner through and not someone forging its address."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from tests.integration.conftest import Stack, message, queue_id_of
from tests.support.thurac import ROOT

pytestmark = pytest.mark.postfix

SPAMMER_IP = "127.0.0.10"
PARTNER_IP = "127.0.0.11"
FORGER_IP = "127.0.0.12"


def thurac_cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thurac", *args, "--config", str(stack.thurac.config_path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=dict(os.environ))


def test_a_cli_block_entry_rejects_the_next_message_without_a_restart(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory()
    before = stack.send("promo@bulk.test", ["user1@example.test"],
                        message("promo@bulk.test", "user1@example.test", "before"),
                        source_ip=SPAMMER_IP, helo="mail.bulk.test")
    assert before.ok, before.message

    added = thurac_cli(stack, "list", "add", "block", "ip", "127.0.0.8/29", "--reason",
                       "spam run, ticket 7", "--by", "ops")
    assert added.returncode == 0, added.stderr
    assert "added: block ip 127.0.0.8/29 (spam run, ticket 7) [store by ops]" in added.stdout
    # The store's entries are re-read every lists.refresh_seconds (5 s by default).
    time.sleep(5.5)
    after = stack.send("promo@bulk.test", ["user2@example.test"],
                       message("promo@bulk.test", "user2@example.test", "after"),
                       source_ip=SPAMMER_IP, helo="mail.bulk.test")
    assert after.code == 550, (after.code, after.message)
    assert "BLOCKLIST" in after.message
    line = stack.thurac.log_line_for(queue_id_of(after))
    assert "BLOCKLIST" in line and "action=reject" in line
    assert "lists=<block ip 127.0.0.8/29 (spam run, ticket 7) [store by ops]>" in line

    shown = json.loads(thurac_cli(stack, "list", "show", "--json").stdout)
    assert [(e["list"], e["kind"], e["value"], e["source"]) for e in shown] == [
        ("block", "ip", "127.0.0.8/29", "store")]
    removed = thurac_cli(stack, "list", "remove", "block", "ip", "127.0.0.8/29")
    assert removed.returncode == 0, removed.stderr
    time.sleep(5.5)
    again = stack.send("promo@bulk.test", ["user3@example.test"],
                       message("promo@bulk.test", "user3@example.test", "again"),
                       source_ip=SPAMMER_IP, helo="mail.bulk.test")
    assert again.ok, again.message


def test_a_yaml_allow_entry_needs_spf_pass(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory({
        "lists": {"allow": [{"kind": "domain", "value": "partner.test",
                             "reason": "contract 14"}]},
        # Everything the partner's unusual setup trips is scored high, so only the
        # allow entry can bring it under the reject threshold.
        "scores": {"C22_TECH_HELO_NOT_FQDN": 16.0},
    })
    stack.dns.add("partner.test", "TXT", f"v=spf1 ip4:{PARTNER_IP} -all")
    partner = stack.send("billing@partner.test", ["user1@example.test"],
                         message("billing@partner.test", "user1@example.test", "invoice"),
                         source_ip=PARTNER_IP, helo="partnerhost")
    assert partner.ok, partner.message
    line = stack.thurac.log_line_for(partner.queue_id)
    assert "ALLOWLIST" in line and "ALLOWLIST_NOT_AUTHENTICATED" not in line
    delivered = stack.sink.wait_for(lambda m: m.subject == "invoice")
    report = " ".join(delivered.headers("X-Thurac-Report"))
    assert "allow domain partner.test (contract 14) [yaml]" in report

    forged = stack.send("billing@partner.test", ["user2@example.test"],
                        message("billing@partner.test", "user2@example.test", "forged"),
                        source_ip=FORGER_IP, helo="partnerhost")
    assert forged.code == 550, (forged.code, forged.message)
    assert "ALLOWLIST" not in forged.message
