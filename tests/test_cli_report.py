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
