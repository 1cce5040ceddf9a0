"""Fill a history store with synthetic mail for `thurac report` and its benchmark: N events
over D days, with the mixes a busy MX sees (most mail good, a long tail of small senders,
spam that trips the Circular 22 criteria, SPF/DKIM/DMARC results, list hits, outbound mail,
complaints and quarantine releases).

    .venv/bin/python bench/gen_store.py --path /tmp/thurac.db             # 1,000,000 / 30 days
    .venv/bin/python bench/gen_store.py --url postgresql+psycopg2://… --events 20000 --seed 7

The schema comes from the project's migrations; rows are what the recorder writes (symbols
as its JSON list of {name, score, reason}, scores and actions from thurac's own verdict
rule), inserted with SQLAlchemy Core executemany in large batches, a few transactions in
all. `events.facts` is left NULL, and the header log, correspondents and rate buckets are
not filled: the report reads none of them. The same seed and --until give the same store.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from thurac.config import ActionSettings
from thurac.store.engine import make_engine, upgrade
from thurac.store.schema import complaints, events, releases
from thurac.symbols import Symbol, default_scores
from thurac.verdict import decide

BATCH = 20_000  # rows per executemany
TRANSACTION = 200_000  # events per commit: a few transactions for a million
DOMAINS = 3_000  # remote sending domains, Zipf-weighted: a few big senders, a long tail
LOCAL_USERS = 400
OUTBOUND = 0.08  # share of events that are our users' own mail
# A site with a tempfail band, so every action the report counts occurs.
ACTIONS = ActionSettings(add_header=5.0, tempfail=9.0, quarantine=10.0, reject=15.0)
SCORES = default_scores()
# Plain reasons as the checks word them (the report reads names only; the size is realistic).
REASONS = {
    "C22_FREQ_SENDER": "sender {s}: 47 msgs/1h > 30",
    "C22_FREQ_DOMAIN": "domain {d}: 412 msgs/1h > 300",
    "C22_FREQ_IP": "ip {ip}: 388 msgs/1h > 300",
    "C22_ONE_WAY": "{s}: 26 messages, never written to by a local user",
    "C22_NO_MX": "{d} has no MX and no A record: it cannot receive mail",
    "C22_UNRELATED_RATIO": "12 of 14 recipients (0.86) never exchanged mail with {s} > 0.8",
    "C22_TECH_NO_PTR": "{ip} has no reverse DNS name",
    "C22_TECH_DYNAMIC_PTR": "reverse name of {ip} looks dynamic",
    "C22_TECH_HELO_NOT_FQDN": "HELO is not a fully qualified domain name",
    "C22_TECH_NO_TLS": "the client did not use TLS",
    "C22_TECH_MAILER": "X-Mailer names a bulk mailer",
    "C22_TECH_NO_MESSAGE_ID": "no Message-ID header",
    "SPF_PASS": "spf=pass smtp.mailfrom={d}",
    "SPF_FAIL": "spf=fail smtp.mailfrom={d}: {ip} not permitted",
    "SPF_SOFTFAIL": "spf=softfail smtp.mailfrom={d}",
    "SPF_NONE": "spf=none smtp.mailfrom={d}",
    "DKIM_VALID": "dkim=pass header.d={d}",
    "DKIM_INVALID": "dkim=fail header.d={d}: body hash did not verify",
    "DKIM_NONE": "no DKIM signature",
    "DMARC_PASS": "dmarc=pass header.from={d}",
    "DMARC_FAIL_REJECT": "dmarc=fail (p=reject) header.from={d}",
    "DMARC_FAIL_QUARANTINE": "dmarc=fail (p=quarantine) header.from={d}",
    "DMARC_FAIL_NONE": "dmarc=fail (p=none) header.from={d}",
    "DMARC_NONE": "no DMARC record for {d}",
    "C22_COMPLAINTS": "3 trusted complaints about {s} in 30d",
    "ADV_NO_OPTOUT": "advertising without an opt-out",
    "ADV_OVER_DAILY_LIMIT": "4 adverts from {d} to this recipient today > 3",
    "ALLOWLIST": "domain {d} is on the allow list",
    "BLOCKLIST": "ip {ip} is on the block list",
}


@dataclass(frozen=True, slots=True)
class Source:
    """One remote sending domain: its addresses, its servers and how it behaves."""

    domain: str
    senders: tuple[str, ...]
    ips: tuple[str, ...]
    kind: str  # good | grey | spam


def sources(rng: random.Random) -> tuple[list[Source], list[float]]:
    """The remote domains and their cumulative Zipf weights (rank 1 sends most)."""
    found: list[Source] = []
    for rank in range(1, DOMAINS + 1):
        # The biggest senders are well run; spam and grey mail come from the long tail.
        kind = "good" if rank <= 10 else rng.choices(("good", "grey", "spam"), (65, 20, 15))[0]
        domain = f"{'news' if rank % 7 == 0 else 'mail'}{rank}.{rng.choice(('com', 'vn', 'net'))}"
        senders = tuple(f"{rng.choice(('info', 'no-reply', 'sales', 'user'))}{i}@{domain}"
                        for i in range(1 + int(rng.paretovariate(1.5))))
        ips = tuple(f"198.{18 + rank // 65_000}.{rank // 250 % 256}.{rank % 250 + i}"
                    for i in range(1 + rank % 3))
        found.append(Source(domain, senders[:40], ips, kind))
    weights, total = [], 0.0
    for rank in range(1, DOMAINS + 1):
        total += 1 / rank ** 1.1
        weights.append(total)
    return found, weights


def inbound_symbols(rng: random.Random, kind: str) -> list[str]:
    """The symbol names the checks would emit for one message from a `kind` source."""
    r = rng.random
    names: list[str] = []
    if kind == "good":
        names.append("SPF_PASS" if r() < 0.95 else "SPF_NONE")
        names.append("DKIM_VALID" if r() < 0.85 else "DKIM_NONE")
        names.append("DMARC_PASS" if r() < 0.75 else "DMARC_NONE")
        if r() < 0.15:
            names.append("C22_TECH_NO_TLS")
        if r() < 0.03:
            names.append("C22_FREQ_SENDER")  # a newsletter's morning burst
        if r() < 0.02:
            names.append("ALLOWLIST")
        return names
    if kind == "grey":
        names.append(rng.choice(("SPF_PASS", "SPF_SOFTFAIL", "SPF_NONE", "SPF_NONE")))
        names.append("DKIM_NONE" if r() < 0.7 else "DKIM_VALID")
        names.append("DMARC_NONE" if r() < 0.6 else "DMARC_FAIL_NONE")
        names += [n for n, p in (("C22_TECH_NO_PTR", 0.3), ("C22_TECH_DYNAMIC_PTR", 0.2),
                                 ("C22_TECH_HELO_NOT_FQDN", 0.2), ("C22_TECH_NO_TLS", 0.5),
                                 ("C22_FREQ_SENDER", 0.15), ("C22_UNRELATED_RATIO", 0.1),
                                 ("ADV_NO_OPTOUT", 0.2), ("C22_ONE_WAY", 0.2))
                  if r() < p]
        return names
    names.append("SPF_FAIL" if r() < 0.4 else rng.choice(("SPF_SOFTFAIL", "SPF_NONE")))
    names.append("DKIM_INVALID" if r() < 0.3 else "DKIM_NONE")
    names.append(rng.choice(("DMARC_FAIL_REJECT", "DMARC_FAIL_QUARANTINE", "DMARC_FAIL_NONE",
                             "DMARC_NONE")))
    names += [n for n, p in (("C22_FREQ_SENDER", 0.5), ("C22_FREQ_DOMAIN", 0.2),
                             ("C22_FREQ_IP", 0.2), ("C22_ONE_WAY", 0.5), ("C22_NO_MX", 0.15),
                             ("C22_UNRELATED_RATIO", 0.5), ("C22_TECH_NO_PTR", 0.4),
                             ("C22_TECH_MAILER", 0.2), ("C22_TECH_NO_MESSAGE_ID", 0.1),
                             ("C22_TECH_NO_TLS", 0.7), ("C22_COMPLAINTS", 0.1),
                             ("ADV_OVER_DAILY_LIMIT", 0.05), ("BLOCKLIST", 0.04))
              if r() < p]
    return names


class Verdicts:
    """Symbols JSON, score and action for a message, by thurac's own verdict rule (cached
    per set of names: only a few thousand combinations occur)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, ...], tuple[float, str]] = {}

    def __call__(self, names: list[str], sender: str, domain: str,
                 ip: str) -> tuple[str, float, str]:
        symbols = [Symbol(n, SCORES[n], REASONS[n].format(s=sender, d=domain, ip=ip))
                   for n in names]
        key = tuple(names)
        found = self._cache.get(key)
        if found is None:
            verdict = decide(symbols, ACTIONS)
            found = self._cache[key] = (verdict.score, verdict.action)
        return (json.dumps([{"name": s.name, "score": s.score, "reason": s.reason}
                            for s in symbols]), *found)


