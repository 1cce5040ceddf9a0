"""`thurac report` after real traffic through Postfix: a burst that ends tagged, held and
rejected, plus one complaint; the JSON, CSV and text forms give the counts thurac logged,
by action and by criterion, and the HTML page needs nothing from the network: headless
Chromium, cut off from every network, shows the same numbers and paints the charts (its
screenshot is left in the artefact folder, tests/support/artifacts.py)."""

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
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tests.integration.conftest import Stack
from tests.integration.test_e2e_core import BURST_CONFIG, send_burst
from tests.support import chromium
from tests.support.artifacts import artifacts_dir
from tests.support.png import read_png
from tests.support.thurac import ROOT

from thurac.reports.render import ACTION_COLOURS

pytestmark = pytest.mark.postfix

WINDOW = (1024, 1600)  # the screenshot's size: the whole page of this report
# Where a page names something to fetch: attributes, CSS, and the tags that load things.
URL_ATTRIBUTES = {"src", "href", "xlink:href", "srcset", "action", "formaction", "poster",
                  "data", "background", "ping", "manifest"}
LOADING_TAGS = {"script", "link", "img", "iframe", "object", "embed", "video", "audio",
                "source", "base", "frame"}


def thurac(stack: Stack, *args: str) -> str:
    ran = subprocess.run([sys.executable, "-m", "thurac", *args, "--config",
                          str(stack.thurac.config_path)], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env=dict(os.environ))
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


class Dom(HTMLParser):
    """What the test reads back from the browser's DOM: table rows as cell texts, the
    tooltip titles inside each SVG chart, and anything that could fetch from outside."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.charts: list[list[str]] = []  # per <svg>, the texts of its <title>s
        self.tags: set[str] = set()
        self.outside: list[str] = []
        self._cell: list[str] | None = None
        self._title: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag in LOADING_TAGS:
            self.outside.append(f"<{tag}>")
        self.outside += [f"{name}={value}" for name, value in attrs
                         if name in URL_ATTRIBUTES or "url(" in (value or "")]
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "svg":
            self.charts.append([])
        elif tag == "title" and self.charts:
            self._title = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "title" and self._title is not None:
            self.charts[-1].append("".join(self._title))
            self._title = None

    def handle_data(self, data: str) -> None:
        if "@import" in data or "url(" in data:
            self.outside.append(data.strip()[:80])
        for buffer in (self._cell, self._title):
            if buffer is not None:
                buffer.append(data)


def external_urls(markup: str) -> list[str]:
    """Everything in the page's source that looks like a reference to another place:
    schemes, protocol-relative //host, CSS @import and url(), and URL attributes. The only
    URL allowed is SVG's XML namespace name, an identifier that is never fetched."""
    text = markup.replace('xmlns="http://www.w3.org/2000/svg"', "")
    return re.findall(r"(?i)\b(?:https?|ftp|data|javascript):|//[\w.-]+|@import|url\s*\(|"
                      r"\b(?:src|href|srcset|action|poster)\s*=", text)


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

    page = artifacts_dir() / "report-e2e.html"
    thurac(stack, "report", "--since", "1d", "--format", "html", "--output", str(page))
    markup = page.read_text()
    assert "<svg" in markup and "<script" not in markup
    assert external_urls(markup) == []

    # The page in a browser: the DOM it built holds the numbers that were sent, and the
    # screenshot shows the charts in the colours of the actions taken.
    if reason := chromium.unavailable_reason():
        pytest.skip(reason)
    screenshot = artifacts_dir() / "report-e2e.png"
    dom = Dom()
    dom.feed(chromium.render(page, screenshot, *WINDOW))
    print(f"screenshot of the report: {screenshot}")
    assert "tbody" in dom.tags and "<tbody" not in markup  # parsed by the browser
    assert dom.outside == []
    cells = {row[0]: row[1:] for row in dom.rows if row}
    assert cells["messages inbound"] == ["8"] and cells["messages outbound"] == ["0"]
    assert cells["complaints received / trusted / forwarded"][0].startswith("1 /")
    assert {a: int(cells[a][0]) for a in data["actions"] if int(cells[a][0])} == dict(actions)
    assert cells["frequency"][0] == str(frequency)
    assert len(dom.charts) == 3  # per day, per criterion, top senders
    per_day: Counter[str] = Counter()
    for title in dom.charts[0]:  # "2026-12-02 reject: 1"
        action, n = re.fullmatch(r"\d{4}-\d\d-\d\d (\w+): (\d+)", title).groups()  # type: ignore[union-attr]
        per_day[action] += int(n)
    assert per_day == actions

    png = read_png(screenshot.read_bytes())
    assert (png.width, png.height) == WINDOW
    colours = png.colours()
    assert len(colours) > 1, "the screenshot is blank"
    painted = {a for a, c in ACTION_COLOURS.items() if tuple(bytes.fromhex(c[1:])) in colours}
    assert painted >= set(actions), f"bars missing from the screenshot: {set(actions) - painted}"
