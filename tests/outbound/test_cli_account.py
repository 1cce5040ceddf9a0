"""`thurac account`: suspend, show, list and release round trip through the store; `show`
says `suspended` or `active` first; a malformed account is refused with exit 2 and nothing
written; a mistake in `outbound:` is a configuration error naming file and key (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from thurac.cli import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "thurac.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": f"sqlite:///{tmp_path}/thurac.db"}}))
    return path


def run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["account", *args, "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def test_suspend_show_release_round_trip(config: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(config, capsys, "show", "alice@example.test")
    assert (code, out.splitlines()) == (0, ["active", "account alice@example.test: never "
                                                      "suspended"])
    code, out, _ = run(config, capsys, "suspend", "Alice@Example.TEST", "--reason",
                       "phished password", "--by", "ops")
    assert (code, out) == (0, "suspended: alice@example.test\n")
    code, out, _ = run(config, capsys, "show", "alice@example.test")
    lines = out.splitlines()
    assert lines[0] == "suspended" and lines[1] == "account alice@example.test"
    assert lines[2].startswith("suspended 20") and lines[2].endswith(" by ops: phished password")
    code, out, _ = run(config, capsys, "show", "alice@example.test", "--json")
    shown = json.loads(out)
    assert (shown["suspended"], shown["suspended_by"], shown["reason"]) == (
        True, "ops", "phished password")
    code, out, _ = run(config, capsys, "list", "--json")
    assert [a["account"] for a in json.loads(out)] == ["alice@example.test"]
    code, _, err = run(config, capsys, "suspend", "alice@example.test", "--reason", "again")
    assert code == 1 and "alice@example.test is suspended already" in err

    code, out, _ = run(config, capsys, "release", "alice@example.test", "--reason",
                       "password changed", "--by", "helpdesk")
    assert (code, out) == (0, "released: alice@example.test\n")
    code, out, _ = run(config, capsys, "show", "alice@example.test")
    assert out.splitlines()[0] == "active"
    assert out.splitlines()[-1].endswith("by helpdesk: password changed")
    assert json.loads(run(config, capsys, "show", "alice@example.test", "--json")[1])[
        "suspended"] is False
    assert run(config, capsys, "list")[1] == "no suspended accounts\n"
    code, _, err = run(config, capsys, "release", "alice@example.test")
    assert code == 1 and "alice@example.test is not suspended" in err


def test_logins_and_client_ips_are_accounts_too(config: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, capsys, "suspend", "Bob", "--reason", "x")[0] == 0
    assert run(config, capsys, "suspend", "[10.1.2.3]", "--reason", "y")[0] == 0
    listed = run(config, capsys, "list")[1]
    assert "bob " in listed and "10.1.2.3 " in listed


def test_a_suspension_for_a_while_says_until_when(config: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(config, capsys, "suspend", "carol@example.test", "--reason", "x",
                       "--for", "2h")
    assert code == 0 and " until 20" in out
    assert json.loads(run(config, capsys, "show", "carol@example.test", "--json")[1])[
        "until"] is not None


@pytest.mark.parametrize("bad", ["a@@b.test", "@example.test", "alice@", "a b", "",
                                 "bad\x1bname", "x" * 400, "alice@exa mple.test"])
def test_a_malformed_account_is_refused_with_exit_2(
        bad: str, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["suspend", bad, "--reason", "x"], ["release", bad], ["show", bad]):
        code, out, err = run(config, capsys, *command)
        assert code == 2 and out == ""
        assert err.startswith(f"thurac account {command[0]}: ")
        assert "expected a login name (alice), an address (alice@example.com) or an IP " \
               "address" in err
    assert run(config, capsys, "list", "--all")[1] == "no accounts ever suspended\n"


@pytest.mark.parametrize(("section", "message"), [
    ({"suspend_answer": "drop"},
     "outbound.suspend_answer: Input should be 'reject', 'tempfail' or 'hold' (got 'drop')"),
    ({"suspend_for": 0}, "outbound.suspend_for: Input should be greater than 0 (got 0)"),
    ({"windows": [{"seconds": 600, "unrelated": -5}]},
     "outbound.windows[0].unrelated: Input should be greater than 0 (got -5)"),
    ({"actions": {"tag": 10, "hold": 5}}, "outbound.actions: hold must not be below tag"),
    ({"refresh_seconds": 60}, "outbound.refresh_seconds: Input should be less than or equal "
                              "to 5 (got 60)"),
    ({"notify": "postmaster"}, "outbound.notify: 'postmaster' is not an address"),
    ({"smtp_relay": "nowhere"}, "outbound.smtp_relay: expected HOST:PORT such as "
                                "127.0.0.1:25 (got 'nowhere')"),
    ({"replies": {"en": {"tempfail": "Thư {x}", "suspended": "ok"}}},
     "outbound.replies.en.tempfail: must be ASCII"),
    ({"treshold": 3}, "outbound.treshold: unknown key"),
])
def test_a_mistake_in_the_outbound_section_is_a_config_error_naming_the_key(
        section: dict[str, object], message: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"outbound": section}, allow_unicode=True))
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {message}" in err, err
