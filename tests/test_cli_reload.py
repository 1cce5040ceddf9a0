"""`thurac reload` as an admin uses it, and the pid file it reads: written while thurac runs,
gone when it stops, stale ones recognised, a second daemon on the same file refused."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.net import free_port, wait_listening

from thurac import pidfile
from thurac.cli import main

ROOT = Path(__file__).resolve().parents[1]
WAIT = 30.0


def write_config(folder: Path, **milter: Any) -> Path:
    path = folder / "thurac.yaml"
    path.write_text(yaml.safe_dump({
        "milter": {"socket": f"inet:{free_port()}@127.0.0.1", **milter},
        "database": {"url": f"sqlite:///{folder}/thurac.db"},
        "dns": {"nameservers": ["127.0.0.1:9"]},
    }))
    return path


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    config: Path
    pid_file: Path
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, words: str) -> None:
        deadline = time.monotonic() + WAIT
        while words not in self.text():
            assert time.monotonic() < deadline, f"no {words!r} in:\n{self.text()}"
            assert self.process.poll() is None, self.text()
            time.sleep(0.05)


def start(folder: Path, config: Path) -> Daemon:
    log = folder / f"thurac-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "thurac", "run", "--config",
                                    str(config)], stdout=out, stderr=subprocess.STDOUT,
                                   cwd=ROOT)
    data = yaml.safe_load(config.read_text())
    daemon = Daemon(process, config, Path(data["milter"]["pid_file"]), log)
    port = int(data["milter"]["socket"].removeprefix("inet:").split("@")[0])
    deadline = time.monotonic() + WAIT
    while process.poll() is None and time.monotonic() < deadline:
        try:
            wait_listening("127.0.0.1", port, timeout=0.2)
            return daemon
        except TimeoutError:
            continue
    stop(daemon)
    raise AssertionError(f"thurac did not start:\n{daemon.text()}")


def stop(daemon: Daemon) -> int:
    if daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGTERM)
    return daemon.process.wait(WAIT)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    running = start(tmp_path, write_config(tmp_path, pid_file=f"{tmp_path}/run/thurac.pid"))
    yield running
    stop(running)


def reload(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "thurac", "reload", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=WAIT)


def dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


# -- the pid file -----------------------------------------------------------------------------


def test_the_pid_file_names_the_running_thurac_and_goes_when_it_stops(daemon: Daemon) -> None:
    assert daemon.pid_file.read_text() == f"{daemon.process.pid}\n"
    assert daemon.pid_file.stat().st_mode & 0o777 == 0o644
    assert stop(daemon) == 0
    assert not daemon.pid_file.exists()


def test_a_second_thurac_on_the_same_pid_file_is_refused(tmp_path: Path, daemon: Daemon) -> None:
    other = tmp_path / "other"
    other.mkdir()
    config = write_config(other, pid_file=str(daemon.pid_file))
    run = subprocess.run([sys.executable, "-m", "thurac", "run", "--config", str(config)],
                         cwd=ROOT, capture_output=True, text=True, timeout=WAIT)
    assert run.returncode == 1
    assert (f"milter.pid_file: thurac already runs as pid {daemon.process.pid} "
            f"(pid file {daemon.pid_file})") in run.stderr
    assert daemon.pid_file.read_text() == f"{daemon.process.pid}\n"  # still the first one's


def test_a_stale_pid_file_left_by_a_killed_thurac_is_replaced(tmp_path: Path) -> None:
    pid_path = tmp_path / "thurac.pid"
    stale = dead_pid()
    pid_path.write_text(f"{stale}\n")
    daemon = start(tmp_path, write_config(tmp_path, pid_file=str(pid_path)))
    try:
        assert pid_path.read_text() == f"{daemon.process.pid}\n"
        assert f"pid file {pid_path} was stale (process {stale} is gone): replacing it" in (
            daemon.text())
    finally:
        stop(daemon)


def test_without_systemds_run_folder_no_pid_file_is_derived(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thurac.config import MilterSettings

    monkeypatch.setattr(pidfile, "RUN_DIR", tmp_path / "run" / "thurac")
    assert pidfile.path_for(MilterSettings()) is None
    (tmp_path / "run" / "thurac").mkdir(parents=True)
    assert pidfile.path_for(MilterSettings()) == tmp_path / "run" / "thurac" / "thurac.pid"
    assert pidfile.path_for(MilterSettings(pid_file="/srv/t.pid")) == Path("/srv/t.pid")


# -- thurac reload ----------------------------------------------------------------------------


def test_reload_sends_sighup_and_the_daemon_rereads_its_file(daemon: Daemon) -> None:
    data = yaml.safe_load(daemon.config.read_text())
    data["actions"] = {"add_header": 4.0}
    daemon.config.write_text(yaml.safe_dump(data))
    done = reload("--config", str(daemon.config))
    assert done.returncode == 0, done.stderr
    assert f"sent SIGHUP to thurac (pid {daemon.process.pid})" in done.stdout
    daemon.wait_for("configuration reloaded from")
    assert "add_header=4.0" in daemon.text()


def test_reload_of_a_broken_file_is_refused_before_anything_is_sent(daemon: Daemon) -> None:
    data = yaml.safe_load(daemon.config.read_text())
    data["actions"] = {"reject": "high"}
    daemon.config.write_text(yaml.safe_dump(data))
    done = reload("--config", str(daemon.config))
    assert done.returncode == 2
    assert f"{daemon.config}: actions.reject: Input should be a valid number" in done.stderr
    time.sleep(0.5)  # the daemon heard nothing: it neither refused nor applied the file
    assert "reload refused" not in daemon.text()
    assert "configuration reloaded" not in daemon.text()


def test_reload_without_a_pid_file_says_so_and_points_to_systemctl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, pid_file=f"{tmp_path}/thurac.pid")
    assert main(["reload", "--config", str(config)]) == 1
    assert capsys.readouterr().err == (
        f"thurac reload: no pid file at {tmp_path}/thurac.pid: is thurac running? (under "
        "systemd: systemctl reload thurac)\n")


def test_reload_with_nothing_to_read_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(pidfile, "RUN_DIR", tmp_path / "no-run-dir")
    config = write_config(tmp_path)
    assert main(["reload", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "milter.pid_file is empty" in err and "systemctl reload thurac" in err


def test_reload_of_a_thurac_that_died_says_the_pid_file_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid_path = tmp_path / "thurac.pid"
    stale = dead_pid()
    pid_path.write_text(f"{stale}\n")
    assert main(["reload", "--config", str(write_config(tmp_path)),
                 "--pid-file", str(pid_path)]) == 1
    assert (f"stale pid file {pid_path}: process {stale} is not a running thurac"
            in capsys.readouterr().err)


def test_reload_never_signals_a_process_that_is_not_thurac(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The pid of a dead thurac, reused by another program: that program keeps running.
    other = subprocess.Popen(["sleep", "30"])
    try:
        pid_path = tmp_path / "thurac.pid"
        pid_path.write_text(f"{other.pid}\n")
        assert main(["reload", "--config", str(write_config(tmp_path)),
                     "--pid-file", str(pid_path)]) == 1
        assert "stale pid file" in capsys.readouterr().err
        time.sleep(0.2)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_reload_of_a_pid_file_that_holds_no_number_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid_path = tmp_path / "thurac.pid"
    pid_path.write_text("hello\n")
    assert main(["reload", "--config", str(write_config(tmp_path)),
                 "--pid-file", str(pid_path)]) == 1
    assert f"{pid_path} holds no process id (it says 'hello')" in capsys.readouterr().err