def moments(rng: random.Random, count: int, since: datetime,
            until: datetime) -> Iterator[datetime]:
    """`count` times between since and until in order, busier on working days and in
    Vietnam's working hours."""
    span = (until - since).total_seconds()
    days = max(1, round(span / 86_400))
    day_weights, total = [], 0.0
    for day in range(days):
        total += 0.4 if (since + timedelta(days=day)).weekday() >= 5 else 1.0
        day_weights.append(total)
    per_day = [0] * days
    for day in rng.choices(range(days), cum_weights=day_weights, k=count):
        per_day[day] += 1
    hours = [1, 1, 1, 1, 1, 2, 3, 5, 8, 9, 9, 8, 6, 8, 9, 9, 8, 6, 4, 3, 2, 2, 1, 1]
    hour_weights = [sum(hours[: i + 1]) for i in range(24)]
    # Vietnam is UTC+7: local hour h is UTC hour h-7.
    for day, n in enumerate(per_day):
        offsets = sorted(
            ((rng.choices(range(24), cum_weights=hour_weights)[0] - 7) % 24) * 3600
            + rng.random() * 3600 for _ in range(n))
        start = since + timedelta(days=day)
        for offset in offsets:
            moment = start + timedelta(seconds=offset)
            if moment < until:
                yield moment


