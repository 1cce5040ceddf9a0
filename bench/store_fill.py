"""Synthetic history for bench/store_bench.py: a year of thurac's store, filled fast and grown
in stages (0 → 1M → 10M events), on SQLite or PostgreSQL.

What a store of N events holds (decided here, printed by the bench):
- events and header_log: N rows each; header blocks of about 400 bytes; `facts` left empty.
- rate_buckets: 3 N rows (one bucket per event and kind, sender/domain/ip, spread over a year
  for 100,000 senders, 10,000 domains and 30,000 IPs: about 100 buckets a sender at 10M),
  plus HOT senders with a bucket every minute of the last day, on each of their three keys.
- senders: the 100,000 senders and the hot ones; correspondents: N/4 pairs (2.5M at 10M);
  sent_messages: N/10; complaints: N/500 (20,000 at 10M); ad_counts: N/20.

Rows are made by plain arithmetic on the row number (no random module: the same store every
run) and written with the driver's own bulk paths: one executemany per 50,000 rows on SQLite,
COPY on PostgreSQL. The big tables' secondary indexes are dropped during a stage and built
again after it (sorting once beats 10M random B-tree inserts); the stored rows are the same.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, Table, func, select, text
from tests.builders import RECEIVED_AT

from thurac.history import epoch_minute
from thurac.store.schema import (
    ad_counts,
    complaints,
    correspondents,
    events,
    header_log,
    rate_buckets,
    senders,
    sent_messages,
)

NOW = RECEIVED_AT  # the bench's messages arrive at this time; the history is the year before
NOW_SECONDS = int(NOW.timestamp())
NOW_MINUTE = epoch_minute(NOW)
YEAR_MINUTES = 365 * 24 * 60
DAY_MINUTES = 24 * 60
SENDERS = 100_000
DOMAINS = 10_000
IPS = 30_000
LOCALS = 20_000  # our users, u<k>@example.com (tests.builders' local domain)
HOT = 200  # senders with a bucket every minute of the last day
HOT_PAIRS = 5  # local users who wrote to each hot sender
BUCKET_KEYS = {"sender": SENDERS, "domain": DOMAINS, "ip": IPS}
PAIRS_PER_EVENT = 4  # one correspondent pair per 4 events
SENT_PER_EVENT = 10
COMPLAINTS_PER_EVENT = 500
ADS_PER_EVENT = 20
BATCH = 50_000  # rows per executemany / COPY
COMMIT_ROWS = 1_000_000  # rows per transaction on SQLite
STRIDE = 7919  # prime, coprime with YEAR_MINUTES and LOCALS: spreads keys without collisions
# Secondary indexes rebuilt after a stage (primary keys stay: the fill must not break them).
FILL_CACHE_KIB = 1_000_000  # SQLite page cache while filling and building indexes
REBUILT = (events, header_log, rate_buckets, correspondents, sent_messages)


def _hash(n: int) -> int:
    """A cheap, fixed 32-bit mix of n (Knuth's multiplicative hash, then a xorshift)."""
    h = (n * 2654435761) & 0xFFFFFFFF
    return h ^ (h >> 15)


def sender_key(i: int) -> tuple[str, str, str]:
    """Address, domain and client IP of stored sender i."""
    d, ip = i % DOMAINS, i % IPS
    return f"s{i}@d{d}.example", f"d{d}.example", f"10.{ip >> 16}.{(ip >> 8) & 255}.{ip & 255}"


def hot_key(h: int) -> tuple[str, str, str]:
    """Address, domain and client IP of hot sender h (keys of their own: no collisions)."""
    return f"hot{h}@hot{h}.example", f"hot{h}.example", f"172.16.{h >> 8}.{h & 255}"


def local(k: int) -> str:
    return f"u{k % LOCALS}@example.com"


def hot_related(h: int) -> list[str]:
    """The local users who wrote to hot sender h."""
    return [local(h * HOT_PAIRS + j) for j in range(HOT_PAIRS)]


def sent_id(k: int) -> str:
    """A Message-ID one of our users sent, as the store keeps it (no angle brackets)."""
    return f"out{k}@example.com"


def _skewed_sender(n: int) -> int:
    """Sender of event n: low numbers are busier (quadratic skew), like real traffic."""
    u = _hash(n) / 2**32
    return int(SENDERS * u * u)


@dataclass(frozen=True)
class Backend:
    """How rows reach one kind of database: time format, and the bulk write."""

    name: str
    time_suffix: str  # SQLite keeps SQLAlchemy's naive text, PostgreSQL a timestamptz
    write: Callable[[Any, Table, Sequence[str], list[tuple[Any, ...]]], None]  # DBAPI conn
    multiline: Callable[[str], str]  # text with CR, LF or TAB as the bulk path takes it

    def time(self, seconds: int) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + self.time_suffix


def _sqlite_write(raw: Any, table: Table, columns: Sequence[str],
                  rows: list[tuple[Any, ...]]) -> None:
    cursor = raw.cursor()
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor.executemany(f"INSERT INTO {table.name} ({quoted}) VALUES "
                       f"({', '.join('?' * len(columns))})", rows)
    cursor.close()


def _copy_escaped(value: str) -> str:
    """COPY's text format; only multi-line columns need it (the rest has no \\, TAB, CR, LF)."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace(
        "\r", "\\r").replace("\n", "\\n")


def _postgres_write(raw: Any, table: Table, columns: Sequence[str],
                    rows: list[tuple[Any, ...]]) -> None:
    buffer = io.StringIO()
    buffer.writelines("\t".join([r"\N" if v is None else str(v) for v in row]) + "\n"
                      for row in rows)
    buffer.seek(0)
    cursor = raw.cursor()
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor.copy_expert(f"COPY {table.name} ({quoted}) FROM STDIN", buffer)
    cursor.close()


SQLITE = Backend("sqlite", ".000000", _sqlite_write, str)
POSTGRES = Backend("postgresql", "+00", _postgres_write, _copy_escaped)


def backend_of(engine: Engine) -> Backend:
    return POSTGRES if engine.dialect.name == "postgresql" else SQLITE


# -- rows of each table, for the numbers [start, stop) of a stage ---------------------------
EVENT_COLUMNS = ("id", "received_at", "direction", "queue_id", "client_ip", "client_name",
                 "helo", "tls_version", "auth_user", "sender", "sender_domain", "header_from",
                 "message_id", "recipients", "recipient_count", "unrelated_count", "score",
                 "action", "symbols", "policy", "overrides", "facts")
HEADER_COLUMNS = ("id", "event_id", "received_at", "queue_id", "headers")


class _Texts:
    """Strings that repeat across rows, made once (the fill is bound by making rows)."""

    def __init__(self, b: Backend) -> None:
        first = NOW_MINUTE - YEAR_MINUTES - 1
        # "YYYY-MM-DD HH:MM" of every minute of the year, then ":SS" and the zone per row
        self.first_minute = first
        self.minutes = [time.strftime("%Y-%m-%d %H:%M", time.gmtime((first + m) * 60))
                        for m in range(YEAR_MINUTES + 2)]
        self.suffix = b.time_suffix
        self.senders = [sender_key(i) for i in range(SENDERS)]
        self.locals = [local(k) for k in range(LOCALS)]

    def time(self, seconds: int) -> str:
        minute, second = divmod(seconds, 60)
        return f"{self.minutes[minute - self.first_minute]}:{second:02d}{self.suffix}"


def _event_rows(b: Backend, start: int, stop: int, first_id: int,
                ) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """(events row, header_log row) of events start..stop-1, ids from first_id."""
    t = _Texts(b)
    year_seconds = YEAR_MINUTES * 60
    for n in range(start, stop):
        h = _hash(n)
        address, domain, ip = t.senders[_skewed_sender(n)]
        when = t.time(NOW_SECONDS - 60 - h % year_seconds)
        queue_id = f"{(n * 0x9E3779B1) & 0xFFFFFFFFFF:010X}"
        rcpts = [t.locals[(h + j * STRIDE) % LOCALS] for j in range(1 + n % 3)]
        message_id = f"{n}.{h:08x}@{domain}"
        score = (h % 120) / 10
        helo = f"mx{n % 7}.{domain}"
        event_id = first_id + n - start
        yield ((event_id, when, "inbound", queue_id, ip, helo, helo, "TLSv1.3", None, address,
                domain, address, message_id, '["' + '", "'.join(rcpts) + '"]', len(rcpts),
                n % 2, score, "add_header" if score >= 5 else "accept",
                f'[{{"name": "C22_FREQ_SENDER", "score": {score}, '
                f'"reason": "sender {address}: {h % 90} msgs/1h > 60"}}]', None, None, None),
               (event_id, event_id, when, queue_id, b.multiline(
                f"Received: from {helo} ({helo} [{ip}])\r\n"
                f"\tby mx.example.com (Postfix) with ESMTPS id {queue_id}\r\n"
                f"\tfor <{rcpts[0]}>; {when}\r\nFrom: Shop {n % 97} <{address}>\r\n"
                f"To: {', '.join(rcpts)}\r\nSubject: Offer {h % 10007} for you\r\n"
                f"Date: {when}\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n")))


BUCKET_COLUMNS = ("kind", "key", "minute", "messages", "recipients", "unrelated")


def _bucket_rows(start: int, stop: int, first_stage: bool) -> Iterator[tuple[Any, ...]]:
    """One bucket per event and kind. Key k of a kind holds rows j (j * keys + k in the stage's
    range), at distinct minutes of the year (j * STRIDE is injective modulo a year); grouped
    per key so each B-tree leaf is visited once. The hot senders' day comes with the first
    stage."""
    for kind, keys in BUCKET_KEYS.items():
        part = {"sender": 0, "domain": 1, "ip": 2}[kind]
        for k in range(keys):
            key = sender_key(k)[part]
            last, offset = NOW_MINUTE - 1, k * 31
            yield from ((kind, key, last - (j * STRIDE + offset) % YEAR_MINUTES,
                         1 + j % 3, 1 + j % 5, j % 2)
                        for j in range(max(0, -(-(start - k) // keys)),
                                       max(0, -(-(stop - k) // keys))))
    if first_stage:
        for h in range(HOT):
            for kind, key in zip(("sender", "domain", "ip"), hot_key(h), strict=True):
                for m in range(1, DAY_MINUTES + 1):
                    yield (kind, key, NOW_MINUTE - m, 1, 2, 1)


SENDER_COLUMNS = ("address", "first_seen", "last_seen", "messages")


def _sender_rows(b: Backend) -> Iterator[tuple[Any, ...]]:
    first, last = b.time(NOW_SECONDS - YEAR_MINUTES * 60), b.time(NOW_SECONDS - 60)
    for i in range(SENDERS):
        yield (sender_key(i)[0], first, last, 1 + _hash(i) % 500)
    for h in range(HOT):
        yield (hot_key(h)[0], first, last, DAY_MINUTES * 30)


PAIR_COLUMNS = ("local", "remote", "first_seen", "last_seen", "sent", "received", "released")


def _pair_rows(b: Backend, start: int, stop: int, first_stage: bool,
               ) -> Iterator[tuple[Any, ...]]:
    """Pair p: remote sender p % SENDERS, local user layer * STRIDE + remote (distinct per
    remote while layer < LOCALS)."""
    first, last = b.time(NOW_SECONDS - YEAR_MINUTES * 60), b.time(NOW_SECONDS - 3600)
    for p in range(start // PAIRS_PER_EVENT, stop // PAIRS_PER_EVENT):
        remote, layer = p % SENDERS, p // SENDERS
        yield (local(layer * STRIDE + remote), sender_key(remote)[0], first, last,
               int(p % 3 == 0), 1 + p % 5, 0)
    if first_stage:
        for h in range(HOT):
            for user in hot_related(h):
                yield (user, hot_key(h)[0], first, last, 2, 40, 0)


SENT_COLUMNS = ("message_id", "local", "sent_at")


def _sent_rows(b: Backend, start: int, stop: int) -> Iterator[tuple[Any, ...]]:
    for k in range(start // SENT_PER_EVENT, stop // SENT_PER_EVENT):
        yield (sent_id(k), local(k), b.time(NOW_SECONDS - 60 - _hash(k) % (YEAR_MINUTES * 60)))


COMPLAINT_COLUMNS = ("received_at", "reporter", "trusted", "weight", "kind", "method",
                     "sender", "sender_domain", "client_ip", "message_id", "event_id",
                     "report_queue_id", "forwarded_at", "evidence")


def _complaint_rows(b: Backend, start: int, stop: int, first_stage: bool,
                    ) -> Iterator[tuple[Any, ...]]:
    trusted = True if b is POSTGRES else 1

    def row(c: int, keys: tuple[str, str, str], seconds: int) -> tuple[Any, ...]:
        address, domain, ip = keys
        return (b.time(seconds), local(c), trusted, 1.0, "user", "trace", address, domain, ip,
                f"<c{c}@{domain}>", None, f"R{c:09d}", None, b.multiline(
                f"From: <{address}>\r\nTo: <{local(c)}>\r\nSubject: Offer {c}\r\n"
                f"Message-ID: <c{c}@{domain}>\r\n"))

    for c in range(start // COMPLAINTS_PER_EVENT, stop // COMPLAINTS_PER_EVENT):
        yield row(c, sender_key(_skewed_sender(c)),
                  NOW_SECONDS - 60 - _hash(c) % (YEAR_MINUTES * 60))
    if first_stage:
        for h in range(HOT):
            for j in range(3):
                yield row(10**9 + h * 3 + j, hot_key(h), NOW_SECONDS - 86400 * (1 + j))


AD_COLUMNS = ("advertiser", "recipient", "minute", "messages")


def _ad_rows(start: int, stop: int, first_stage: bool) -> Iterator[tuple[Any, ...]]:
    """Row q: advertiser q % DOMAINS, recipient by q // DOMAINS (distinct while < LOCALS)."""
    for q in range(start // ADS_PER_EVENT, stop // ADS_PER_EVENT):
        yield (f"d{q % DOMAINS}.example", local(q // DOMAINS),
               NOW_MINUTE - 1 - _hash(q) % YEAR_MINUTES, 1)
    if first_stage:
        for h in range(HOT):
            for user in hot_related(h)[:2]:
                for m in (5, 300, 900):
                    yield (hot_key(h)[1], user, NOW_MINUTE - m, 1)


_Row = TypeVar("_Row")


# -- writing -------------------------------------------------------------------------------
def _batches(rows: Iterable[_Row]) -> Iterator[list[_Row]]:
    batch: list[_Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@contextmanager
def _bulk(engine: Engine) -> Iterator[Any]:
    """The driver's own connection for bulk writes (committed by hand: SQLAlchemy does not
    see them); on SQLite without fsync and with a big page cache, put back afterwards."""
    with engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            raw.execute("PRAGMA synchronous=OFF")
            raw.execute(f"PRAGMA cache_size=-{FILL_CACHE_KIB}")
        try:
            yield raw
            raw.commit()
        finally:
            raw.rollback()
            if sqlite:
                raw.execute("PRAGMA synchronous=NORMAL")
                raw.execute("PRAGMA cache_size=-2000")  # SQLite's default, as the daemon has


def _load(engine: Engine, b: Backend, table: Table, columns: Sequence[str],
          rows: Iterable[tuple[Any, ...]]) -> int:
    """Write rows in batches, committing every COMMIT_ROWS; the number written."""
    written = 0
    with _bulk(engine) as raw:
        for batch in _batches(rows):
            b.write(raw, table, columns, batch)
            written += len(batch)
            if written % COMMIT_ROWS < BATCH:
                raw.commit()
    return written


def _load_events(engine: Engine, b: Backend, start: int, stop: int, first_id: int) -> int:
    """events and header_log together, from one pass over the generated pairs."""
    written = 0
    with _bulk(engine) as raw:
        pairs = _event_rows(b, start, stop, first_id)
        for batch in _batches(pairs):
            b.write(raw, events, EVENT_COLUMNS, [e for e, _ in batch])
            b.write(raw, header_log, HEADER_COLUMNS, [h for _, h in batch])
            written += len(batch)
            if written % COMMIT_ROWS < BATCH:
                raw.commit()
    return written


def _next_id(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _drop_indexes(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in REBUILT:
            for index in table.indexes:
                index.drop(conn, checkfirst=True)


def _build_indexes(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in REBUILT:
            for index in table.indexes:
                index.create(conn, checkfirst=True)


def _settle(engine: Engine) -> None:
    """After a stage: PostgreSQL's sequences past the ids written (COPY does not move them)
    and its statistics (autovacuum would gather them soon); SQLite's WAL folded back."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            for table in (events, header_log, complaints):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table.name}), false)"))
            conn.commit()
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.commit()


@dataclass
class FillReport:
    events: int = 0
    rows: int = 0
    seconds: float = 0.0
    per_table: dict[str, int] | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def grow(engine: Engine, start: int, stop: int, log: Callable[[str], None] = print,
         ) -> FillReport:
    """Add events start..stop-1 (and the rows that go with them) to a migrated store."""
    b = backend_of(engine)
    first = start == 0
    began = time.perf_counter()
    first_id = _next_id(engine, events)
    _drop_indexes(engine)
    counts: dict[str, int] = {}
    counts["events+header_log"] = 2 * _load_events(engine, b, start, stop, first_id)
    log(f"  events and header_log: {counts['events+header_log']:,} rows, "
        f"{time.perf_counter() - began:.0f} s")
    counts["rate_buckets"] = _load(engine, b, rate_buckets, BUCKET_COLUMNS,
                                   _bucket_rows(start, stop, first))
    log(f"  rate_buckets: {counts['rate_buckets']:,} rows, {time.perf_counter() - began:.0f} s")
    if first:
        counts["senders"] = _load(engine, b, senders, SENDER_COLUMNS, _sender_rows(b))
    counts["correspondents"] = _load(engine, b, correspondents, PAIR_COLUMNS,
                                     _pair_rows(b, start, stop, first))
    counts["sent_messages"] = _load(engine, b, sent_messages, SENT_COLUMNS,
                                    _sent_rows(b, start, stop))
    counts["complaints"] = _load(engine, b, complaints, COMPLAINT_COLUMNS,
                                 _complaint_rows(b, start, stop, first))
    counts["ad_counts"] = _load(engine, b, ad_counts, AD_COLUMNS, _ad_rows(start, stop, first))
    log(f"  other tables: {time.perf_counter() - began:.0f} s; building indexes")
    _build_indexes(engine)
    _settle(engine)
    seconds = time.perf_counter() - began
    return FillReport(stop - start, sum(counts.values()), seconds, counts)
