"""Docs that are generated or promised stay true."""

from __future__ import annotations

from pathlib import Path

from thurac.config import load
from thurac.symbols import markdown_reference

ROOT = Path(__file__).resolve().parents[1]


def test_symbol_reference_matches_the_catalogue() -> None:
    assert (ROOT / "docs/symbols.md").read_text() == markdown_reference(), (
        "docs/symbols.md is stale: regenerate it with `thurac symbols > docs/symbols.md`")


def test_readme_gives_the_two_commands_and_the_real_socket() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    socket = load(ROOT / "config/thurac.yaml").milter.socket  # inet:PORT@HOST
    port, host = socket.removeprefix("inet:").split("@")
    assert f"smtpd_milters = inet:{host}:{port}" in readme


def test_the_explain_guide_gives_the_retention_defaults_the_code_has() -> None:
    guide = (ROOT / "docs/explain.md").read_text()
    defaults = load(ROOT / "config/thurac.yaml").database
    assert f"| `database.header_log_days` | {defaults.header_log_days} " in guide
    assert f"| `database.event_days` | {defaults.event_days} " in guide
    assert f"| `database.correspondent_days` | {defaults.correspondent_days} " in guide
    assert "thurac db purge --config /etc/thurac/thurac.yaml" in guide
