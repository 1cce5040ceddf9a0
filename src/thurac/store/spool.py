"""History the database could not take, kept in a local JSON-lines file and replayed when the
database answers again: an outage of the store costs no history (DESIGN: failure rules)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from thurac.config import DatabaseSettings
from thurac.errors import StoreError
from thurac.message import Connection, Message
from thurac.store.recorder import Record
from thurac.symbols import Symbol
from thurac.verdict import Verdict

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
    where = "-".join(str(part) for part in (url.get_backend_name(), url.host or "local",
                                             url.port or "", url.database or "") if part)
    return STATE_DIR / f"{_UNSAFE.sub('_', where)}.spool.jsonl"


def record_to_dict(record: Record) -> dict[str, Any]:
    """What the recorder writes about a message, as JSON-able values (the body is never kept)."""
    msg, verdict = record.message, record.verdict
    conn = msg.connection
    return {
        "connection": [conn.client_ip, conn.client_name, conn.helo, conn.tls_version,
                       conn.auth_user],
        "sender": msg.sender,
        "recipients": list(msg.recipients),
        "headers": [list(h) for h in msg.headers],
        "queue_id": msg.queue_id,
        "received_at": msg.received_at.isoformat(),
        "direction": msg.direction,
        "exact": msg.exact_header_values,
        "verdict": None if verdict is None else {
            "score": verdict.score, "required": verdict.required, "action": verdict.action,
            "intended": verdict.intended,
            "symbols": [[s.name, s.score, s.reason] for s in verdict.symbols],
        },
        "unrelated": list(record.unrelated),
    }


def record_from_dict(data: dict[str, Any], is_local: Callable[[str], bool]) -> Record:
    ip, name, helo, tls, auth = data["connection"]
    message = Message(
        Connection(ip, name, helo, tls, auth), data["sender"], tuple(data["recipients"]),
        tuple((n, v) for n, v in data["headers"]), b"", queue_id=data["queue_id"],
        received_at=datetime.fromisoformat(data["received_at"]), direction=data["direction"],
        exact_header_values=data["exact"],
    )
    v = data["verdict"]
    verdict = None if v is None else Verdict(
        v["score"], v["required"], v["action"], v["intended"],
        tuple(Symbol(n, s, r) for n, s, r in v["symbols"]))
    return Record(message, verdict, tuple(data["unrelated"]), is_local)


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
