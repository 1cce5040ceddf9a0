"""A Report as text, JSON, CSV or one self-contained HTML file (inline SVG, no script, no
external URL). Hand-written SVG: three chart kinds need no charting library, and the page
must open anywhere, offline, years later, as the record sent to the authority."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from dataclasses import asdict
from typing import Any

from thurac.reports.query import ACTIONS, Report

PLURAL = {"address": "addresses"}
# A day's label (MM-DD) is about this wide at the chart's font size: a label every few
# bars when the bars are narrower, so that the labels never overlap.
DAY_LABEL_WIDTH = 30
ACTION_COLOURS = {"accept": "#4caf50", "add_header": "#ffc107", "quarantine": "#ff9800",
                  "reject": "#f44336", "tempfail": "#9c27b0"}


def as_dict(report: Report) -> dict[str, Any]:
    data = asdict(report)
    data["since"] = report.since.isoformat()
    data["until"] = report.until.isoformat()
    # The criteria as the number of messages each flagged (the JSON contract),
    # with the detail beside them.
    data["criteria"] = {k: c.flagged for k, c in report.criteria.items()}
    data["criteria_stopped"] = {k: c.stopped for k, c in report.criteria.items()}
    return data


def to_json(report: Report) -> str:
    return json.dumps(as_dict(report), indent=2, ensure_ascii=False)


def to_text(report: Report) -> str:
    r = report
    lines = [f"thurac report {r.since:%Y-%m-%d %H:%M} – {r.until:%Y-%m-%d %H:%M} UTC", "",
             f"messages: inbound {r.messages['inbound']}, outbound {r.messages['outbound']}",
             "inbound by action: " + ", ".join(f"{a} {n}" for a, n in r.actions.items()), "",
             "criterion               flagged  rejected/held"]
    for key, crit in r.criteria.items():
        lines.append(f"  {key:22} {crit.flagged:7}  {crit.stopped:7}")
    lines.append("")
    for method, counts in r.auth.items():
        total = r.messages["inbound"] or 1
        lines.append(f"{method}: pass {counts['pass']} ({counts['pass'] / total:.0%}), "
                     f"fail {counts['fail']} ({counts['fail'] / total:.0%})")
    lines.append(f"list hits: allow {r.lists['allow']}, block {r.lists['block']}")
    lines.append(f"complaints: received {r.complaints['received']}, trusted "
                 f"{r.complaints['trusted']}, forwarded {r.complaints['forwarded']}; "
                 f"quarantine releases {r.releases}")
    for kind, tops in r.top_sources.items():
        lines.append(f"top {PLURAL.get(kind, kind + 's')} by volume: " + (", ".join(
            f"{s.key} ({s.messages}, mean {s.mean_score:g})" for s in tops["by_volume"][:5])
            or "-"))
    lines += ["", "per day: " + ", ".join(ACTIONS[:5])]
    for day in r.per_day:
        lines.append(f"  {day.day}  " + " ".join(f"{n:6}" for n in day.actions.values()))
    return "\n".join(lines) + "\n"


def to_csv(report: Report) -> str:
    """One row per (section, key, value): spreadsheets and scripts read it the same way."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "value"])
    for direction, n in report.messages.items():
        writer.writerow(["messages", direction, n])
    for action, n in report.actions.items():
        writer.writerow(["actions", action, n])
    for key, crit in report.criteria.items():
        writer.writerow(["criteria", key, crit.flagged])
        writer.writerow(["criteria_stopped", key, crit.stopped])
    for method, counts in report.auth.items():
        for outcome, n in counts.items():
            writer.writerow(["auth", f"{method}_{outcome}", n])
    for key, n in {**report.lists, **{f"complaints_{k}": v
                                      for k, v in report.complaints.items()}}.items():
        writer.writerow(["lists" if key in report.lists else "complaints", key, n])
    writer.writerow(["releases", "released", report.releases])
    for day in report.per_day:
        for action, n in day.actions.items():
            writer.writerow([f"day:{day.day}", action, n])
    return out.getvalue()