def event_rows(rng: random.Random, count: int, since: datetime,
               until: datetime) -> Iterator[dict[str, Any]]:
    remote, weights = sources(rng)
    locals_ = [f"user{i}@example.vn" for i in range(LOCAL_USERS)]
    verdicts = Verdicts()
    for when in moments(rng, count, since, until):
        queue_id = f"{rng.getrandbits(44):011X}"
        if rng.random() < OUTBOUND:
            user = rng.choice(locals_)
            to = rng.choices(remote, cum_weights=weights)[0]
            yield dict(received_at=when, direction="outbound", queue_id=queue_id,
                       client_ip=f"10.0.{rng.randrange(4)}.{rng.randrange(2, 250)}",
                       client_name=None, helo="client.example.vn", tls_version="TLSv1.3",
                       auth_user=user, sender=user, sender_domain="example.vn",
                       header_from=user, message_id=f"<{queue_id}@example.vn>",
                       recipients=json.dumps([rng.choice(to.senders)]), recipient_count=1,
                       unrelated_count=0, score=None, action="accept", symbols="[]",
                       policy=None, overrides=None)
            continue
        source = rng.choices(remote, cum_weights=weights)[0]
        sender = rng.choice(source.senders)
        ip = rng.choice(source.ips)
        names = inbound_symbols(rng, source.kind)
        symbols, score, action = verdicts(names, sender, source.domain, ip)
        rcpts = rng.sample(locals_, 1 if rng.random() < 0.8 else rng.randrange(2, 12))
        yield dict(received_at=when, direction="inbound", queue_id=queue_id, client_ip=ip,
                   client_name=None if "C22_TECH_NO_PTR" in names else f"mx.{source.domain}",
                   helo=f"mx.{source.domain}",
                   tls_version=None if "C22_TECH_NO_TLS" in names else "TLSv1.3",
                   auth_user=None, sender=sender, sender_domain=source.domain,
                   header_from=sender, message_id=f"<{queue_id}@{source.domain}>",
                   recipients=json.dumps(rcpts), recipient_count=len(rcpts),
                   unrelated_count=len(rcpts) if "C22_UNRELATED_RATIO" in names else 0,
                   score=score, action=action, symbols=symbols, policy=None, overrides=None)


