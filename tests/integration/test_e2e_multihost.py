"""The administrator's story of two MX hosts, each a real Postfix with its own thurac, sharing
one PostgreSQL history (database.url: postgresql+psycopg://…): a sender's burst split across
both is judged as one burst; fifty sessions on each host at once lose no event and no count
and deadlock nothing; PostgreSQL stopped under both spools on both and replays every message
once; a multi-host URL with target_session_attrs=read-write skips a dead host and a read-only
standby, and follows a failover to the promoted standby."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.pool import NullPool
from tests.integration.conftest import message
from tests.integration.test_e2e_store_outage import (
    REPLAY_SECONDS,
    REPLAYED,
    SENDER,
    SENDER_IP,
    UNAVAILABLE,
    event_counts,
    spool_lines,
)
from tests.support.dns_server import TestDnsServer
from tests.support.load import CountingSink, Stream, client_tally, smtp_source
from tests.support.multihost import MxHost, MxHosts
from tests.support.net import free_port
from tests.support.postfix import postfix_available
from tests.support.postgres import TemporaryPostgres, TemporaryStandby, unavailable_reason

from thurac.store.schema import rate_buckets, senders

pytest.importorskip("psycopg", reason="the multi-host tests need psycopg 3 (thurac[test])")
pytestmark = [pytest.mark.postfix, pytest.mark.postgres]

WAIT = 30.0  # seconds any background step (recording, spooling, replay) may take here
# Each thurac opens up to milter.workers + 2 connections (store/engine.py): 34 by default,
# so two hosts need more than the 50 the private server allows (docs/scaling.md: sizing).
MAX_CONNECTIONS = "120"


def psycopg_url(server: TemporaryPostgres) -> str:
    return server.url_for(server.database, driver="psycopg")


@pytest.fixture
def postgres() -> Iterator[TemporaryPostgres]:
    """A server of this test's own (a test may stop it); logs every deadlock it breaks."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with TemporaryPostgres(settings={"max_connections": MAX_CONNECTIONS}) as server:
        yield server


