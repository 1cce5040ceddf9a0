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
        "purge", help="delete header-log entries and events older than "
                      "database.header_log_days (at least 180)"))


def run(args: argparse.Namespace) -> int:
    from thurac.store.engine import current_revision, make_engine, upgrade
    from thurac.store.retention import purge

    settings, _ = load(args.config)
    engine = make_engine(settings.database.url)
    url = engine.url.render_as_string(hide_password=True)
    try:
        if args.db_command == "upgrade":
            upgrade(engine)
            print(f"{url}: schema at revision {current_revision(engine)}")
            return 0
        days = settings.database.header_log_days
        purged = purge(engine, days)
        print(f"{url}: purged {purged.header_log} header-log entries and {purged.events} "
              f"events older than {days} days")
        return 0
    finally:
        engine.dispose()
