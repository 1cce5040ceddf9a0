"""The operator's commands as an admin types them: exit codes, messages, JSON shape."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.support.dns_server import TestDnsServer
from tests.support.net import free_port, wait_listening

from thurac.cli import main

SPAMMY = (b"From: promo@bulk.test\r\nTo: bob@example.test\r\nSubject: offer\r\n"
          b"X-Mailer: PHPMailer 6.9\r\n\r\nbuy now\r\n")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "thurac.yaml"
    path.write_text(yaml.safe_dump({
        "database": {"url": f"sqlite:///{tmp_path}/db/thurac.db",
                     "spool_path": f"{tmp_path}/spool.jsonl"},
        "dns": {"nameservers": ["127.0.0.1:9"], "timeout": 0.2, "budget": 0.5},
        "local": {"domains": ["example.test"], "authserv_id": "mx.example.test"},
    }))
    return path


def test_config_check_names_file_key_and_expectation_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("actions:\n  reject: high\nmilter:\n  on_error: bounce\n")
    run = subprocess.run([sys.executable, "-m", "thurac", "config", "check", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert f"{bad}: actions.reject:" in run.stderr
    assert f"{bad}: milter.on_error:" in run.stderr and "'accept' or 'tempfail'" in run.stderr


def test_every_command_refuses_a_broken_config_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("milter: [unclosed\n")
    for argv in (["run", "--config", str(bad)], ["db", "upgrade", "--config", str(bad)],
                 ["check", "--config", str(bad), str(bad)]):
        assert main(argv) == 2


def test_config_check_accepts_the_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "config/thurac.yaml"]) == 0
    assert "config/thurac.yaml: OK" in capsys.readouterr().out


def test_check_json_gives_score_action_and_symbols_with_reasons(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eml = tmp_path / "m.eml"
    eml.write_bytes(SPAMMY)
    with TestDnsServer() as dns:
        data = yaml.safe_load(config.read_text())
        data["dns"]["nameservers"] = [dns.address]
        config.write_text(yaml.safe_dump(data))
        code = main(["check", "--config", str(config), str(eml), "--ip", "203.0.113.5",
                     "--helo", "[203.0.113.5]", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out["score"], float) and out["action"] in {
        "accept", "add_header", "quarantine", "reject", "tempfail"}
    names = {s["name"]: s["reason"] for s in out["symbols"]}
    assert "PHPMailer" in names["C22_TECH_MAILER"]
    assert "C22_TECH_HELO_IP" in names
    assert not (tmp_path / "db").exists()  # read-only: nothing created without --record


def test_check_record_then_db_upgrade_reports_the_revision(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eml = tmp_path / "m.eml"
    eml.write_bytes(SPAMMY)
    assert main(["check", "--config", str(config), str(eml), "--record"]) == 0
    assert (tmp_path / "db/thurac.db").exists()
    capsys.readouterr()
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert "schema at revision" in capsys.readouterr().out


def test_db_purge_of_a_store_that_is_not_there_says_so_and_creates_nothing(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "db").mkdir()
    assert main(["db", "purge", "--config", str(config)]) == 1
    assert f"no history store at sqlite:///{tmp_path}/db/thurac.db yet" in capsys.readouterr().err
    assert not (tmp_path / "db/thurac.db").exists()


def test_db_purge_says_what_it_removed(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["db", "purge", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "purged 0 header-log entries older than 180 days and 0 events older than 400 days" in out
    assert ("purged 0 expired rate buckets, and 0 correspondents, 0 senders and 0 sent "
            "Message-IDs not seen for 365 days") in out


def test_db_purge_refuses_a_bad_correspondent_retention_naming_the_key(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = config.read_text().replace("database:\n", "database:\n  correspondent_days: -1\n")
    assert "correspondent_days: -1" in text
    config.write_text(text)
    assert main(["db", "purge", "--config", str(config)]) == 2
    assert "database.correspondent_days: Input should be greater than or equal to 1" in (
        capsys.readouterr().err)


def test_check_of_a_missing_file_says_so(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(config), "/nonexistent/m.eml"]) == 1
    assert "/nonexistent/m.eml" in capsys.readouterr().err


def test_run_on_a_busy_port_says_which_socket_and_why(tmp_path: Path, config: Path) -> None:
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    data = yaml.safe_load(config.read_text())
    data["milter"] = {"socket": f"inet:{port}@127.0.0.1"}
    config.write_text(yaml.safe_dump(data))
    try:
        run = subprocess.run([sys.executable, "-m", "thurac", "run", "--config", str(config)],
                             capture_output=True, text=True, timeout=60)
    finally:
        busy.close()
    assert run.returncode == 1
    assert f"cannot listen on inet:{port}@127.0.0.1" in run.stderr
    assert "Address already in use" in run.stderr


def test_run_refuses_to_start_when_the_spool_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "ro").write_text("a file, not a folder")
    path = tmp_path / "thurac.yaml"
    path.write_text(yaml.safe_dump({
        "milter": {"socket": "inet:0@127.0.0.1"},
        "database": {"url": f"sqlite:///{tmp_path}/thurac.db",
                     "spool_path": f"{tmp_path}/ro/spool.jsonl"},
    }))
    run = subprocess.run([sys.executable, "-m", "thurac", "run", "--config", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert (f"database.spool_path: cannot write {tmp_path}/ro/spool.jsonl: Not a directory"
            in run.stderr)


def test_run_keeps_its_store_and_spool_from_other_local_users(tmp_path: Path) -> None:
    # Started with a permissive umask, as a shell may be: the files hold mail headers.
    path = tmp_path / "thurac.yaml"
    port = free_port()
    path.write_text(yaml.safe_dump({
        "milter": {"socket": f"inet:{port}@127.0.0.1"},
        "database": {"url": f"sqlite:///{tmp_path}/state/thurac.db"},
        "dns": {"nameservers": ["127.0.0.1:9"]},
    }))
    old = os.umask(0)
    try:
        daemon = subprocess.Popen([sys.executable, "-m", "thurac", "run", "--config", str(path)],
                                  stderr=subprocess.PIPE, text=True)
    finally:
        os.umask(old)
    try:
        wait_listening("127.0.0.1", port, timeout=30)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
    for made in (tmp_path / "state", tmp_path / "state/thurac.db",
                 tmp_path / "state/thurac.spool.jsonl"):
        assert made.stat().st_mode & 0o007 == 0, (made, oct(made.stat().st_mode))


def test_run_warns_when_an_existing_store_is_readable_by_everyone(tmp_path: Path) -> None:
    db = tmp_path / "thurac.db"
    db.touch()
    db.chmod(0o644)
    path = tmp_path / "thurac.yaml"
    port = free_port()
    path.write_text(yaml.safe_dump({
        "milter": {"socket": f"inet:{port}@127.0.0.1"},
        "database": {"url": f"sqlite:///{db}"}, "dns": {"nameservers": ["127.0.0.1:9"]},
    }))
    daemon = subprocess.Popen([sys.executable, "-m", "thurac", "run", "--config", str(path)],
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_listening("127.0.0.1", port, timeout=30)
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    assert (f"{db} is readable by every local user (mode 644) and holds mail headers and "
            f"addresses: chmod o-rwx {db}") in err


# -- day-one defects ------------------------------------------------------------------------

def test_common_options_are_accepted_after_the_command_and_version_is_known() -> None:
    ran = subprocess.run([sys.executable, "-m", "thurac", "symbols", "--log-level", "debug"],
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    version = subprocess.run([sys.executable, "-m", "thurac", "--version"],
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("thurac ")
    helped = subprocess.run([sys.executable, "-m", "thurac", "run", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert "Start the milter." in helped.stdout and "--log-level" in helped.stdout


def test_a_closed_pipe_ends_a_command_quietly() -> None:
    # `thurac symbols | head -1`, with the reader already gone when thurac writes.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        ran = subprocess.run([sys.executable, "-m", "thurac", "symbols"], stdout=write_end,
                             stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert "Traceback" not in ran.stderr and "BrokenPipeError" not in ran.stderr, ran.stderr
    assert ran.returncode == 141


def test_read_only_commands_on_a_missing_store_create_nothing_and_say_so(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    eml = tmp_path / "m.eml"
    eml.write_bytes(SPAMMY)
    assert main(["check", str(eml), "--json", "--config", str(config)]) == 0
    captured = capsys.readouterr()
    assert "no history store at sqlite:///" in captured.err
    assert "(run `thurac db upgrade` or start the daemon); scoring without history" in (
        captured.err)
    assert "no such table" not in captured.err and "Traceback" not in captured.err
    assert json.loads(captured.out)["symbols"]
    for command in (["db", "purge"], ["explain", "NOQUEUE1"], ["headers", "--queue-id", "Q1"]):
        assert main([*command, "--config", str(config)]) == 1, command
        err = capsys.readouterr().err
        assert "no history store at" in err and "Traceback" not in err, (command, err)
    assert not (tmp_path / "db").exists()  # not even the folder


def test_the_shipped_example_messages_score_as_the_readme_says(
    config: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    examples = Path(__file__).resolve().parents[1] / "docs/examples"
    with TestDnsServer() as dns:  # empty zone: every name is NXDOMAIN, as on the tour
        data = yaml.safe_load(config.read_text())
        data["dns"]["nameservers"] = [dns.address]
        config.write_text(yaml.safe_dump(data))
        scores = {}
        for name, extra in (("clean.eml", ["--ip", "127.0.0.5", "--helo", "mail.partner.example"]),
                            ("spammy.eml", ["--ip", "127.0.0.9", "--helo", "[127.0.0.9]"])):
            assert main(["check", str(examples / name), "--json", "--config", str(config),
                         *extra]) == 0
            scores[name] = json.loads(capsys.readouterr().out)
    assert scores["spammy.eml"]["action"] in ("quarantine", "reject")
    assert scores["clean.eml"]["score"] < scores["spammy.eml"]["score"]
    assert "C22_TECH_MAILER" in {s["name"] for s in scores["spammy.eml"]["symbols"]}
