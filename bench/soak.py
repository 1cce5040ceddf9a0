"""Sustained load through a private Postfix with thurac as its milter, counting what was lost.

Postfix's own smtp-source drives 20 parallel sessions (one message each, one sender, as a
spam run arrives) in chunks; between chunks the daemon's resident memory, descriptors and
threads are sampled and printed. It stops at the first crash. At the end thurac is stopped
with SIGTERM and the store is counted: events must equal the messages Postfix accepted.

    make soak                                    # 200,000 messages, about 30 minutes
    .venv/bin/python bench/soak.py --messages 20000 --chunk 2000
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.dns_server import TestDnsServer  # noqa: E402
from tests.support.load import CountingSink, Tally, finish, smtp_source  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.postfix import PrivatePostfix  # noqa: E402
from tests.support.thurac import LOCAL_DOMAIN, Thurac, base_config, deep_merge  # noqa: E402


def process_sample(pid: int) -> tuple[int, int, int]:
    """(resident KiB, open descriptors, threads) of a live process."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss = int(fields["VmRSS"].split()[0])
    threads = int(fields["Threads"])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds, threads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=5_000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--size", type=int, default=2_000)
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="stop after this long even if messages remain (0: no limit)")
    parser.add_argument("--max-growth-mb", type=float, default=20.0,
                        help="fail if RSS grows more than this after the first chunk")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="thurac-soak-"))
    with TestDnsServer() as dns:  # knows no name: every lookup is NXDOMAIN with an SOA
        port = free_port()
        config = deep_merge(base_config(tmp, port, dns), {"actions": {"mode": "tag-only"}})
        (tmp / "thurac.yaml").write_text(yaml.safe_dump(config))
        thurac = Thurac(tmp / "thurac.yaml", tmp / "thurac.log", config["milter"]["socket"])
        thurac.start()
        assert thurac.process is not None
        pid = thurac.process.pid
        sink = CountingSink().start()
        postfix = PrivatePostfix(sink.port, local_domains=[LOCAL_DOMAIN],
                                 milter=thurac.postfix_address)
        sent = 0
        crashed = False
        started = time.monotonic()
        samples: list[tuple[int, int, int, int]] = []
        with postfix:
            print(f"{'messages':>9} {'msg/s':>7} {'RSS MiB':>8} {'fds':>5} {'threads':>7}")
            while sent < args.messages:
                if args.minutes and time.monotonic() - started > args.minutes * 60:
                    break
                chunk = min(args.chunk, args.messages - sent)
                seconds = smtp_source(postfix, messages=chunk, sessions=args.sessions,
                                      size=args.size, recipient=f"user@{LOCAL_DOMAIN}")
                sent += chunk
                if thurac.process.poll() is not None:
                    crashed = True
                    print(f"thurac DIED (exit {thurac.process.returncode}) after about "
                          f"{sent} messages")
                    break
                rss, fds, threads = process_sample(pid)
                samples.append((sent, rss, fds, threads))
                print(f"{sent:9d} {chunk / seconds:7.1f} {rss / 1024:8.1f} {fds:5d} "
                      f"{threads:7d}", flush=True)
            # smtp-source returns cleanly only when every message got its 250.
            result = finish(Tally(sent=sent, accepted=sent), postfix, sink, drain_timeout=300)
            code = thurac.stop()
        sink.stop()
        print(f"postfix: {result}")
        print(f"thurac exit code after SIGTERM: {code}")
        events = sqlite3.connect(tmp / "thurac.db").execute(
            "SELECT COUNT(*) FROM events").fetchone()[0]
        print(f"store: {events} events for {result.accepted} accepted messages")
        log = thurac.log()
        faults = [line for line in log.splitlines()
                  if "Fatal Python error" in line or "Traceback" in line]
        for line in faults[:20]:
            print(f"thurac log: {line}")
        ok = not crashed and code == 0 and not faults
        ok = ok and result.accepted == result.delivered + result.held
        if not crashed:
            ok = ok and events == result.accepted
        if len(samples) >= 3:
            growth = (samples[-1][1] - samples[0][1]) / 1024
            print(f"RSS growth after the first chunk: {growth:.1f} MiB")
            ok = ok and growth < args.max_growth_mb
        print("soak: OK" if ok else f"soak: FAILED (files kept in {tmp})")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
