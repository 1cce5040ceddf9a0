"""Started as root without systemd, thurac serves as milter.user: through a real Postfix the
mail is scored and recorded as before, every thread of the process runs with no root id
left (real, effective, saved and file-system ids, and the group list), and the store's
files are that user's."""

from __future__ import annotations

import grp
import pwd
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.integration.conftest import Stack, message
from tests.support.users import python_for, reachable

pytestmark = pytest.mark.postfix

USER, GROUP = "nobody", "nogroup"
REMOTE_IP = "127.0.0.31"


@pytest.fixture
def open_tmp(tmp_path: Path) -> Iterator[Path]:
    with reachable(tmp_path):
        yield tmp_path


def ids(status: str, field: str) -> list[int]:
    (line,) = [line for line in status.splitlines() if line.startswith(f"{field}:")]
    return [int(value) for value in line.split()[1:]]


def test_thurac_started_as_root_serves_mail_as_its_user_with_no_way_back(
    stack_factory: Callable[..., Stack], open_tmp: Path
) -> None:
    uid, gid = pwd.getpwnam(USER).pw_uid, grp.getgrnam(GROUP).gr_gid
    runner = python_for(uid, {gid})
    if runner is None:
        pytest.skip(f"no Python that {USER} can run with this test's packages")
    python, env = runner
    # The store and the pid file in folders of their own, made by thurac for its user.
    state = open_tmp / "state"
    stack = stack_factory({
        "milter": {"user": USER, "group": GROUP, "pid_file": f"{open_tmp}/run/thurac.pid"},
        "database": {"url": f"sqlite:///{state}/thurac.db",
                     "spool_path": f"{state}/spool.jsonl"},
    }, python=python, env=env)
    assert stack.thurac.process is not None
    pid = stack.thurac.process.pid

    stack.dns.add("remote.test", "MX", "10 mail.remote.test")
    result = stack.send("alice@remote.test", ["bob@example.test"],
                        message("alice@remote.test", "bob@example.test", "as nobody"),
                        source_ip=REMOTE_IP)
    assert result.ok, (result.code, result.message, stack.thurac.log())
    line = stack.thurac.log_line_for(result.queue_id)
    assert "direction=inbound" in line and " score=" in line and "action=" in line
    delivered = stack.sink.wait_for(lambda m: m.subject == "as nobody")
    assert delivered.headers("X-Spam-Score")
    deadline = time.monotonic() + 10
    while stack.thurac.events() < 1:  # recorded behind the reply
        assert time.monotonic() < deadline, stack.thurac.log()
        time.sleep(0.05)

    assert f"serving as user {USER} (uid {uid}, gid {gid}" in stack.thurac.log()
    threads = sorted(Path(f"/proc/{pid}/task").iterdir())
    assert len(threads) > 1  # libmilter's, the workers', the recorder's
    for thread in threads:
        status = (thread / "status").read_text()
        assert ids(status, "Uid") == [uid] * 4, (thread, status)
        assert ids(status, "Gid") == [gid] * 4, (thread, status)
        assert 0 not in ids(status, "Groups"), (thread, status)
        assert "CapEff:\t0000000000000000" in status, (thread, status)
    for made in (state, state / "thurac.db", state / "thurac.db-wal", open_tmp / "run",
                 open_tmp / "run" / "thurac.pid"):
        assert made.stat().st_uid == uid, made


def test_a_unix_socket_made_as_the_user_is_postfixs_to_use(
    stack_factory: Callable[..., Stack], open_tmp: Path
) -> None:
    # As in /var/spool/postfix/thurac/: a folder of its own, which thurac makes for its user
    # and gives to group postfix, so that Postfix passes through it to the socket.
    uid, gid = pwd.getpwnam(USER).pw_uid, grp.getgrnam(GROUP).gr_gid
    runner = python_for(uid, {gid})
    if runner is None:
        pytest.skip(f"no Python that {USER} can run with this test's packages")
    python, env = runner
    run_dir = Path(tempfile.mkdtemp(prefix="thurac-run-"))  # short: sun_path is 108 bytes
    run_dir.chmod(0o755)
    sock = run_dir / "thurac" / "milter.sock"
    state = open_tmp / "state"
    try:
        stack = stack_factory({
            "milter": {"user": USER, "group": GROUP, "socket": f"unix:{sock}",
                       "pid_file": f"{state}/thurac.pid"},
            "database": {"url": f"sqlite:///{state}/thurac.db",
                         "spool_path": f"{state}/spool.jsonl"},
        }, python=python, env=env)
        result = stack.send("alice@remote.test", ["bob@example.test"],
                            message("alice@remote.test", "bob@example.test", "via the socket"),
                            source_ip=REMOTE_IP)
        assert result.ok, (result.code, result.message, stack.thurac.log())
        got = stack.sink.wait_for(lambda m: m.subject == "via the socket")
        assert got.headers("X-Spam-Status")  # scored, not let through by the default action
        postfix = grp.getgrnam("postfix").gr_gid
        folder, made = sock.parent.stat(), sock.stat()
        assert (folder.st_uid, folder.st_gid, folder.st_mode & 0o777) == (uid, postfix, 0o750)
        assert (made.st_uid, made.st_gid, made.st_mode & 0o777) == (uid, postfix, 0o660)
        stack.thurac.stop()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
