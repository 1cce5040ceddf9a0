"""`thurac db upgrade | purge`: the history store's schema and retention."""

from __future__ import annotations

import argparse

from thurac.cli.common import config_arg, load

NAME = "db"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser(NAME, help="history store commands")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    config_arg(db_sub.add_parser("upgrade", help="create or migrate the schema"))
    config_arg(db_sub.add_parser(
        "purge", help="delete header-log entries older than database.header_log_days (at "
                      "least 180), events older than database.event_days (default 400), "
                      "rate buckets no window reads, and correspondents, senders and sent "
                      "Message-IDs not seen for database.correspondent_days (default 365); "
                      "quarantine releases are kept. Run it daily from cron"))


def run(args: argparse.Namespace) -> int:
    from thurac.history import bucket_minutes
    from thurac.store.engine import current_revision, make_engine, open_existing, upgrade
    from thurac.store.retention import purge, purge_counters

    settings, _ = load(args.config)
    # upgrade makes the store; purge works on one that exists
    opener = make_engine if args.db_command == "upgrade" else open_existing
    engine = opener(settings.database.url)
    url = engine.url.render_as_string(hide_password=True)
    try:
        if args.db_command == "upgrade":
            upgrade(engine)
            print(f"{url}: schema at revision {current_revision(engine)}")
            return 0
        retention = settings.database
        purged = purge(engine, retention.header_log_days, retention.event_days)
        print(f"{url}: purged {purged.header_log} header-log entries older than "
              f"{retention.header_log_days} days and {purged.events} events older than "
              f"{retention.event_days} days")
        counters = purge_counters(engine, bucket_minutes(settings),
                                  retention.correspondent_days)
        print(f"{url}: purged {counters.buckets} expired rate buckets, and "
              f"{counters.correspondents} correspondents, {counters.senders} senders and "
              f"{counters.sent_messages} sent Message-IDs not seen for "
              f"{retention.correspondent_days} days")
        return 0
    finally:
        engine.dispose()
