"""A private pgbouncer on loopback in front of a TemporaryPostgres, in transaction mode (a
server connection per transaction, handed to whichever client asks next), for the tests that
thurac keeps no session state. Debian's pgbouncer package; it refuses to run as root, so as
root it runs as the ``postgres`` user, like the server.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.net import free_port, wait_listening
from tests.support.postgres import SERVER_USER, TemporaryPostgres

PGBOUNCER = shutil.which("pgbouncer", path="/usr/sbin:/usr/bin") or "/usr/sbin/pgbouncer"
SERVER_CONNECTIONS = 3  # fewer than the clients: every transaction may change connection


def unavailable_reason() -> str | None:
    if not os.access(PGBOUNCER, os.X_OK):
        return "pgbouncer not installed (`make test` installs Debian's pgbouncer package)"
    return None


class TemporaryPgbouncer:
    """``with TemporaryPgbouncer(pg) as bouncer: make_engine(bouncer.url_for("thurac"))``."""

    def __init__(self, server: TemporaryPostgres) -> None:
        self.server = server
        self.port = 0
        self.root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._user: Any = pwd.getpwnam(SERVER_USER) if os.geteuid() == 0 else None

    def url_for(self, database: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        try:
            return (self.root / "pgbouncer.log").read_text(errors="replace")  # type: ignore[operator]
        except (OSError, TypeError):
            return ""

    def start(self) -> TemporaryPgbouncer:
        self.root = Path(tempfile.mkdtemp(prefix="thurac-pgbouncer-", dir="/tmp"))
        kwargs: dict[str, Any] = {}
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
            kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid,
                      "extra_groups": []}
        self.port = free_port()
        ini = self.root / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.server.port} user=postgres\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            "auth_type = any\npool_mode = transaction\n"
            f"default_pool_size = {SERVER_CONNECTIONS}\n"
            f"logfile = {self.root}/pgbouncer.log\npidfile = {self.root}/pgbouncer.pid\n")
        self._process = subprocess.Popen([PGBOUNCER, str(ini)], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         cwd=self.root, **kwargs)
        try:
            wait_listening("127.0.0.1", self.port, timeout=10)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
            self._process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> TemporaryPgbouncer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
