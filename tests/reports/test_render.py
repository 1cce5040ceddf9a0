"""How a report reads (reports/render.py): the per-day chart keeps its day labels apart on
a long period, and the text form words its source lists properly."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from thurac.reports.query import ACTIONS, CRITERIA, Criterion, Day, Report, Source
from thurac.reports.render import DAY_LABEL_WIDTH, to_html, to_text


def _report(days: int) -> Report:
    first = date(2026, 9, 1)
    per_day = [Day((first + timedelta(days=i)).isoformat(), dict.fromkeys(ACTIONS[:5], 3),
                   dict.fromkeys(CRITERIA, 1), 0) for i in range(days)]
    top = {"by_volume": [Source("promo@bulk.test", 9, 12.5)], "by_score": []}
    return Report(datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC),
                  {"inbound": 15 * days, "outbound": 0}, dict.fromkeys(ACTIONS[:5], 3 * days),
                  {k: Criterion(days, 0) for k in CRITERIA},
                  {m: {"pass": 0, "fail": 0} for m in ("spf", "dkim", "dmarc")},
                  {"allow": 0, "block": 0}, {"received": 0, "trusted": 0, "forwarded": 0}, 0,
                  {"address": top, "domain": top, "ip": top}, per_day)


def test_a_quarter_s_chart_labels_days_without_overlap() -> None:
    page = to_html(_report(91))
    labels = re.findall(r'<text x="([\d.]+)" y="\d+" font-size="9" text-anchor="middle">'
                        r"(\d\d-\d\d)</text>", page)
    assert labels[0][1] == "09-01" and len(labels) > 10
    xs = [float(x) for x, _ in labels]
    assert min(b - a for a, b in pairwise(xs)) >= DAY_LABEL_WIDTH


def test_the_text_form_lists_top_addresses() -> None:
    text = to_text(_report(3))
    assert "top addresses by volume: promo@bulk.test (9, mean 12.5)" in text
    assert "top domains by volume:" in text