def _stacked_days(report: Report) -> str:
    days = report.per_day
    width, height, pad = 720, 220, 30
    if not days:
        return "<p>No mail in this period.</p>"
    totals = [sum(d.actions.values()) for d in days]
    top = max(totals) or 1
    bar = (width - 2 * pad) / len(days)
    every = math.ceil(DAY_LABEL_WIDTH / bar)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="messages per day by action">']
    for i, day in enumerate(days):
        y = float(height - pad)
        for action in ACTIONS[:5]:
            n = day.actions[action]
            h = (height - 2 * pad) * n / top
            if h:
                parts.append(f'<rect x="{pad + i * bar:.1f}" y="{y - h:.1f}" '
                             f'width="{max(bar - 2, 1):.1f}" height="{h:.1f}" '
                             f'fill="{ACTION_COLOURS[action]}"><title>{day.day} '
                             f'{action}: {n}</title></rect>')
                y -= h
        if i % every == 0:
            parts.append(f'<text x="{pad + i * bar + bar / 2:.1f}" y="{height - 10}" '
                         f'font-size="9" text-anchor="middle">{day.day[5:]}</text>')
    parts.append(f'<text x="{pad}" y="15" font-size="11">max {top} / day</text></svg>')
    return "".join(parts)


def _bars(values: dict[str, int], label: str) -> str:
    width, row = 720, 22
    top = max(values.values(), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{row * len(values) + 10}" role="img" aria-label="{html.escape(label)}">']
    for i, (key, n) in enumerate(values.items()):
        w = (width - 260) * n / top
        parts.append(f'<text x="0" y="{i * row + 15}" font-size="12">{html.escape(key)}</text>'
                     f'<rect x="200" y="{i * row + 3}" width="{w:.1f}" height="16" '
                     f'fill="#3f51b5"/><text x="{205 + w:.1f}" y="{i * row + 15}" '
                     f'font-size="12">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(report: Report) -> str:
    r = report
    e = html.escape
    rows = "".join(f"<tr><td>{e(k)}</td><td>{c.flagged}</td><td>{c.stopped}</td></tr>"
                   for k, c in r.criteria.items())
    actions = "".join(f"<tr><td>{e(a)}</td><td>{n}</td></tr>" for a, n in r.actions.items())
    tops = {s.key: s.messages for s in r.top_sources["address"]["by_volume"]}
    legend = " ".join(f'<span style="color:{c}">■</span> {a}' for a, c in ACTION_COLOURS.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>thurac report {r.since:%Y-%m-%d} – {r.until:%Y-%m-%d}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}td:first-child{{text-align:left}}
</style></head><body>
<h1>thurac statistics report</h1>
<p>{r.since:%Y-%m-%d %H:%M} – {r.until:%Y-%m-%d %H:%M} UTC (Decree 91/2020 art. 10.7)</p>
<h2>Summary</h2>
<table><tr><th>messages inbound</th><td>{r.messages['inbound']}</td></tr>
<tr><th>messages outbound</th><td>{r.messages['outbound']}</td></tr>
<tr><th>complaints received / trusted / forwarded</th><td>{r.complaints['received']} /
{r.complaints['trusted']} / {r.complaints['forwarded']}</td></tr>
<tr><th>list hits allow / block</th><td>{r.lists['allow']} / {r.lists['block']}</td></tr>
<tr><th>quarantine releases</th><td>{r.releases}</td></tr></table>
<h2>Inbound by action</h2><table><tr><th>action</th><th>messages</th></tr>{actions}</table>
<h2>Per day</h2><p>{legend}</p>{_stacked_days(r)}
<h2>Circular 22/2021 criteria</h2>
<table><tr><th>criterion</th><th>flagged</th><th>rejected or held</th></tr>{rows}</table>
{_bars({k: c.flagged for k, c in r.criteria.items()}, "messages per criterion")}
<h2>Top senders by volume</h2>{_bars(tops, "top senders") if tops else "<p>none</p>"}
</body></html>
"""


RENDERERS = {"text": to_text, "json": to_json, "csv": to_csv, "html": to_html}
