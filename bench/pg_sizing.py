"""Bytes per message on PostgreSQL, for docs/scaling.md: a private server filled by the
recorder's own writer with messages shaped like real inbound mail (a 2-3 KB header block,
a few recipients, five symbols with reasons, many senders), then each table's size on disk
(indexes and TOAST included) divided by the messages.

    .venv/bin/python bench/pg_sizing.py --messages 20000
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from tests.support.postgres import TemporaryPostgres  # noqa: E402

from thurac.config import parse_settings  # noqa: E402
from thurac.message import Connection, Message  # noqa: E402
from thurac.store.engine import make_engine, upgrade  # noqa: E402
from thurac.store.record import Record  # noqa: E402
from thurac.store.recorder import BATCH, write_records  # noqa: E402
from thurac.symbols import Symbol  # noqa: E402
from thurac.verdict import decide  # noqa: E402

SENDERS = 2000  # distinct senders: most spam and most mail come from many addresses
TABLES = ("events", "header_log", "rate_buckets", "senders", "correspondents")
START = datetime(2026, 11, 23, tzinfo=UTC)


def headers(n: int, sender: str, rcpt: str) -> tuple[tuple[str, str], ...]:
    relay = f"mail{n % 97}.bulk{n % 13}.test"
    return (
        ("Received", f"from {relay} ({relay} [203.0.113.{n % 250}]) by mx.example.test "
                     f"(Postfix) with ESMTPS id 4Y2Kq70Zf{n:06d} for <{rcpt}>; "
                     "Mon, 23 Nov 2026 10:00:00 +0700 (ICT)"),
        ("Received", f"from [10.1.{n % 200}.7] by {relay} with ESMTPSA id x{n}; "
                     "Mon, 23 Nov 2026 03:00:00 +0000"),
        ("DKIM-Signature", "v=1; a=rsa-sha256; c=relaxed/relaxed; d=bulk.test; s=s1; "
                           "h=from:to:subject:date:message-id; bh=" + "A" * 44 + "; b="
                           + "B" * 344),
        ("Authentication-Results", f"{relay}; spf=pass smtp.mailfrom={sender}"),
        ("From", f"Newsletter <{sender}>"), ("To", rcpt),
        ("Subject", f"Khuyen mai dac biet so {n} - uu dai cuoi tuan"),
        ("Date", "Mon, 23 Nov 2026 10:00:00 +0700"),
        ("Message-ID", f"<{n}.{n * 7919}@{relay}>"), ("MIME-Version", "1.0"),
        ("Content-Type", 'multipart/alternative; boundary="b1_' + "c" * 40 + '"'),
        ("List-Unsubscribe", f"<mailto:unsubscribe-{n}@bulk.test>, <https://bulk.test/u/{n}>"),
        ("X-Mailer", "PHPMailer 6.9.1 (https://github.com/PHPMailer/PHPMailer)"),
    )


def fill(url: str, messages: int) -> None:
    settings = parse_settings({"local": {"domains": ["example.test"]}})
    symbols = [Symbol("C22_FREQ_SENDER", 5.0, "sender s@bulk.test: 47 msgs/1h > 30"),
               Symbol("C22_UNRELATED_RATIO", 5.0,
                      "12/14 recipients unrelated (86% >= 80%) in 1d"),
               Symbol("C22_TECH_NO_TLS", 0.5, "no TLS"),
               Symbol("SPF_PASS", 0.0, "spf=pass smtp.mailfrom=bulk.test"),
               Symbol("DKIM_VALID", 0.0, "d=bulk.test s=s1")]
    verdict = decide(symbols, settings.actions)
    engine = make_engine(url)
    upgrade(engine)
    batch: list[Record] = []
    for n in range(messages):
        sender = f"news{n % SENDERS}@bulk{n % 13}.test"
        rcpts = tuple(f"user{(n + k) % 5000}@example.test" for k in range(1 + n % 3))
        msg = Message(Connection(f"203.0.113.{n % 250}", f"mail{n % 97}.bulk.test",
                                 f"mail{n % 97}.bulk.test", "TLSv1.3"),
                      sender, rcpts, headers(n, sender, rcpts[0]), b"",
                      queue_id=f"4Y2Kq70Zf{n:06d}",
                      received_at=START + timedelta(seconds=n * 4))
        batch.append(Record(msg, verdict, rcpts, settings.local.is_local_address))
        if len(batch) == BATCH:
            with engine.begin() as conn:
                write_records(conn, batch)
            batch = []
    if batch:
        with engine.begin() as conn:
            write_records(conn, batch)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        total = 0
        for table in TABLES:
            size = int(conn.execute(text("SELECT pg_total_relation_size(:t)"),
                                    {"t": table}).scalar_one())
            total += size
            print(f"{table:15} {size / 1e6:8.1f} MB {size / messages:7.0f} bytes/message")
        print(f"{'all':15} {total / 1e6:8.1f} MB {total / messages:7.0f} bytes/message "
              f"({messages} messages, {SENDERS} senders)")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    args = parser.parse_args()
    with TemporaryPostgres() as server:
        fill(server.url_for(server.database, driver="psycopg"), args.messages)


if __name__ == "__main__":
    main()
