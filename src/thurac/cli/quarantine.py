"""`thurac quarantine list | release | delete`: Postfix's hold queue with the reasons from the
store (Postfix keeps none with a held message). A release is a false positive: it is recorded,
and makes the sender a correspondent of the local recipients."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from thurac.cli.common import config_arg, load
from thurac.config import Settings
from thurac.errors import PostfixError, StoreError

if TYPE_CHECKING:  # the store and SQLAlchemy load only when the command runs
    from sqlalchemy import Engine

    from thurac.quarantine import Postfix, QueuedMessage
    from thurac.store.releases import StoredVerdict

NAME = "quarantine"
TOP_SYMBOLS = 3  # symbols shown per message in the text listing (--json gives them all)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    quarantine = sub.add_parser(NAME, help="held messages: list them with thurac's reasons, "
                                           "release or delete them")
    q_sub = quarantine.add_subparsers(dest="quarantine_command", required=True)
    listing = q_sub.add_parser("list", help="messages in Postfix's hold queue, with score and "
                                            "symbols from the store")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    config_arg(listing)
    release = q_sub.add_parser("release", help="deliver held messages now; the sender becomes "
                                               "a correspondent of the local recipients")
    release.add_argument("queue_ids", nargs="+", metavar="QUEUE_ID")
    release.add_argument("--by", default=None, metavar="NAME",
                         help="who released (default: your login name, $SUDO_USER, or 'cli')")
    config_arg(release)
    delete = q_sub.add_parser("delete", help="delete held messages")
    delete.add_argument("queue_ids", nargs="+", metavar="QUEUE_ID")
    config_arg(delete)


def run(args: argparse.Namespace) -> int:
    from thurac.quarantine import Postfix

    settings, _ = load(args.config)
    postfix = Postfix.from_settings(settings.postfix)
    try:
        if args.quarantine_command == "list":
            return _list(settings, postfix, args.json)
        if args.quarantine_command == "release":
            return _release(settings, postfix, args.queue_ids, args.by or operator())
        return _delete(postfix, args.queue_ids)
    except PostfixError as exc:
        _error(str(exc))
        return 1


def operator() -> str:
    """Who is at the keyboard: the login name, else sudo's caller, else 'cli'."""
    try:
        return os.getlogin()
    except OSError:
        return os.environ.get("SUDO_USER") or "cli"


def _error(text: str) -> None:
    print(f"thurac quarantine: {text}", file=sys.stderr)


def _verdicts(settings: Settings, held: Iterable[QueuedMessage]) -> dict[str, StoredVerdict]:
    """The stored verdicts of `held`; none (with a warning) when the store cannot be read,
    so the hold queue is still shown."""
    from sqlalchemy.exc import SQLAlchemyError

    from thurac.store.engine import database_file, make_engine
    from thurac.store.releases import stored_verdicts

    arrivals = {m.queue_id: m.arrival_time for m in held}
    if not arrivals:
        return {}
    path = database_file(settings.database.url)
    if path is not None and not path.exists():  # reading must not create an empty store
        _error(f"store not read, reasons unknown: {path} does not exist")
        return {}
    try:
        engine = make_engine(settings.database.url, create=False, readers=1,
                             connect_timeout=settings.database.connect_timeout)
    except StoreError as exc:
        _error(f"store not read, reasons unknown: {exc}")
        return {}
    try:
        with engine.connect() as conn:
            return stored_verdicts(conn, arrivals)
    except SQLAlchemyError as exc:
        _error(f"store not read, reasons unknown: {getattr(exc, 'orig', None) or exc}")
        return {}
    finally:
        engine.dispose()


def _list(settings: Settings, postfix: Postfix, as_json: bool) -> int:
    held = postfix.held()
    verdicts = _verdicts(settings, held)
    now = datetime.now(UTC)
    if as_json:
        print(json.dumps([_entry(m, verdicts.get(m.queue_id), now) for m in held], indent=2))
        return 0
    if not held:
        print("no messages on hold")
        return 0
    for message in held:
        verdict = verdicts.get(message.queue_id)
        print(f"{message.queue_id}  held {age_text(message.age_seconds(now))}  "
              f"score {_score(verdict)}  from <{message.sender}>  "
              f"to {', '.join(message.recipients) or '(none left)'}")
        if verdict is None:
            print("    no verdict stored: not held by thurac, or its history is not "
                  "written yet")
            continue
        for symbol in verdict.symbols[:TOP_SYMBOLS]:
            print(f"    {symbol.score:6.2f}  {symbol.name}: {symbol.reason}")
        if len(verdict.symbols) > TOP_SYMBOLS:
            print(f"    … {len(verdict.symbols) - TOP_SYMBOLS} more (--json shows all)")
    print(f"{len(held)} message(s) on hold")
    return 0


def _score(verdict: StoredVerdict | None) -> str:
    return "-" if verdict is None or verdict.score is None else f"{verdict.score:.1f}"


