"""History the database could not take, kept in a local JSON-lines file and replayed when the
database answers again: an outage of the store costs no history (DESIGN: failure rules)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from sqlalchemy.engine import make_url

from thurac.config import DatabaseSettings
from thurac.errors import StoreError
from thurac.store.record import Record, record_from_dict, record_to_dict

log = logging.getLogger("thurac.spool")

STATE_DIR = Path("/var/lib/thurac")  # where a spool for a database server is kept
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def spool_path_for(database: DatabaseSettings) -> Path:
    """database.spool_path, or one derived from the database so that two daemons with
    different databases never share a spool: beside a SQLite file (thurac.db →
    thurac.spool.jsonl), or named after a server's host, port and database."""
    if database.spool_path:
        return Path(database.spool_path)
    url = make_url(database.url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            db_file = Path(url.database)
            return db_file.with_name(f"{db_file.stem}.spool.jsonl")
        return STATE_DIR / "memory.spool.jsonl"
    host = url.host or "local"  # a unix socket folder given as ?host=/run/postgresql
    several = url.query.get("host")
    if isinstance(several, tuple):  # a multi-host URL: ?host=db1:5432&host=db2:5432
        host = ",".join(several)
    where = "-".join(str(part) for part in (url.get_backend_name(), host,
                                             url.port or "", url.database or "") if part)
    return STATE_DIR / f"{_UNSAFE.sub('_', where)}.spool.jsonl"


class Spool:
    """An append-only file of records; `replay` hands them back and empties it on success."""

    def __init__(self, path: Path, max_bytes: int, is_local: Callable[[str], bool]) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._is_local = is_local

    def ensure_writable(self) -> None:
        """At start: a spool that cannot be written would lose history in the first outage."""
        try:
            with contextlib.suppress(FileExistsError):  # a file there: open() says so
                self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a"):
                pass
        except OSError as exc:
            raise StoreError(f"database.spool_path: cannot write {self.path}: "
                             f"{exc.strerror or exc} (the spool keeps history while the "
                             "database is away; set a writable path)") from exc

    def __bool__(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def append(self, records: Sequence[Record]) -> int:
        """Keep `records`; returns how many were kept (none past max_bytes or on a disk error:
        the caller decides what becomes of the rest)."""
        kept = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            size = self.path.stat().st_size if self.path.exists() else 0
            with self.path.open("a", encoding="utf-8", errors="surrogateescape") as out:
                for record in records:
                    line = json.dumps(record_to_dict(record), ensure_ascii=False) + "\n"
                    if size + len(line) > self.max_bytes:
                        break
                    out.write(line)
                    size += len(line)
                    kept += 1
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:  # the recorder keeps the rest, and says so once
            log.debug("spool %s: cannot write: %s", self.path, exc)
        return kept

    def records(self) -> Iterator[Record]:
        """Every readable record in the file (a damaged line is logged and skipped)."""
        with self.path.open(encoding="utf-8", errors="surrogateescape") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    yield record_from_dict(json.loads(line), self._is_local)
                except (ValueError, KeyError, TypeError) as exc:
                    log.error("spool %s line %d unreadable, skipped: %s", self.path, number, exc)

    def chunks(self, size: int) -> Iterator[list[Record]]:
        chunk: list[Record] = []
        for record in self.records():
            chunk.append(record)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def clear(self) -> None:
        """Forget the records: call once they are committed."""
        self.path.unlink(missing_ok=True)
