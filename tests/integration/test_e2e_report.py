"""`thurac report` after real traffic through Postfix: a burst that ends tagged, held and
rejected, plus one complaint; the JSON, CSV and text forms give the counts thurac logged,
by action and by criterion, and the HTML page needs nothing from the network."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from tests.integration.conftest import Stack
from tests.integration.test_e2e_core import BURST_CONFIG, send_burst
from tests.support.thurac import ROOT

pytestmark = pytest.mark.postfix


def thurac(stack: Stack, *args: str) -> str:
    ran = subprocess.run([sys.executable, "-m", "thurac", *args, "--config",
                          str(stack.thurac.config_path)], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env=dict(os.environ))
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def test_the_report_counts_what_went_through_postfix(
    stack_factory: Callable[..., Stack], tmp_path: Path,
) -> None:
    stack = stack_factory({**BURST_CONFIG, "reports": {"addresses": ["spam@example.test"]}})
    results = send_burst(stack, 8)
    assert any(r.code == 550 for r in results)
    report = EmailMessage()
    report["From"] = "bob@example.test"
    report["To"] = "spam@example.test"
    report["Subject"] = "Fwd: offer"
    report.set_content("spam")
    report.add_attachment(b"From: promo@bulk.test\r\nSubject: offer 0\r\n"
                          b"Received: from mail.bulk.test ([127.0.0.10])\r\n\r\nbuy\r\n",
                          maintype="message", subtype="rfc822")
    eml = tmp_path / "report.eml"
    eml.write_bytes(report.as_bytes())
    thurac(stack, "complaints", "ingest", str(eml))

    # What thurac logged, message by message, is what the report must say.
    lines = [line for line in stack.thurac.log().splitlines() if " direction=inbound " in line]
    assert len(lines) == 8, lines
    actions = Counter(re.search(r" action=(\w+)", line).group(1)  # type: ignore[union-attr]
                      for line in lines)
    frequency = sum("C22_FREQ_" in line for line in lines)
    technology = sum("C22_TECH_" in line for line in lines)
    stack.thurac.stop()  # the recorder writes everything before it exits

    data = json.loads(thurac(stack, "report", "--since", "1d", "--format", "json"))
    assert data["messages"] == {"inbound": 8, "outbound": 0}
    assert {a: n for a, n in data["actions"].items() if n} == dict(actions)
    assert data["criteria"]["frequency"] == frequency > 0
    assert data["criteria"]["technology"] == technology
    assert data["complaints"]["received"] == 1
    assert sum(sum(day["actions"].values()) for day in data["per_day"]) == 8
    assert {"top_sources", "per_day"} <= set(data)
    assert data["top_sources"]["address"]["by_volume"][0]["key"] == "promo@bulk.test"

    rows = list(csv.reader(io.StringIO(thurac(stack, "report", "--since", "1d",
                                              "--format", "csv"))))
    table = {(section, key): int(value) for section, key, value in rows[1:]}
    assert all(table[("actions", a)] == n for a, n in data["actions"].items())
    assert table[("criteria", "frequency")] == frequency

    text = thurac(stack, "report", "--since", "1d")
    assert "messages: inbound 8, outbound 0" in text
    assert f"reject {actions['reject']}" in text

    page = tmp_path / "report.html"
    thurac(stack, "report", "--since", "1d", "--format", "html", "--output", str(page))
    markup = page.read_text()
    assert "<svg" in markup and "<script" not in markup
    # Nothing fetched: no src or href, and the only URL is SVG's XML namespace name.
    assert not re.search(r"(src|href)\s*=", markup)
    assert set(re.findall(r"https?://[^\s\"'<>]+", markup)) <= {"http://www.w3.org/2000/svg"}