def _entry(message: QueuedMessage, verdict: StoredVerdict | None,
           now: datetime) -> dict[str, object]:
    return {
        "queue_id": message.queue_id,
        "arrival_time": message.arrival_time.isoformat(),
        "age_seconds": message.age_seconds(now),
        "sender": message.sender,
        "recipients": list(message.recipients),
        "message_size": message.message_size,
        "score": None if verdict is None else verdict.score,
        "action": None if verdict is None else verdict.action,
        "symbols": [] if verdict is None else verdict.symbol_names,
        "reasons": [] if verdict is None else [
            {"name": s.name, "score": s.score, "reason": s.reason} for s in verdict.symbols],
        "event_id": None if verdict is None else verdict.event_id,
    }


def age_text(seconds: int) -> str:
    """45s, 3m12s, 2h05m, 3d04h: how long a message has been held, in two units at most."""
    minutes, secs = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    if days:
        return f"{days}d{hrs:02d}h"
    if hours:
        return f"{hours}h{mins:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _held_ones(postfix: Postfix, queue_ids: Iterable[str]) -> tuple[list[QueuedMessage], bool]:
    """The held messages among `queue_ids` (each named once, in the order given), and whether
    every id was one; each other id is an error on stderr. Only well-formed ids are looked up."""
    from thurac.quarantine import QUEUE_ID_MAX, valid_queue_id

    wanted, ok = [], True
    for queue_id in dict.fromkeys(queue_ids):
        if valid_queue_id(queue_id):
            wanted.append(queue_id)
        else:
            _error(f"{queue_id!r}: not a Postfix queue id (at most {QUEUE_ID_MAX} letters and "
                   "digits)")
            ok = False
    held = {m.queue_id: m for m in postfix.held()} if wanted else {}
    found = []
    for queue_id in wanted:
        if queue_id in held:
            found.append(held[queue_id])
        else:
            _error(f"{queue_id}: not in the hold queue")
            ok = False
    return found, ok


def _release(settings: Settings, postfix: Postfix, queue_ids: list[str], by: str) -> int:
    held, ok = _held_ones(postfix, queue_ids)
    if not held:
        return 0 if ok else 1
    verdicts = _verdicts(settings, held)
    engine = _writable_store(settings)
    try:
        for message in held:
            ok = _release_one(settings, postfix, engine, message,
                              verdicts.get(message.queue_id), by) and ok
    finally:
        if engine is not None:
            engine.dispose()
    return 0 if ok else 1


def _writable_store(settings: Settings) -> Engine | None:
    """The store, migrated; None (with the reason on stderr) when it is not ready: the mail
    is released all the same, a release must not wait for the database."""
    from thurac.store.engine import make_engine, upgrade

    try:
        engine = make_engine(settings.database.url, readers=1,
                             connect_timeout=settings.database.connect_timeout)
    except StoreError as exc:
        _error(f"store not ready, releases are not recorded: {exc}")
        return None
    try:
        upgrade(engine)
    except StoreError as exc:
        engine.dispose()
        _error(f"store not ready, releases are not recorded: {exc}")
        return None
    return engine


def _release_one(settings: Settings, postfix: Postfix, engine: Engine | None,
                 message: QueuedMessage, verdict: StoredVerdict | None, by: str) -> bool:
    """Release, record, deliver now; False (with the reason on stderr) if any step failed."""
    from sqlalchemy.exc import SQLAlchemyError

    from thurac.quarantine import release_of
    from thurac.store.releases import record_release

    queue_id = message.queue_id
    try:
        if not postfix.release(queue_id):
            _error(f"{queue_id}: not in the hold queue (any more)")
            return False
    except PostfixError as exc:
        _error(str(exc))
        return False
    release = release_of(message, verdict, by, datetime.now(UTC))
    recorded = False
    if engine is not None:
        try:
            record_release(engine, release, settings.local.is_local_address)
            recorded = True
        except SQLAlchemyError as exc:
            _error(f"{queue_id}: released, but not recorded in the store: "
                   f"{getattr(exc, 'orig', None) or exc}")
    try:
        postfix.deliver_now(queue_id)
        leaves = "delivery started"
    except PostfixError as exc:
        _error(f"{queue_id}: released; it leaves at the next queue run ({exc})")
        leaves = "it leaves at the next queue run"
    local = [r for r in release.recipients if settings.local.is_local_address(r)]
    learned = (f"; <{release.sender}> now counts as a correspondent of {', '.join(local)}"
               if recorded and release.sender and local else "")
    print(f"{queue_id}: released by {by}, {leaves}{learned}")
    return recorded


def _delete(postfix: Postfix, queue_ids: list[str]) -> int:
    held, ok = _held_ones(postfix, queue_ids)
    for message in held:
        try:
            deleted = postfix.delete(message.queue_id)
        except PostfixError as exc:
            _error(str(exc))
            ok = False
            continue
        if deleted:
            print(f"{message.queue_id}: deleted")
        else:
            _error(f"{message.queue_id}: not in the hold queue (any more)")
            ok = False
    return 0 if ok else 1