@pytest.fixture
def db(postgres: TemporaryPostgres) -> Iterator[Engine]:
    """The test's own look at the store: no pool, so an outage leaves no dead connections."""
    engine = create_engine(psycopg_url(postgres), poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def mx_hosts(tmp_path: Path, postgres: TemporaryPostgres,
             dns_zone: TestDnsServer) -> Iterator[Callable[..., MxHosts]]:
    """Start `count` MX hosts on a database URL (default: the test's server); all stop at
    teardown, before the database does."""
    if not postfix_available():
        pytest.skip("end-to-end tests need root and Debian's postfix (make test installs it)")
    started: list[MxHosts] = []

    def start(count: int = 2, url: str = "", **kwargs: Any) -> MxHosts:
        overrides = kwargs.pop("overrides", {})
        hosts = MxHosts(tmp_path / f"site{len(started)}", dns_zone,
                        url or psycopg_url(postgres),
                        count, overrides=shared_config() | overrides, **kwargs)
        started.append(hosts)
        return hosts.start()

    yield start
    for hosts in started:
        hosts.stop()


def shared_config() -> dict[str, Any]:
    return {
        # tempfail on internal errors: a message refused or deferred because of the shared
        # store would show as a 4xx.
        "milter": {"on_error": "tempfail"},
        "database": {"spool_replay_seconds": REPLAY_SECONDS},
        # Limits small enough for a few messages to cross them.
        "frequency": {"windows": [{"seconds": 600,
                                   "messages": {"sender": 4, "domain": 100, "ip": 100},
                                   "recipients": {"sender": 100, "domain": 100, "ip": 100}}]},
        "unrelated_recipients": {"window": 3600, "min_recipients": 10, "ratio": 0.8},
        # Far above any score here: every message is delivered, tagged.
        "actions": {"add_header": 100.0, "quarantine": 200.0, "reject": 300.0},
    }


def wait_until(what: str, condition: Callable[[], Any], hosts: MxHosts) -> Any:
    deadline = time.monotonic() + WAIT
    while not (result := condition()):
        assert time.monotonic() < deadline, f"not within {WAIT}s: {what}\n{hosts.logs()}"
        time.sleep(0.05)
    return result


def well_run_sender(dns: TestDnsServer) -> None:
    """MX, A and matching PTR: nothing about the sender's DNS counts against it."""
    dns.add("partner.test", "MX", "10 mail.partner.test")
    dns.add("mail.partner.test", "A", SENDER_IP)
    dns.add_ptr(SENDER_IP, "mail.partner.test")


def send(host: MxHost, subject: str, rcpts: list[str]) -> tuple[str, str]:
    """One message from SENDER through `host`, delivered tagged: (queue id, report header)."""
    result = host.send(SENDER, rcpts, message(SENDER, rcpts[0], subject), source_ip=SENDER_IP,
                       helo="mail.partner.test")
    assert result.ok and result.queue_id, (host.name, subject, result.code, result.message)
    got = host.sink.wait_for(lambda m: m.subject == subject)
    (report,) = got.headers("X-Thurac-Report")
    assert got.headers("Authentication-Results")[0].startswith(host.name)
    return result.queue_id, report


def bucket_sums(db: Engine, keys: list[str]) -> dict[str, int]:
    """Messages counted in the rate buckets of `keys`, per kind (sender, domain, ip)."""
    with db.connect() as conn:
        rows = conn.execute(select(rate_buckets.c.kind, func.sum(rate_buckets.c.messages))
                            .where(rate_buckets.c.key.in_(keys))
                            .group_by(rate_buckets.c.kind)).all()
    return {kind: int(total) for kind, total in rows}


def sender_total(db: Engine, address: str) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(senders.c.messages)
                                .where(senders.c.address == address)).scalar_one())


def assert_clean_logs(hosts: MxHosts, postgres: TemporaryPostgres) -> None:
    """No deadlock broken by PostgreSQL, no error and no spool on any host."""
    assert "deadlock detected" not in postgres.log(), postgres.log()[-3000:]
    for host in hosts:
        log = host.thurac.log()
        assert " ERROR " not in log and "spool" not in log and UNAVAILABLE not in log, (
            f"{host.name}:\n{log[-3000:]}")


def test_a_burst_split_across_two_mx_hosts_is_counted_whole(
    mx_hosts: Callable[..., MxHosts], db: Engine,
) -> None:
    hosts = mx_hosts()  # both start at once on an empty database: both migrate it
    for host in hosts:
        assert "store not ready" not in host.thurac.log(), host.thurac.log()
    well_run_sender(hosts.dns)

    # Six messages, three through each host, two new recipients each. Each host alone
    # sees 3 messages and 6 recipients: under the limits (4 per 10min; 10 recipients).
    reports = []
    for n in range(6):
        host = hosts[n % 2]
        queue_id, report = send(host, f"burst {n}",
                                [f"new{n}a@example.test", f"new{n}b@example.test"])
        assert UNAVAILABLE not in report
        reports.append(report)
        # Written behind the reply: the next message, on the other host, must find it.
        wait_until(f"burst {n} recorded", lambda q=queue_id: event_counts(db).get(q) == 1,
                   hosts)

    assert "C22_FREQ_SENDER" not in reports[3] and "C22_UNRELATED_RATIO" not in reports[3]
    # The fifth, on mx0, counts the two messages mx1 took as well.
    assert f"sender {SENDER}: 5 msgs/10min > 4" in reports[4]
    assert "10/10 recipients unrelated (100% >= 80%) in 1h" in reports[4]
    assert f"sender {SENDER}: 6 msgs/10min > 4" in reports[5]
    assert "12/12 recipients unrelated" in reports[5]
    assert bucket_sums(db, [SENDER]) == {"sender": 6}


