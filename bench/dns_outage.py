"""Throughput while the nameserver is dead, as a ratio to throughput while it answers: both
measured in one run, side by side, through a private Postfix driven by smtp-source at 20
sessions, with the shipped DNS timeout (2 s) and budget (8 s).

Before nameserver health tracking, a dead resolver cost every message its whole budget:
20 sessions fell from about 120 to 2.3 messages a second. The promise is a ratio >= 0.5.

    .venv/bin/python bench/dns_outage.py --messages 2000 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.dns_server import TestDnsServer  # noqa: E402
from tests.support.load import CountingSink, smtp_source  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.postfix import PrivatePostfix  # noqa: E402
from tests.support.thurac import LOCAL_DOMAIN, Thurac, base_config, deep_merge  # noqa: E402


def one_round(tmp: Path, dns: TestDnsServer, dead: bool, messages: int, sessions: int) -> float:
    dns.mode = "blackhole" if dead else "normal"
    port = free_port()
    config = deep_merge(base_config(tmp, port, dns), {
        "actions": {"mode": "tag-only"}, "dns": {"timeout": 2.0, "budget": 8.0}})
    (tmp / "thurac.yaml").write_text(yaml.safe_dump(config))
    thurac = Thurac(tmp / "thurac.yaml", tmp / "thurac.log", config["milter"]["socket"])
    thurac.start()
    try:
        with CountingSink() as sink, PrivatePostfix(
                sink.port, local_domains=[LOCAL_DOMAIN], milter=thurac.postfix_address,
                overrides={"milter_content_timeout": "60s"}) as postfix:
            seconds = smtp_source(postfix, messages=messages, sessions=sessions, size=2000,
                                  recipient=f"user@{LOCAL_DOMAIN}")
    finally:
        thurac.stop()
    return messages / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rates: dict[bool, list[float]] = {False: [], True: []}
    with TestDnsServer() as dns:
        for n in range(args.rounds):
            for dead in (False, True):  # interleaved, so drift hits both alike
                tmp = Path(tempfile.mkdtemp(prefix="thurac-dns-outage-"))
                rate = one_round(tmp, dns, dead, args.messages, args.sessions)
                rates[dead].append(rate)
                print(f"round {n + 1}: DNS {'dead   ' if dead else 'answers'} {rate:7.1f} msg/s",
                      flush=True)
    alive, dead = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"{args.messages} messages x {args.rounds} rounds, {args.sessions} sessions, "
          f"medians: DNS answers {alive:.1f} msg/s, DNS dead {dead:.1f} msg/s, "
          f"ratio {dead / alive:.2f} (promise: >= 0.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
