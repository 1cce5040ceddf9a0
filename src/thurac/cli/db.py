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
                      "least 180) and events older than database.event_days (default 400); "
                      "quarantine releases are kept. Run it daily from cron"))


def run(args: argparse.Namespace) -> int:
    from thurac.store.engine import current_revision, make_engine, open_existing, upgrade
    from thurac.store.retention import purge

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
        return 0
    finally:
        engine.dispose()