def test_fifty_sessions_on_each_of_two_hosts_lose_no_event_and_no_count(
    mx_hosts: Callable[..., MxHosts], db: Engine, postgres: TemporaryPostgres,
) -> None:
    per_host, sessions = 150, 50
    with CountingSink() as sink:
        hosts = mx_hosts(overrides={"actions": {"mode": "tag-only"}},
                         postfix=sink.transports())
        failures: list[BaseException] = []

        def run_load(host: MxHost) -> None:
            try:  # one spam run through both MX hosts at once, from the same sender
                smtp_source(host.postfix, messages=per_host, sessions=sessions, size=2000,
                            timeout=300)
            except BaseException as exc:
                failures.append(exc)

        loads = [threading.Thread(target=run_load, args=(host,)) for host in hosts]
        for load in loads:
            load.start()
        for load in loads:
            load.join(360)
        assert not failures, f"{failures[0]}\n{hosts.logs()}"  # smtp-source: every 250

        total = per_host * len(hosts.hosts)
        for host in hosts:
            host.postfix.wait_queue_empty(timeout=120)
        assert sink.wait_count(total, timeout=30) == total
    wait_until("every message recorded", lambda: sum(event_counts(db).values()) == total,
               hosts)
    for host in hosts:
        assert host.thurac.stop() == 0
        assert host.thurac.log().count(" direction=inbound ") == per_host
    assert sum(event_counts(db).values()) == total
    # smtp-source: one sender, from 127.0.0.1: each rate key counted every message once.
    assert bucket_sums(db, ["bulk@sender.test", "sender.test", "127.0.0.1"]) == {
        "sender": total, "domain": total, "ip": total}
    assert sender_total(db, "bulk@sender.test") == total
    assert_clean_logs(hosts, postgres)


def test_postgres_stopped_under_both_hosts_costs_no_mail_and_both_spools_replay_once(
    mx_hosts: Callable[..., MxHosts], db: Engine, postgres: TemporaryPostgres,
) -> None:
    per_host = 60
    hosts = mx_hosts()
    streams = [Stream(host.postfix, per_host, sessions=6).start() for host in hosts]

    for stream in streams:
        stream.wait_sent(15)
    postgres.shut_down()
    for stream in streams:
        stream.wait_sent(35)
    wait_until("both hosts spooling", lambda: all(spool_lines(h.spool) for h in hosts), hosts)
    postgres.start_again()
    for stream in streams:
        stream.join()
    results = [result for stream in streams for result in stream.results]
    tally = client_tally(results)
    tally.delivered = sum(len(h.sink.wait_count(per_host, timeout=60)) for h in hosts)
    tally.assert_nothing_lost()
    assert tally.accepted == per_host * len(hosts.hosts), tally  # none deferred either

    for host in hosts:
        wait_until(f"{host.name} replayed its spool",
                   lambda h=host: REPLAYED in h.thurac.log() and not h.spool.exists(), hosts)
    queue_ids = [result.queue_id for result in results]
    wait_until("every message recorded", lambda: len(event_counts(db)) == len(queue_ids), hosts)
    assert event_counts(db) == {queue_id: 1 for queue_id in queue_ids}
    total = len(queue_ids)
    assert bucket_sums(db, ["stream@sender.test", "sender.test", "127.0.0.20"]) == {
        "sender": total, "domain": total, "ip": total}
    assert sender_total(db, "stream@sender.test") == total
    for host in hosts:
        assert host.thurac.stop() == 0


