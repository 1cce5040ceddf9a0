"""`thurac report` on a store with nothing in the period: zeros, not an error; a bad
--period is refused (exit 2); every format renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from thurac.cli import main
from thurac.reports.query import month
from thurac.store.engine import make_engine, upgrade


@pytest.fixture
def config(tmp_path: Path) -> Path:
    url = f"sqlite:///{tmp_path}/thurac.db"
    upgrade(make_engine(url))
    path = tmp_path / "thurac.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": url}}))
    return path


def test_an_empty_month_is_all_zeros(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--period", "2026-11", "--format", "json",
                 "--config", str(config)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["since"].startswith("2026-11-01") and data["until"].startswith("2026-12-01")
    assert data["messages"] == {"inbound": 0, "outbound": 0}
    assert set(data["criteria"]) == {"frequency", "one_way_source", "unrelated_recipients",
                                     "technology", "complaints", "advertising"}
    for form in ("text", "csv", "html"):
        assert main(["report", "--since", "7d", "--format", form, "--config",
                     str(config)]) == 0
        assert capsys.readouterr().out


def test_a_bad_period_is_refused(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--period", "2026-13", "--config", str(config)]) == 2
    assert "expected a month such as 2026-11" in capsys.readouterr().err
    assert month("2026-12")[1].year == 2027


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_query_counts_days_actions_and_criteria_on_both_stores(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest,
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.builders import make_message

    from thurac.reports.query import build
    from thurac.store.record import Record
    from thurac.store.recorder import write_records
    from thurac.symbols import Symbol
    from thurac.verdict import Verdict

    url = (f"sqlite:///{tmp_path}/r.db" if backend == "sqlite"
           else request.getfixturevalue("postgres_database"))
    engine = make_engine(url)
    upgrade(engine)
    day = datetime(2026, 11, 3, 12, tzinfo=UTC)
    freq = Symbol("C22_FREQ_SENDER", 8.0, "x")
    spf = Symbol("SPF_PASS", -1.0, "x")
    mix = [("reject", (freq,), day), ("accept", (spf,), day),
           ("quarantine", (freq, spf), day + timedelta(days=1))]
    records = []
    for n, (action, symbols, when) in enumerate(mix):
        message = make_message(queue_id=f"Q{n}")
        message = type(message)(message.connection, message.sender, message.recipients,
                                message.headers, message.body, queue_id=f"Q{n}",
                                received_at=when)
        verdict = Verdict(sum(s.score for s in symbols), 5.0, action, action,  # type: ignore[arg-type]
                          symbols)
        records.append(Record(message, verdict, (), lambda _: True))
    with engine.begin() as conn:
        write_records(conn, records)
    with engine.connect() as conn:
        report = build(conn, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    engine.dispose()
    assert report.messages == {"inbound": 3, "outbound": 0}
    assert (report.actions["reject"], report.actions["accept"],
            report.actions["quarantine"]) == (1, 1, 1)
    assert (report.criteria["frequency"].flagged, report.criteria["frequency"].stopped) == (2, 2)
    assert report.auth["spf"]["pass"] == 2
    assert [(d.day, sum(d.actions.values())) for d in report.per_day] == [
        ("2026-11-03", 2), ("2026-11-04", 1)]