def follow_ups(rng: random.Random, row: dict[str, Any], until: datetime,
               complained: list[dict[str, Any]], released: list[dict[str, Any]]) -> None:
    """Now and then a user reports an inbound spam, or an operator releases a held message."""
    if row["direction"] != "inbound":
        return
    later = row["received_at"] + timedelta(minutes=rng.randrange(5, 600))
    if later >= until:
        return
    if row["action"] != "accept" and rng.random() < 0.004:
        trusted = rng.random() < 0.85
        complained.append(dict(
            received_at=later, reporter=json.loads(row["recipients"])[0], trusted=trusted,
            weight=1.0 if trusted else 0.3, kind=rng.choice(("user", "user", "arf:abuse")),
            method=rng.choice(("attachment", "trace", "arf")), sender=row["sender"],
            sender_domain=row["sender_domain"], client_ip=row["client_ip"],
            message_id=row["message_id"], event_id=None, report_queue_id=row["queue_id"],
            forwarded_at=later if rng.random() < 0.3 else None,
            evidence=f"From: {row['header_from']}\r\nSubject: offer\r\n"))
    elif row["action"] == "quarantine" and rng.random() < 0.02:
        released.append(dict(queue_id=row["queue_id"], event_id=None, released_at=later,
                             released_by="postmaster", sender=row["sender"],
                             recipients=row["recipients"]))


def generate(engine: Engine, count: int, days: int, seed: int, until: datetime) -> dict[str, int]:
    """Insert `count` events over the `days` before `until`; return the rows per table."""
    upgrade(engine)
    rng = random.Random(seed)
    since = until - timedelta(days=days)
    written = {"events": 0, "complaints": 0, "releases": 0}
    rows = event_rows(rng, count, since, until)
    done = False
    while not done:
        with engine.begin() as conn:
            in_transaction = 0
            while in_transaction < TRANSACTION:
                batch: list[dict[str, Any]] = []
                complained: list[dict[str, Any]] = []
                released: list[dict[str, Any]] = []
                for row in rows:
                    batch.append(row)
                    follow_ups(rng, row, until, complained, released)
                    if len(batch) == BATCH:
                        break
                else:
                    done = True
                if batch:
                    conn.execute(insert(events), batch)
                for table, extra in ((complaints, complained), (releases, released)):
                    if extra:
                        conn.execute(insert(table), extra)
                written["events"] += len(batch)
                written["complaints"] += len(complained)
                written["releases"] += len(released)
                in_transaction += len(batch)
                if done:
                    break
    return written


def _until(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--path", type=Path, help="a SQLite file (made if missing)")
    where.add_argument("--url", help="a SQLAlchemy URL, e.g. postgresql+psycopg2://…")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--until", type=_until, default=None, metavar="DATE",
                        help="the end of the period (default: now, UTC)")
    args = parser.parse_args(argv)
    if args.events < 1 or args.days < 1:
        parser.error("--events and --days must be at least 1")
    url = args.url or f"sqlite:///{args.path}"
    until = args.until or datetime.now(UTC)
    engine = make_engine(url, readers=1)
    started = time.perf_counter()
    try:
        written = generate(engine, args.events, args.days, args.seed, until)
    finally:
        engine.dispose()
    took = time.perf_counter() - started
    shown = engine.url.render_as_string(hide_password=True)
    print(f"gen_store: {written['events']} events, {written['complaints']} complaints, "
          f"{written['releases']} releases over {args.days} days into {shown} in {took:.1f} s "
          f"({written['events'] / took:,.0f} events/s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
