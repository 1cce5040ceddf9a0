"""Several MX hosts sharing one history: N × (a private Postfix, a `thurac run` as its milter,
an SMTP sink) on loopback, every thurac on the same PostgreSQL database, each with its own
spool, log and host name (mx0.example.test, mx1.example.test, …), all on one DNS server.

``with MxHosts(root, dns, url, count=2) as hosts: hosts[0].send(...)``. The thurac daemons
are started at the same moment, as after a reboot of the whole site, so the first start on an
empty database is also two migrations racing. Postfix uses long queue ids: short ones are
unique per host only, and the shared events table holds both hosts' mail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from tests.support.dns_server import TestDnsServer
from tests.support.net import free_port
from tests.support.postfix import PrivatePostfix, SendResult
from tests.support.smtp_sink import SmtpSink
from tests.support.thurac import LOCAL_DOMAIN, Thurac, base_config, deep_merge


@dataclass
class MxHost:
    """One MX host: its Postfix, its thurac and the sink Postfix delivers to."""

    name: str  # mx0.example.test: Postfix's myhostname and thurac's authserv_id
    thurac: Thurac
    postfix: PrivatePostfix
    sink: SmtpSink
    spool: Path

    def send(self, mail_from: str, rcpts: list[str], data: bytes, source_ip: str,
             helo: str = "mail.remote.test") -> SendResult:
        return self.postfix.send(mail_from, rcpts, data, source_ip=source_ip, helo=helo)


class MxHosts:
    """`count` hosts on the database at `database_url`; `overrides` go into every thurac
    config, `postfix` into every main.cf (e.g. a CountingSink's transports)."""

    def __init__(self, root: Path, dns: TestDnsServer, database_url: str, count: int = 2, *,
                 overrides: Mapping[str, Any] | None = None,
                 postfix: Mapping[str, str | None] | None = None) -> None:
        self.root = root
        self.dns = dns
        self.database_url = database_url
        self.count = count
        self.overrides = overrides or {}
        self.postfix_overrides = {"enable_long_queue_ids": "yes", **(postfix or {})}
        self.hosts: list[MxHost] = []

    def __getitem__(self, index: int) -> MxHost:
        return self.hosts[index]

    def __iter__(self) -> Iterator[MxHost]:
        return iter(self.hosts)

    def _make(self, index: int) -> MxHost:
        name = f"mx{index}.example.test"
        folder = self.root / f"mx{index}"
        folder.mkdir(parents=True)
        spool = folder / "spool.jsonl"
        config = deep_merge(base_config(folder, free_port(), self.dns), {
            "database": {"url": self.database_url, "spool_path": str(spool)},
            "local": {"authserv_id": name},
        })
        config = deep_merge(config, self.overrides)
        config_path = folder / "thurac.yaml"
        config_path.write_text(yaml.safe_dump(config))
        thurac = Thurac(config_path, folder / "thurac.log", config["milter"]["socket"])
        sink = SmtpSink().start()
        postfix = PrivatePostfix(sink.port, local_domains=[LOCAL_DOMAIN],
                                 milter=thurac.postfix_address, myhostname=name,
                                 overrides=self.postfix_overrides)
        return MxHost(name, thurac, postfix, sink, spool)

    def start(self) -> MxHosts:
        try:
            for index in range(self.count):
                self.hosts.append(self._make(index))
            # Everything at once: Postfix takes seconds to start, and the thurac daemons
            # meet on the empty database as after a restart of the whole site.
            _all_at_once([host.thurac.start for host in self.hosts]
                         + [host.postfix.start for host in self.hosts])
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Each host as a site is shut down: Postfix, then its sink and its milter."""
        def stop_host(host: MxHost) -> None:
            host.postfix.stop()
            host.sink.stop()
            host.thurac.stop()

        _all_at_once([lambda host=host: stop_host(host) for host in self.hosts])

    def logs(self) -> str:
        """Every thurac's log, each under its host name (for assertion messages)."""
        return "\n".join(f"--- {host.name}\n{host.thurac.log()[-3000:]}" for host in self.hosts)

    def __enter__(self) -> MxHosts:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _all_at_once(steps: list[Callable[[], object]]) -> None:
    """Run `steps` in threads of their own; the first failure is raised here."""
    failures: list[BaseException] = []

    def run(step: Callable[[], object]) -> None:
        try:
            step()
        except BaseException as exc:  # raised below, in the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(step,)) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