def test_a_multi_host_url_skips_a_dead_host_and_a_standby_and_follows_the_failover(
    mx_hosts: Callable[..., MxHosts], db: Engine, postgres: TemporaryPostgres,
) -> None:
    with TemporaryStandby(postgres) as standby:
        standby_db = create_engine(psycopg_url(standby), poolclass=NullPool)
        # libpq tries the hosts in order; read-write passes over the dead one and the
        # standby (which accepts connections, read-only) to the primary.
        url = (f"postgresql+psycopg://postgres@/{postgres.database}"
               f"?host=127.0.0.1:{free_port()}&host=127.0.0.1:{standby.port}"
               f"&host=127.0.0.1:{postgres.port}&target_session_attrs=read-write")
        hosts = mx_hosts(1, url)
        (host,) = hosts
        well_run_sender(hosts.dns)
        queue_ids = []
        for n in range(3):
            queue_id, report = send(host, f"before {n}", [f"user{n}@example.test"])
            assert UNAVAILABLE not in report
            queue_ids.append(queue_id)
        wait_until("recorded on the primary", lambda: len(event_counts(db)) == 3, hosts)
        with standby_db.connect() as conn:
            assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
        wait_until("replicated", lambda: len(event_counts(standby_db)) == 3, hosts)

        # The primary fails; mail goes on, its history waits in the spool.
        postgres.shut_down()
        for n in range(3, 5):
            queue_id, report = send(host, f"during {n}", [f"user{n}@example.test"])
            assert UNAVAILABLE in report
            queue_ids.append(queue_id)
        wait_until("spooled", lambda: spool_lines(host.spool) == 2, hosts)

        # The failover manager promotes the standby: the same URL now leads there.
        standby.promote()
        wait_until("spool replayed into the new primary",
                   lambda: REPLAYED in host.thurac.log() and not host.spool.exists(), hosts)
        assert event_counts(standby_db) == {queue_id: 1 for queue_id in queue_ids}
        _, report = send(host, "after", ["user9@example.test"])
        assert re.search(rf"sender {re.escape(SENDER)}: 6 msgs/10min > 4", report), report
        assert host.thurac.stop() == 0
        log = host.thurac.log()
        assert log.count("store writes failing") == 1 and "gave up" not in log, log
        standby_db.dispose()


def test_a_suspension_made_on_one_host_is_enforced_on_the_other(
        mx_hosts: Callable[..., MxHosts]) -> None:
    """An account that bursts through host A past its hard limit is suspended there; the
    suspension lives in the shared store, so host B refuses the account's next message."""
    import subprocess
    import sys

    from tests.support.thurac import INTERNAL_IP, ROOT

    hosts = mx_hosts(overrides={"outbound": {
        "refresh_seconds": 0.5,
        "windows": [{"seconds": 600, "messages": 100, "recipients": 300, "unrelated": 50}],
        "suspend_limits": [{"seconds": 600, "unrelated": 10}]}})
    account = "bob@example.test"

    def show(host: MxHost) -> str:
        ran = subprocess.run([sys.executable, "-m", "thurac", "account", "show", account,
                              "--config", str(host.thurac.config_path)], capture_output=True,
                             text=True, cwd=ROOT, timeout=60, check=False)
        return ran.stdout

    codes = []
    for n in range(4):  # 4 fresh recipients a message: the third passes 10 unrelated
        rcpts = [f"r{n}.{i}@far.test" for i in range(4)]
        result = hosts[0].send(account, rcpts, message(account, rcpts[0], f"blast {n}"),
                               source_ip=INTERNAL_IP, helo="ws1.example.test")
        codes.append(result.code)
    assert codes[:2] == [250, 250] and codes[-1] == 550, codes
    assert show(hosts[1]).startswith("suspended") or wait_until(
        "host B sees the suspension", lambda: show(hosts[1]).startswith("suspended"), hosts)
    time.sleep(1.0)  # outbound.refresh_seconds (0.5) on host B, twice over
    refused = hosts[1].send(account, ["friend@far.test"],
                            message(account, "friend@far.test", "hello from B"),
                            source_ip=INTERNAL_IP, helo="ws1.example.test")
    assert refused.code == 550 and "5.7.1" in refused.message, (refused.code, refused.message)
    assert "suspended" in refused.message
    assert "action=reject symbols=OUT_SUSPENDED" in hosts[1].thurac.log()
