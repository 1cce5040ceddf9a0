"""Writes behind the reply: events, header log, relationships, rate buckets; batched commits."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from thurac import facts as facts_mod
from thurac.history import epoch_minute, keys_of, rate_keys, stored_text
from thurac.store import raw
from thurac.store.engine import database_file, upgrade
from thurac.store.history import AD_WINDOW_MINUTES
from thurac.store.outage import Outage
from thurac.store.record import Record
from thurac.store.schema import (
    ad_counts,
    correspondents,
    events,
    header_log,
    rate_buckets,
    senders,
    sent_messages,
)
from thurac.store.spool import Spool

log = logging.getLogger("thurac.recorder")

BATCH = 200  # records per commit at most
MAX_PENDING = 50000  # records held in memory while the database is away
PURGE_EVERY = 600.0  # seconds between deletions of expired rate buckets
RETRIES = 3  # attempts per batch before it is spooled (or split, if the data is at fault)
REPLAY_EVERY = 30.0  # seconds between attempts to replay the spool while the database is away


@dataclass(frozen=True, slots=True)
class _Counter:
    """How rows of one table merge: `add` columns sum up, `latest` ones keep the newest value;
    other columns are written only when the row is new."""

    table: Table
    keys: tuple[str, ...]
    add: tuple[str, ...] = ()
    latest: tuple[str, ...] = ()


BUCKETS = _Counter(rate_buckets, ("kind", "key", "minute"),
                   add=("messages", "recipients", "unrelated"))
SENDERS = _Counter(senders, ("address",), add=("messages",), latest=("last_seen",))
PAIRS = _Counter(correspondents, ("local", "remote"), add=("sent", "received"),
                 latest=("last_seen",))
SENT_IDS = _Counter(sent_messages, ("message_id",))
ADS = _Counter(ad_counts, ("advertiser", "recipient", "minute"), add=("messages",))
DELIVERED = frozenset({"accept", "add_header"})  # what reached the recipient


# Built once: SQLAlchemy caches their compiled form, so a record costs parameters only.
INSERT_EVENT = insert(events)
INSERT_EVENTS = insert(events).returning(events.c.id, sort_by_parameter_order=True)
INSERT_HEADER_LOG = insert(header_log)


@lru_cache(maxsize=16)
def _upsert_statement(dialect: str, counter: _Counter) -> Any:
    """INSERT … ON CONFLICT for `counter`, built once per dialect (parameters bound per row)."""
    table = counter.table
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(dialect)
    changes: dict[str, Any] = {c: table.c[c] + stmt.excluded[c] for c in counter.add}
    changes.update({c: stmt.excluded[c] for c in counter.latest})
    if changes:
        return stmt.on_conflict_do_update(index_elements=list(counter.keys), set_=changes)
    return stmt.on_conflict_do_nothing(index_elements=list(counter.keys))


class _Upserts:
    """Counter rows of a transaction, merged per key and written at the end in one global
    order (table, then key).

    Several MX hosts write the same hot rows (a spam run's sender, its minutes, its
    recipients); taking the row locks in the same order everywhere means two batches wait
    for each other instead of deadlocking. Merging first makes one statement per row.
    """

    def __init__(self) -> None:
        self._rows: dict[_Counter, dict[tuple[Any, ...], dict[str, Any]]] = {}

    def add(self, counter: _Counter, row: dict[str, Any]) -> None:
        rows = self._rows.setdefault(counter, {})
        key = tuple(row[k] for k in counter.keys)
        known = rows.get(key)
        if known is None:
            rows[key] = dict(row)
            return
        for column in counter.add:
            known[column] += row[column]
        for column in counter.latest:
            known[column] = max(known[column], row[column])

    def run(self, conn: Connection) -> None:
        for counter in sorted(self._rows, key=lambda c: c.table.name):
            rows = self._rows[counter]
            raw.execute_many(conn, _upsert_statement(conn.dialect.name, counter),
                             [rows[key] for key in sorted(rows)])
        self._rows.clear()


def _text(value: str | None, limit: int) -> str | None:
    """Storable text: valid UTF-8, no NUL (PostgreSQL refuses it), bounded to the column."""
    if value is None:
        return None
    return stored_text(value, limit)


def write_record(conn: Connection, record: Record) -> None:
    """All rows for one message; idempotent per message apart from the counters."""
    write_records(conn, [record])


def write_records(conn: Connection, records: Iterable[Record], *, log: bool = True) -> None:
    """All rows for a batch of messages: events and header log, then the counters in key order.
    `log` False writes only what later history reads see (a replay's scratch store)."""
    upserts = _Upserts()
    event_rows: list[dict[str, Any]] = []
    header_rows: list[dict[str, Any]] = []
    for record in records:
        _learn(upserts, record)
        if log:
            event_rows.append(_event_row(record))
            header_rows.append(_header_row(record))
    if event_rows:
        for row, event_id in zip(header_rows, _insert_events(conn, event_rows), strict=True):
            row["event_id"] = event_id
        raw.execute_many(conn, INSERT_HEADER_LOG, header_rows)
    upserts.run(conn)


def _insert_events(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """The events' ids, in the order of the rows (for the header log's rows)."""
    if conn.dialect.name == "sqlite":
        return raw.insert_ids(conn, INSERT_EVENT, rows)  # one C call a row, no round trip
    # A server: one multi-row INSERT … RETURNING for the batch, not a round trip per event.
    return list(conn.execute(INSERT_EVENTS, rows).scalars().all())


def _header_row(record: Record) -> dict[str, Any]:
    msg = record.message
    return {"received_at": msg.received_at, "queue_id": _text(msg.queue_id, 64),
            "headers": msg.header_block()}


def _event_row(record: Record) -> dict[str, Any]:
    msg, verdict = record.message, record.verdict
    when = msg.received_at
    symbols = [] if verdict is None else [
        {"name": s.name, "score": s.score, "reason": s.reason} for s in verdict.symbols
    ]
    conn_facts = msg.connection
    return dict(
        received_at=when, direction=msg.direction, queue_id=_text(msg.queue_id, 64),
        client_ip=_text(conn_facts.client_ip, 64), client_name=_text(conn_facts.client_name, 255),
        helo=_text(conn_facts.helo, 255), tls_version=_text(conn_facts.tls_version, 32),
        auth_user=_text(conn_facts.auth_user, 255), sender=_text(msg.sender, 320),
        sender_domain=_text(msg.sender_domain, 255), header_from=_text(msg.header_from, 320),
        message_id=_text(msg.message_id, 500),
        recipients=json.dumps(list(msg.recipients)), recipient_count=len(msg.recipients),
        unrelated_count=len(record.unrelated),
        score=None if verdict is None else verdict.score,
        action="accept" if verdict is None else verdict.action,
        symbols=json.dumps(symbols),
        policy=None if verdict is None else _text(verdict.policy, 64),
        overrides=json.dumps([f"{o.source}: {o.reason}" for o in verdict.overrides])
        if verdict and verdict.overrides else None,
        facts=None if record.facts is None else json.dumps(facts_mod.to_json(record.facts)),
    )


def _learn(upserts: _Upserts, record: Record) -> None:
    if record.message.direction == "outbound":
        _record_outbound(upserts, record)
    else:
        _record_inbound(upserts, record)


def _record_outbound(upserts: _Upserts, record: Record) -> None:
    msg = record.message
    _record_account(upserts, record)
    verdict = record.verdict
    if not msg.sender or (verdict is not None and verdict.action not in DELIVERED):
        return  # held, deferred or refused mail must not make its recipients "related"
    sender = stored_text(msg.sender, 320)
    for rcpt in msg.recipients:
        if rcpt != msg.sender:
            upserts.add(PAIRS, {"local": sender, "remote": stored_text(rcpt, 320),
                                "first_seen": msg.received_at, "last_seen": msg.received_at,
                                "sent": 1, "received": 0})
    if msg.message_id:
        upserts.add(SENT_IDS, {"message_id": stored_text(msg.message_id, 500), "local": sender,
                               "sent_at": msg.received_at})


def _record_account(upserts: _Upserts, record: Record) -> None:
    """The account's per-minute counts (outbound windows and hard limits); mail refused
    because the account is suspended is not sent, so it is not counted."""
    verdict, msg = record.verdict, record.message
    if verdict is None or any(s.name == "OUT_SUSPENDED" for s in verdict.symbols):
        return
    for kind, key in rate_keys(msg).items():
        upserts.add(BUCKETS, {"kind": kind, "key": key, "minute": epoch_minute(msg.received_at),
                              "messages": 1, "recipients": len(msg.recipients),
                              "unrelated": len(record.unrelated)})


def inbound_buckets(record: Record) -> list[dict[str, Any]]:
    """What an inbound message adds to its rate buckets (the store's, and the daemon's
    window cache, store/window_cache.py)."""
    msg = record.message
    minute = epoch_minute(msg.received_at)
    return [{"kind": kind, "key": key, "minute": minute, "messages": 1,
             "recipients": len(msg.recipients), "unrelated": len(record.unrelated)}
            for kind, key in keys_of(msg).items()]


def _record_inbound(upserts: _Upserts, record: Record) -> None:
    msg = record.message
    minute = epoch_minute(msg.received_at)
    for row in inbound_buckets(record):
        upserts.add(BUCKETS, row)
    verdict = record.verdict
    if record.advertiser and (verdict is None or verdict.action in DELIVERED):
        advertiser = stored_text(record.advertiser, 255)
        for rcpt in msg.recipients:
            upserts.add(ADS, {"advertiser": advertiser, "recipient": stored_text(rcpt, 320),
                              "minute": minute, "messages": 1})
    if not msg.sender:
        return
    sender = stored_text(msg.sender, 320)
    upserts.add(SENDERS, {"address": sender, "first_seen": msg.received_at,
                          "last_seen": msg.received_at, "messages": 1})
    for rcpt in msg.recipients:
        if record.is_local(rcpt) and rcpt != msg.sender:
            upserts.add(PAIRS, {"local": stored_text(rcpt, 320), "remote": sender,
                                "first_seen": msg.received_at, "last_seen": msg.received_at,
                                "sent": 0, "received": 1})


# SQLSTATE 25006: the server is a read-only standby (a URL naming a replica, or a primary
# that a failover demoted): away for writes until it is promoted, like a server that is down.
READ_ONLY_SQLSTATE = "25006"


def _unreachable(exc: Exception) -> bool:
    """The database is away (refused, down, locked, file gone, read-only), not the data bad."""
    if isinstance(exc, OperationalError | InterfaceError) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return True
    orig = getattr(exc, "orig", None)
    # psycopg 3 names it sqlstate, psycopg2 pgcode
    return READ_ONLY_SQLSTATE in (getattr(orig, "sqlstate", None), getattr(orig, "pgcode", None))


def purge_buckets(conn: Connection, older_than_minute: int,
                  ads_older_than_minute: int | None = None) -> int:
    """Delete rate buckets (and advertising counts) no window reads any more."""
    result = conn.execute(delete(rate_buckets).where(rate_buckets.c.minute < older_than_minute))
    removed = result.rowcount or 0
    if ads_older_than_minute is not None:
        ads = conn.execute(delete(ad_counts).where(ad_counts.c.minute < ads_older_than_minute))
        removed += ads.rowcount or 0
    return removed


class _StoreFile:
    """A SQLite store's file, watched between batches: open connections keep writing to a
    file that was deleted or moved away (and to nothing anyone will read), so when the path
    stops naming the file they opened, they are dropped and the path is opened anew."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._path = database_file(engine.url.render_as_string(hide_password=False))
        self._identity = self._first = self._stat()

    def _stat(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            found = os.stat(self._path)
        except OSError:
            return None
        return (found.st_dev, found.st_ino)

    def replaced(self) -> bool:
        """True once each time the path has stopped naming the file in use."""
        if self._path is None:
            return False
        now = self._stat()
        if now == self._identity:
            return False
        if now is None:
            log.error("recorder: the store %s is gone; history is spooled until it is back",
                      self._path)
        else:
            log.warning("recorder: the store %s is there again (%s); opening it anew",
                        self._path, "the same file" if now == self._first else "a new file")
        self._identity = now
        self._engine.dispose()  # readers and writers reopen the path
        return True


class Recorder:
    """A background thread that drains a queue into the database in batched transactions.

    `replay_every`: seconds between attempts to replay the spool (default REPLAY_EVERY).
    `migrated=False` (the store could not be migrated at start, e.g. the database was away):
    migration is retried before writes and replays, at most once per `replay_every`; until
    it succeeds, a batch that cannot be written is spooled, whatever the error.
    """

    def __init__(self, engine: Engine, keep_minutes: int, spool: Spool | None = None, *,
                 replay_every: float | None = None, migrated: bool = True) -> None:
        self._engine = engine
        self._keep_minutes = keep_minutes
        self._spool = spool
        self._replay_every = REPLAY_EVERY if replay_every is None else replay_every
        self._last_replay = 0.0
        self._migrated = migrated
        self._last_migration = float("-inf")
        self._queue: queue.Queue[Record | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="thurac-recorder", daemon=True)
        self._last_purge = 0.0
        # Records submitted but not yet written (or given up on); flush() waits for zero.
        self._pending = 0
        self._settled = threading.Condition()
        # Records neither the database nor the spool could take (a full or read-only disk):
        # kept in memory, up to MAX_PENDING, and written with the spool when either answers.
        self._held: list[Record] = []
        self._file = _StoreFile(engine)
        self.writes = Outage("writes", engine.url.render_as_string(hide_password=True),
                             f"history is spooled to {spool.path}" if spool is not None
                             else "history is kept in memory", "write")
        self._thread.start()

    def submit(self, record: Record) -> None:
        """Queue a record; never blocks the SMTP reply."""
        if self._queue.qsize() >= MAX_PENDING:
            log.error("recorder backlog full (%d); dropping history of %s",
                      MAX_PENDING, record.message.queue_id)
            return
        with self._settled:
            self._pending += 1
        self._queue.put(record)

    def pending(self) -> int:
        """Records submitted and not yet written (or spooled)."""
        with self._settled:
            return self._pending

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is written (tests, `check --record`, shutdown)."""
        with self._settled:
            return self._settled.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        self._queue.put(None)
        self._thread.join(timeout)

    def _drain(self, first: Record) -> list[Record]:
        batch = [first]
        while len(batch) < BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            batch.append(item)
        return batch

    def _run(self) -> None:
        while True:
            try:
                waiting = bool(self._spool) or bool(self._held)
                item = self._queue.get(timeout=self._replay_every if waiting else None)
            except queue.Empty:
                self._maybe_replay()
                continue
            if item is None:
                return
            self._maybe_replay()
            batch = self._drain(item)
            try:
                self._write(batch)
            except Exception:  # the thread must outlive any surprise
                log.exception("recorder: unexpected failure; history of %d message(s) lost",
                              len(batch))
            finally:
                with self._settled:
                    self._pending -= len(batch)
                    self._settled.notify_all()

    def _write(self, batch: Iterable[Record]) -> None:
        batch = list(batch)
        self._notice_replaced_file()
        if self._spool or self._held:
            # The database was away moments ago: keep the order, spool behind the others.
            self._keep(batch)
            return
        self._migrate_if_needed()
        unreachable = False
        for attempt in range(RETRIES):
            try:
                with self._engine.begin() as conn:
                    write_records(conn, batch)
                    self._maybe_purge(conn)
                self.writes.ok()
                return
            except Exception as exc:
                unreachable = _unreachable(exc)
                error = exc
                log.debug("recorder: writing %d record(s) failed (attempt %d): %s",
                          len(batch), attempt + 1, error)
                time.sleep(0.2 * (attempt + 1))
        if (unreachable or not self._migrated) and self._spool is not None:
            # Not migrated: the tables may be missing; the data is not at fault either.
            self.writes.failed(error if unreachable else "store not migrated yet")
            self._keep(batch)
            return
        log.error("recorder: writing %d record(s) failed: %s", len(batch),
                  getattr(error, "orig", None) or error)
        if len(batch) > 1:
            # One poisoned record must not cost the history of the whole batch.
            for record in batch:
                self._write([record])
            return
        log.error("recorder: gave up on the history of %s", batch[0].message.queue_id)

    def _notice_replaced_file(self) -> None:
        if self._file.replaced():
            self._migrated = False  # a file that came back may be new and empty
            self._last_migration = float("-inf")

    def _keep(self, batch: list[Record]) -> None:
        """To the spool, or, when the spool cannot take them either, to memory (bounded)."""
        kept = self._spool.append(batch) if self._spool is not None else 0
        rest = batch[kept:]
        if not rest:
            return
        room = MAX_PENDING - len(self._held)
        if not self._held and room > 0:
            log.error("recorder: spool %s full (database.spool_max_bytes) or unwritable: "
                      "keeping history in memory (at most %d records) until the database or "
                      "the spool answers", self._spool.path if self._spool else "(none)",
                      MAX_PENDING)
        self._held.extend(rest[:room])
        if len(rest) > room:
            log.error("recorder: memory full too: history of %d message(s) lost",
                      len(rest) - max(room, 0))

    def _maybe_replay(self) -> None:
        """Write the spool (and what memory held) back, all of it in one transaction, once the
        database answers."""
        if not (self._spool or self._held):
            return
        if time.monotonic() - self._last_replay < self._replay_every:
            return
        self._last_replay = time.monotonic()
        self._notice_replaced_file()
        self._migrate_if_needed()
        try:
            with self._engine.begin() as conn:
                count = 0
                if self._spool:
                    for chunk in self._spool.chunks(BATCH):
                        write_records(conn, chunk)
                        count += len(chunk)
                for start in range(0, len(self._held), BATCH):
                    write_records(conn, self._held[start:start + BATCH])
                count += len(self._held)
            if self._spool is not None:
                self._spool.clear()
            self._held = []
        except Exception as exc:
            self.writes.failed(exc)
            return
        self.writes.ok()
        where = self._spool.path if self._spool is not None else "memory"
        log.info("recorder: replayed %d spooled record(s) from %s", count, where)

    def _migrate_if_needed(self) -> None:
        """Migrate the store if that failed at start (the database may have been away then),
        at most once per replay interval."""
        if self._migrated or time.monotonic() - self._last_migration < self._replay_every:
            return
        self._last_migration = time.monotonic()
        try:
            upgrade(self._engine)
        except Exception as exc:
            log.warning("recorder: store still not migrated: %s", exc)
            return
        self._migrated = True
        log.info("recorder: store migrated")

    def _maybe_purge(self, conn: Connection) -> None:
        now = time.time()
        if now - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = now
        minute = int(now // 60)
        purged = purge_buckets(conn, minute - self._keep_minutes,
                               minute - AD_WINDOW_MINUTES - 1)
        if purged:
            log.info("recorder: purged %d expired rate bucket(s)", purged)
