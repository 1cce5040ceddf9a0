"""A private, throw-away PostgreSQL server on loopback for the shared-store tests.

:class:`TemporaryPostgres` runs Debian's server binaries (``/usr/lib/postgresql/*/bin``, the
newest version) on a cluster it makes with ``initdb`` in a temp directory: listening only on
127.0.0.1 on a free port, unix sockets in the temp directory, trust authentication for local
connections, and ``fsync=off`` for speed. It never touches the system's own cluster or service.

PostgreSQL refuses to run as root, so as root the server runs as Debian's ``postgres`` system
user (which then owns the temp directory); as any other user it runs as that user. The
postmaster is this process's child (not daemonised by ``pg_ctl start``), so it is stopped with
``pg_ctl stop -m fast``, killed by its own handle if that hangs, and always reaped.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.net import free_port

PG_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
DATABASE = "thurac"
START_TIMEOUT = 60  # seconds for initdb, and for the server to accept connections
STOP_TIMEOUT = 30  # seconds for a fast shutdown before the postmaster is killed
START_ATTEMPTS = 3  # a free port can be taken between free_port() and the bind
_KEEP_ENV = "THURAC_KEEP_POSTGRES"
_NAME_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def server_bin_dir() -> Path | None:
    """The bin folder of the newest installed PostgreSQL server, or None."""
    found: list[tuple[int, Path]] = []
    for path in PG_ROOT.glob("*/bin"):
        if path.parent.name.isdigit() and all(
                (path / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            found.append((int(path.parent.name), path))
    return max(found)[1] if found else None


def unavailable_reason() -> str | None:
    """Why a temporary server cannot run here (None when it can)."""
    if server_bin_dir() is None:
        return (f"PostgreSQL server binaries not found under {PG_ROOT}/*/bin "
                "(`make test` installs Debian's postgresql package)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return (f"running as root and there is no `{SERVER_USER}` system user to run "
                    "PostgreSQL as (Debian's postgresql package creates it)")
    return None


def _traversable(folder: Path) -> bool:
    """True when every folder down to `folder` lets other users through (o+x)."""
    path = folder.resolve()
    return all(p.stat().st_mode & 0o001 for p in (path, *path.parents))


class TemporaryPostgres:
    """``with TemporaryPostgres() as pg: make_engine(pg.url)``; stopped and removed at exit.

    ``pg.shut_down()`` / ``pg.start_again()`` play an outage: same port, same data.
    """

    def __init__(self, database: str = DATABASE, settings: dict[str, str] | None = None) -> None:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        self.bin_dir: Path = server_bin_dir()  # type: ignore[assignment]
        self.database = database
        self.settings = settings or {}
        self.port = 0
        self.root: Path | None = None
        self._user: Any = pwd.getpwnam(SERVER_USER) if os.geteuid() == 0 else None
        self._process: subprocess.Popen[bytes] | None = None

    # -- paths and URLs -------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        assert self.root is not None, "server not started"
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        assert self.root is not None, "server not started"
        return self.root / "server.log"

    def url_for(self, database: str, driver: str = "psycopg2") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the test database."""
        return self.url_for(self.database)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AssertionError):
            return ""

    # -- running the server binaries ------------------------------------------------------
    def _run(self, tool: str, *args: str, timeout: float = START_TIMEOUT,
             as_server: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server binary (as the server's user when `as_server`); raise with its output."""
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC",
               "PGUSER": "postgres"}
        kwargs: dict[str, Any] = {}
        if as_server and self._user is not None:
            env["HOME"] = self._user.pw_dir
            kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        proc = subprocess.run(
            [str(self.bin_dir / tool), *args], env=env, cwd=self.root, capture_output=True,
            text=True, timeout=timeout, check=False, **kwargs)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({proc.returncode}):\n"
                               f"{proc.stdout}{proc.stderr}\n{self.log()[-3000:]}")
        return proc

    def _make_root(self) -> Path:
        parent = Path(tempfile.gettempdir())
        if self._user is not None and not _traversable(parent):
            parent = Path("/tmp")  # the server's user must be able to reach its folder
        root = Path(tempfile.mkdtemp(prefix="thurac-pg-", dir=parent))
        if self._user is not None:
            os.chown(root, self._user.pw_uid, self._user.pw_gid)
        return root

    def _configure(self) -> None:
        lines = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "50",
            "shared_buffers": "16MB",
            "timezone": "'UTC'",
            "log_min_messages": "warning",
            **self.settings,
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/support/postgres.py\n")
            conf.writelines(f"{name} = {value}\n" for name, value in lines.items())
        (self.data_dir / "pg_hba.conf").write_text(
            "# tests/support/postgres.py: trust, local connections only\n"
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n"
            "host replication all 127.0.0.1/32 trust\n")  # for a standby's pg_basebackup

    def start(self) -> TemporaryPostgres:
        self.root = self._make_root()
        try:
            self._make_cluster()
            for attempt in range(START_ATTEMPTS):
                self.port = free_port()
                self._configure()
                if self._start_server():
                    break
                if attempt + 1 == START_ATTEMPTS:
                    raise RuntimeError(f"PostgreSQL did not start:\n{self.log()[-3000:]}")
            self._fill()
        except BaseException:
            self.stop()
            raise
        return self

    def _make_cluster(self) -> None:
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "-E", "UTF8",
                  "--locale=C", "--auth=trust", "--no-sync")

    def _fill(self) -> None:
        self.create_database(self.database)

    def _start_server(self) -> bool:
        """Start the postmaster as our child (so it is ours to stop and reap); True once ready."""
        kwargs: dict[str, Any] = {}
        if self._user is not None:
            kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        with self.log_path.open("ab") as log:
            if self._user is not None:
                os.chown(self.log_path, self._user.pw_uid, self._user.pw_gid)
            self._process = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC"},
                start_new_session=True, **kwargs)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:  # e.g. the port was taken meanwhile
                self._process = None
                return False
            if self._ready():
                return True
            time.sleep(0.05)
        self._kill()
        return False

    def _ready(self) -> bool:
        """The postmaster wrote "ready" (a hot standby: "standby") as the status line of its pid
        file, as pg_ctl -w reads it."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() in ("ready", "standby")

    def create_database(self, name: str) -> str:
        """Create database `name` (owned by postgres) and return its SQLAlchemy URL."""
        if not _NAME_RE.fullmatch(name):
            raise ValueError(f"not a plain database name: {name!r}")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name,
                  as_server=False)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        if not _NAME_RE.fullmatch(name):
            raise ValueError(f"not a plain database name: {name!r}")
        self._run("dropdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "--force", name, as_server=False)

    # -- stopping ------------------------------------------------------------------------
    def _kill(self) -> None:
        """Kill the postmaster this instance started, by its own process handle, and reap it."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(10)
        self._process = None

    def _stop_server(self) -> None:
        """Fast shutdown (bounded wait), kill if it hangs; the folder stays."""
        if self._process is not None and self._process.poll() is None:
            try:
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w",
                          "-t", str(STOP_TIMEOUT), "stop", timeout=STOP_TIMEOUT + 10)
                self._process.wait(STOP_TIMEOUT)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        self._kill()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def shut_down(self) -> None:
        """Stop the server as an outage would, keeping its folder, data and port, so that
        :meth:`start_again` brings the same database back."""
        if self.root is None:
            raise RuntimeError("server not started")
        self._stop_server()

    def start_again(self) -> None:
        """Start the same cluster on the same port after :meth:`shut_down` (data kept)."""
        if self.root is None:
            raise RuntimeError("server not started")
        if self.running:
            return
        # Our postmaster is gone and reaped: a pid file it left (if killed) is stale, and
        # its "ready" line must not be mistaken for the new server's.
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        if not self._start_server():
            raise RuntimeError(f"PostgreSQL did not start again on port {self.port}:\n"
                               f"{self.log()[-3000:]}")

    def stop(self) -> None:
        """Fast shutdown (bounded wait), kill if it hangs, then remove the folder."""
        if self.root is None:
            return
        self._stop_server()
        if os.environ.get(_KEEP_ENV):
            print(f"kept PostgreSQL folder {self.root} ({_KEEP_ENV} is set)")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class TemporaryStandby(TemporaryPostgres):
    """A hot standby of a running `primary`, copied with ``pg_basebackup -R`` and streaming
    from it: read-only (as a failed-over-from primary's replica is) until :meth:`promote`."""

    def __init__(self, primary: TemporaryPostgres) -> None:
        super().__init__(primary.database, primary.settings)
        self.primary = primary

    def _make_cluster(self) -> None:
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port),
                  "-U", "postgres", "-D", str(self.data_dir), "-R", "-X", "stream", "-c", "fast",
                  "--no-sync")

    def _fill(self) -> None:
        """The primary's databases came with the copy."""

    def promote(self) -> None:
        """Make it a primary (what a failover manager does when the primary is gone)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-t", str(START_TIMEOUT),
                  "promote", timeout=START_TIMEOUT + 10)


def postgres_or_skip() -> Iterator[TemporaryPostgres]:
    """For fixtures: a running private server, or a pytest skip saying why there is none."""
    import pytest

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with TemporaryPostgres() as server:
        yield server
