"""Throughput through a private Postfix, side by side in one run: no milter, a pymilter milter
that does nothing, and thurac (SQLite store, DNS on loopback). Prints ratios, not lone times.

    make bench                      # defaults
    .venv/bin/python bench/run.py --messages 300 --clients 4
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.dns_server import TestDnsServer  # noqa: E402
from tests.support.net import free_port, wait_listening  # noqa: E402
from tests.support.postfix import PrivatePostfix  # noqa: E402
from tests.support.smtp_sink import SmtpSink  # noqa: E402

SENDERS = 50  # distinct external senders, so history windows fill like real traffic


def body(n: int) -> bytes:
    return (f"From: s{n % SENDERS}@bulk{n % 5}.test\r\nTo: user{n % 200}@example.test\r\n"
            f"Subject: bench {n}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0700\r\n"
            f"Message-ID: <b{n}@bench.test>\r\n\r\n" + "Lorem ipsum dolor sit amet.\r\n" * 40
            ).encode()


def blast(postfix: PrivatePostfix, sink: SmtpSink, messages: int, clients: int) -> float:
    """Seconds from the first MAIL FROM until the sink has every message."""
    sink.clear()
    counter = iter(range(messages))
    lock = threading.Lock()

    def worker(index: int) -> None:
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            result = postfix.send(f"s{n % SENDERS}@bulk{n % 5}.test",
                                  [f"user{n % 200}@example.test"], body(n),
                                  source_ip=f"127.0.0.{30 + index}", helo="mail.bulk.test")
            if not result.ok:
                raise RuntimeError(f"message {n}: {result.code} {result.message}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sink.wait_count(messages, timeout=300)
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_milter(command: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    wait_listening("127.0.0.1", port, timeout=30)
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="thurac-bench-"))
    results: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with TestDnsServer() as dns, SmtpSink() as sink:
        for n in range(5):
            dns.add(f"bulk{n}.test", "MX", f"10 mail.bulk{n}.test")
        for i in range(args.clients):
            dns.add_ptr(f"127.0.0.{30 + i}", "mail.bulk.test")
        dns.add("mail.bulk.test", "A", "127.0.0.30")
        port = free_port()
        config = {
            "milter": {"socket": f"inet:{port}@127.0.0.1"},
            "database": {"url": f"sqlite:///{tmp}/thurac.db",
                         "spool_path": f"{tmp}/spool.jsonl"},
            "dns": {"nameservers": [dns.address], "timeout": 0.5, "budget": 3},
            "local": {"domains": ["example.test"], "internal_networks": ["10.0.0.0/8"],
                      "authserv_id": "mx.example.test"},
            "actions": {"mode": "tag-only"},
        }
        (tmp / "thurac.yaml").write_text(yaml.safe_dump(config))
        setups = {
            "postfix, no milter": None,
            "postfix + no-op pymilter": [sys.executable, "bench/noop_milter.py",
                                         f"inet:{port}@127.0.0.1"],
            "postfix + no-op, one header": [sys.executable, "bench/noop_milter.py",
                                            f"inet:{port}@127.0.0.1", "--add-header"],
            "postfix + thurac": [sys.executable, "-m", "thurac", "run", "--config",
                                 str(tmp / "thurac.yaml")],
        }
        for name, command in setups.items():
            proc = start_milter(command, port, tmp / f"{len(results)}.log") if command else None
            milter = f"inet:127.0.0.1:{port}" if command else None
            try:
                with PrivatePostfix(sink.port, local_domains=["example.test"],
                                    milter=milter) as postfix:
                    blast(postfix, sink, min(20, args.messages), args.clients)  # warm-up
                    before = cpu_seconds(proc.pid) if proc else 0.0
                    results[name] = blast(postfix, sink, args.messages, args.clients)
                    if proc:
                        cpu[name] = cpu_seconds(proc.pid) - before
            finally:
                if proc is not None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(30)
    base = results["postfix, no milter"]
    print(f"{args.messages} messages, {args.clients} concurrent SMTP clients, one run:")
    for name, seconds in results.items():
        used = (f"   milter CPU {1000 * cpu[name] / args.messages:5.1f} ms/msg"
                if name in cpu else "")
        print(f"  {name:28s} {args.messages / seconds:8.1f} msg/s   "
              f"time ratio vs no milter: {seconds / base:5.2f}{used}")
    thurac = results["postfix + thurac"]
    print(f"  thurac / no-op pymilter time ratio: "
          f"{thurac / results['postfix + no-op pymilter']:.2f}")
    print(f"  thurac / no-op that adds one header time ratio: "
          f"{thurac / results['postfix + no-op, one header']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
