"""The daemon's window cache (store/window_cache.py), through the scanner on real stores: a
run's own messages count at once, another writer's within database.window_cache_seconds,
and on PostgreSQL (shared by several hosts) nothing is cached unless asked for."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from thurac.config import Settings, parse_settings
from thurac.message import Connection, Message
from thurac.scanner import Outcome, Scanner, open_scanner
from thurac.store.record import Record
from thurac.store.recorder import write_record
from thurac.store.window_cache import WindowCache

NOW = datetime.now(UTC).replace(second=5, microsecond=0)  # messages stay in one minute
SENDER = "run@spam.test"


def settings(url: str, tmp_path: Path, cache: float | None) -> Settings:
    database: dict[str, object] = {"url": url, "spool_path": str(tmp_path / "spool.jsonl")}
    if cache is not None:
        database["window_cache_seconds"] = cache
    return parse_settings({"local": {"domains": ["example.test"]}, "database": database})


def message(n: int, ip: str = "203.0.113.9") -> Message:
    return Message(Connection(ip, helo="bulk.spam.test"), SENDER,
                   (f"u{n}@example.test", f"v{n}@example.test"),
                   (("From", SENDER), ("Message-ID", f"<{n}@spam.test>")), b"hi",
                   received_at=NOW.replace(second=5 + n % 50))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def scanner_on(url: str, tmp_path: Path, cache: float | None, clock: Clock) -> Scanner:
    scanner = open_scanner(settings(url, tmp_path, cache))
    scanner.windows = WindowCache(scanner.windows.max_age, clock=clock)
    return scanner


@pytest.fixture
def sqlite_scanner(tmp_path: Path, clock: Clock) -> Iterator[Scanner]:
    scanner = scanner_on(f"sqlite:///{tmp_path}/thurac.db", tmp_path, None, clock)
    yield scanner
    scanner.close()


def sent_in_ten_minutes(scanner: Scanner, n: int) -> tuple[int, int]:
    history = scanner.history(message(n))
    return (history.window("sender", 600).messages, history.window("ip", 600).recipients)


def another_host_records(scanner: Scanner, msg: Message) -> None:
    with scanner.engine.begin() as conn:
        write_record(conn, Record(msg, None, (), scanner.settings.local.is_local_address))


def test_a_runs_own_messages_count_at_once_before_the_recorder_writes_them(
        sqlite_scanner: Scanner) -> None:
    assert sqlite_scanner.windows.max_age == 1.0  # SQLite's default
    seen = []
    for n in range(30):
        seen.append(sent_in_ten_minutes(sqlite_scanner, n))
        sqlite_scanner.record(message(n), Outcome(None, sqlite_scanner.history(message(n))))
    # No flush between messages: each one finds every message before it, 2 recipients each.
    assert seen == [(n, 2 * n) for n in range(30)]
    assert sqlite_scanner.recorder is not None and sqlite_scanner.recorder.flush()
    assert sent_in_ten_minutes(sqlite_scanner, 30) == (30, 60)


def test_another_writers_messages_count_once_the_cached_sums_are_a_second_old(
        sqlite_scanner: Scanner, clock: Clock) -> None:
    assert sent_in_ten_minutes(sqlite_scanner, 0) == (0, 0)
    another_host_records(sqlite_scanner, message(1))
    clock.now += 0.5
    assert sent_in_ten_minutes(sqlite_scanner, 2) == (0, 0)  # within window_cache_seconds
    clock.now += 0.6
    assert sent_in_ten_minutes(sqlite_scanner, 3) == (1, 2)
    # A new client IP is read from the store, the cached sender sums are not
    another_host_records(sqlite_scanner, message(4, ip="198.51.100.7"))
    history = sqlite_scanner.history(message(5, ip="198.51.100.7"))
    assert history.window("ip", 600).messages == 1
    assert history.window("sender", 600).messages == 1


def test_a_reload_that_turns_the_cache_off_reads_the_store_every_time(
        sqlite_scanner: Scanner, tmp_path: Path) -> None:
    assert sent_in_ten_minutes(sqlite_scanner, 0) == (0, 0)
    sqlite_scanner.reload(settings(str(sqlite_scanner.engine.url), tmp_path, 0))
    another_host_records(sqlite_scanner, message(1))
    assert sent_in_ten_minutes(sqlite_scanner, 2) == (1, 2)


@pytest.mark.postgres
def test_on_postgresql_several_hosts_count_together_at_once_unless_a_cache_is_set(
        postgres_database: str, tmp_path: Path, clock: Clock) -> None:
    exact = scanner_on(postgres_database, tmp_path / "a", None, clock)
    cached = scanner_on(postgres_database, tmp_path / "b", 2.0, clock)
    try:
        assert exact.windows.max_age == 0.0
        assert sent_in_ten_minutes(exact, 0) == (0, 0)
        assert sent_in_ten_minutes(cached, 0) == (0, 0)
        another_host_records(exact, message(1))
        assert sent_in_ten_minutes(exact, 2) == (1, 2)
        assert sent_in_ten_minutes(cached, 2) == (0, 0)
        clock.now += 2.5
        assert sent_in_ten_minutes(cached, 3) == (1, 2)
    finally:
        exact.close()
        cached.close()


def test_the_setting_is_bounded(tmp_path: Path) -> None:
    from thurac.errors import ConfigError

    with pytest.raises(ConfigError, match="window_cache_seconds"):
        settings("sqlite:///x.db", tmp_path, 61)
