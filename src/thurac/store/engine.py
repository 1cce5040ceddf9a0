"""Opening the store: engine per URL (SQLite WAL by default, PostgreSQL when shared), migrations."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from thurac.errors import StoreError

log = logging.getLogger("thurac.store")
MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATE_ATTEMPTS = 5  # a migration that met another one's lock tries again this often
SQLITE_BUSY_MS = 10000  # wait this long for SQLite's write lock before failing
# Connections: one per verdict worker reading history at the same moment (milter.workers),
# plus the recorder and one spare. SQLite connections are cheap and local: all are kept
# open. A reader that still finds none waits POOL_WAIT seconds, then its message is scored
# without history rather than held.
READERS = 10  # when the caller does not say (commands: one at a time)
WRITERS = 2
# PostgreSQL's default max_connections is 100, shared by every MX host: keep POOL_SIZE open
# and open the rest only while they are needed.
POOL_SIZE = 10
POOL_WAIT = 5


def make_engine(url: str, *, create: bool = True, connect_timeout: float = 3.0,
                readers: int = READERS) -> Engine:
    """An engine for `url`, with a connection for each of `readers` threads and the writers;
    makes a SQLite file's folder; WAL lets readers run beside the writer."""
    connections = readers + WRITERS
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if create and parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of {parsed.database}: "
                                 f"{exc.strerror or exc}") from exc
        engine = create_engine(url, pool_size=connections, max_overflow=0,
                               pool_timeout=POOL_WAIT,
                               connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cursor.close()

        return engine
    # A database host that drops packets must not hold the SMTP reply for the OS's TCP
    # timeout: the history read gives up after connect_timeout and the message goes on.
    connect_args: dict[str, Any] = {"connect_timeout": max(1, round(connect_timeout))}
    if parsed.get_driver_name() == "psycopg":
        # psycopg 3 prepares a statement on the server after 5 runs; behind pgbouncer in
        # transaction mode the next transaction may get a server connection that never saw
        # it. thurac keeps no session state (psycopg2 never prepares), so none is prepared.
        connect_args["prepare_threshold"] = None
    return create_engine(url, pool_pre_ping=True, pool_size=min(POOL_SIZE, connections),
                         max_overflow=max(0, connections - POOL_SIZE), pool_timeout=POOL_WAIT,
                         connect_args=connect_args)


def missing_store(url: str) -> str | None:
    """Why a read-only command finds no store at `url` (None: there is one). Looking
    creates nothing: a SQLite file that is not there is not connected to (which would make
    an empty one), and a server is only asked for the schema's revision."""
    shown = make_url(url).render_as_string(hide_password=True)
    hint = f"no history store at {shown} yet (run `thurac db upgrade` or start the daemon)"
    path = database_file(url)
    if path is not None:
        return None if path.is_file() and path.stat().st_size > 0 else hint
    engine = make_engine(url, create=False, readers=1)
    try:
        return hint if current_revision(engine) is None else None
    except Exception:
        return None  # unreachable: the command's own read says so, with the driver's words
    finally:
        engine.dispose()


def open_existing(url: str) -> Engine:
    """An engine for a command on a store that must exist already (explain, headers, purge):
    a SQLite file that is not there is an error, where connecting would make an empty one."""
    problem = missing_store(url)
    if problem is not None:
        raise StoreError(problem)
    return make_engine(url, create=False, readers=1)


@contextmanager
def store_errors(engine: Engine) -> Iterator[None]:
    """The driver's errors as a StoreError naming the store (the driver's own words, without
    SQLAlchemy's statement dump): a command says what is wrong rather than a traceback."""
    try:
        yield
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise StoreError(f"store {engine.url.render_as_string(hide_password=True)}: "
                         f"{reason}") from exc


def database_file(url: str) -> Path | None:
    """The file of a SQLite store (None for a server or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent). Two migrating at once (the daemon's
    recorder and `thurac db upgrade`) can meet on SQLite's lock, which busy_timeout does not
    wait out for a transaction that read before it writes: the later one tries again and
    finds the work done."""
    for attempt in range(1, MIGRATE_ATTEMPTS + 1):
        try:
            command.upgrade(alembic_config(engine), revision)
            return
        except OperationalError as exc:
            if attempt < MIGRATE_ATTEMPTS and "locked" in str(exc.orig):
                time.sleep(0.2 * attempt)
                continue
            raise StoreError(f"cannot migrate {engine.url.render_as_string()}: {exc}") from exc
        except Exception as exc:
            raise StoreError(f"cannot migrate {engine.url.render_as_string()}: {exc}") from exc


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
