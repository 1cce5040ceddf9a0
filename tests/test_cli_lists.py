"""`thurac list`: add, show and remove round trip through the store; a malformed entry is
refused with exit 2 and nothing written; YAML entries show beside the store's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from thurac.cli import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "thurac.yaml"
    path.write_text(yaml.safe_dump({
        "database": {"url": f"sqlite:///{tmp_path}/thurac.db"},
        "lists": {"allow": [{"kind": "from-domain", "value": "partner.test",
                             "reason": "contract"}]},
    }))
    return path


def shown(config: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[str, ...]]:
    capsys.readouterr()
    assert main(["list", "show", "--json", "--config", str(config)]) == 0
    return [(e["list"], e["kind"], e["value"], e["source"], e["reason"])
            for e in json.loads(capsys.readouterr().out)]


def test_add_show_remove_round_trip(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "add", "block", "ip", "2001:DB8:0::/48", "--reason", "spam",
                 "--expires", "30d", "--by", "ops", "--config", str(config)]) == 0
    assert "added: block ip 2001:db8::/48 (spam) [store by ops]" in capsys.readouterr().out
    assert main(["list", "add", "block", "domain", ".Spam.Test", "--config", str(config)]) == 0
    assert shown(config, capsys) == [
        ("allow", "from-domain", "partner.test", "yaml", "contract"),
        ("block", "domain", ".spam.test", "store", ""),
        ("block", "ip", "2001:db8::/48", "store", "spam"),
    ]
    # Adding it again updates the reason instead of adding a second row.
    assert main(["list", "add", "block", "domain", ".spam.test", "--reason", "again",
                 "--config", str(config)]) == 0
    assert "updated:" in capsys.readouterr().out
    assert ("block", "domain", ".spam.test", "store", "again") in shown(config, capsys)
    assert main(["list", "remove", "block", "ip", "2001:db8:0:0::/48",
                 "--config", str(config)]) == 0
    assert [e[2] for e in shown(config, capsys)] == ["partner.test", ".spam.test"]
    assert main(["list", "remove", "block", "ip", "2001:db8::/48",
                 "--config", str(config)]) == 1
    assert "no block ip entry" in capsys.readouterr().err


@pytest.mark.parametrize(("kind", "value", "extra", "words"), [
    ("ip", "192.0.2.0/33", [], "not an IP address or CIDR"),
    ("ip", "192.0.2.1/24", [], "did you mean 192.0.2.0/24"),
    ("domain", "", [], "empty domain"),
    ("domain", ".", [], "empty domain"),
    ("address", "no-at-sign", [], "not an address"),
    ("helo", "bad_host!", [], "not a host name"),
    ("ip", "192.0.2.1", ["--expires", "2001-01-01"], "in the past"),
    ("ip", "192.0.2.1", ["--expires", "tomorrow"], "expected a duration"),
])
def test_a_malformed_entry_is_refused_with_exit_2_and_nothing_written(
    config: Path, capsys: pytest.CaptureFixture[str], kind: str, value: str,
    extra: list[str], words: str,
) -> None:
    assert main(["list", "add", "block", kind, value, *extra, "--config", str(config)]) == 2
    assert words in capsys.readouterr().err
    assert [e[3] for e in shown(config, capsys)] == ["yaml"]


def test_symbols_lists_the_dns_zones_a_config_declares(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "zones.yaml"
    path.write_text(yaml.safe_dump({"lists": {"dns": [
        {"name": "LOCALBL", "zone": "bl.example", "score": 4.5}]}}))
    assert main(["symbols", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| `DNSBL_LOCALBL` | 4.5 | lists | client IP listed in bl.example" in out
    assert "| `BLOCKLIST` | 20 | lists |" in out


def test_the_log_line_names_the_list_entry_that_matched() -> None:
    from tests.builders import make_message

    from thurac.log import message_line
    from thurac.symbols import Symbol
    from thurac.verdict import Verdict

    verdict = Verdict(20.0, 5.0, "reject", "reject", (
        Symbol("BLOCKLIST", 20.0, "block ip 192.0.2.0/24 (spam\nrun) [store by ops]"),))
    line = message_line(make_message(), verdict, 1.0)
    assert "symbols=BLOCKLIST(20)" in line
    assert "lists=<block ip 192.0.2.0/24 (spam run) [store by ops]>" in line
