"""`thurac replay` on the history a real Postfix run leaves: the live YAML reproduces every
verdict thurac gave; raising the frequency limits changes only messages the frequency
check had weighed, and needs no DNS (the DNS server is unreachable during the replay)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from tests.integration.conftest import Stack
from tests.integration.test_e2e_core import BURST_CONFIG, send_burst
from tests.integration.test_e2e_report import thurac

pytestmark = pytest.mark.postfix


def test_replay_of_a_postfix_burst(stack_factory: Callable[..., Stack], tmp_path: Path) -> None:
    stack = stack_factory(BURST_CONFIG)
    results = send_burst(stack, 8)
    assert any(r.code == 550 for r in results)
    lines = [line for line in stack.thurac.log().splitlines() if " direction=inbound " in line]
    assert len(lines) == 8, lines
    logged = {re.search(r" (\w+): direction=inbound", line).group(1):  # type: ignore[union-attr]
              re.search(r" action=(\w+)", line).group(1)  # type: ignore[union-attr]
              for line in lines}
    stack.thurac.stop()  # the recorder writes everything before it exits

    same = json.loads(thurac(stack, "replay", "--with", str(stack.thurac.config_path),
                             "--since", "1d", "--json"))
    assert same["messages"] == 8 and same["flips"] == []
    assert sorted((c["from"], c["count"]) for c in same["changes"]) == sorted(
        (a, list(logged.values()).count(a)) for a in set(logged.values()))

    stack.dns.reset_queries()
    stack.dns.mode = "blackhole"
    config = yaml.safe_load(stack.thurac.config_path.read_text())
    config["frequency"]["windows"][0]["messages"]["sender"] = 100
    new = tmp_path / "new.yaml"
    new.write_text(yaml.safe_dump(config))
    changed = json.loads(thurac(stack, "replay", "--with", str(new), "--since", "1d", "--json"))
    assert stack.dns.queries == []
    assert changed["flips"], changed
    for flip in changed["flips"]:
        assert logged[flip["queue_id"]] == flip["old_action"]
        assert flip["new_score"] < flip["old_score"]
        assert [s["name"] for s in flip["symbols"]] == ["C22_FREQ_SENDER"]
    text = thurac(stack, "replay", "--with", str(new), "--since", "1d")
    assert "old action -> new action" in text and f"flips: {len(changed['flips'])}" in text
