"""The replay itself: the live store's stream, oldest first, into a scratch store that grows
as the live history grew; each inbound message in the range is judged against the scratch
history as it stood just before it, then learned from under its new verdict (held mail
teaches what it taught live: nothing different). Messages before the range are learned
from under the verdict they had, so the history the range starts from is the live one."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast, get_args

from sqlalchemy import Connection, Engine, event

from thurac import adverts
from thurac.config import Settings
from thurac.replay.rescore import Rescorer
from thurac.replay.source import StoredEvent, stream
from thurac.store.complaints import Complaint, add_complaint
from thurac.store.engine import make_engine, upgrade
from thurac.store.history import read_history
from thurac.store.record import Record
from thurac.store.recorder import write_records
from thurac.store.releases import Release, record_release
from thurac.verdict import Action, Verdict

FLUSH_EVERY = 500  # learned-from records buffered between history reads


@dataclass(frozen=True, slots=True)
class Replayed:
    event: StoredEvent
    verdict: Verdict  # what NEW.yaml decides


def _stored_verdict(event: StoredEvent, settings: Settings) -> Verdict | None:
    """The verdict an event had, as far as learning needs it (held outbound mail teaches
    nothing); outbound mail stored before it was scored had none."""
    if event.message.direction == "outbound" and event.score is None:
        return None
    action = cast(Action, event.action if event.action in get_args(Action) else "accept")
    return Verdict(event.score or 0.0, settings.actions.add_header, action, action,
                   event.symbols)


class Scratch:
    """A private SQLite store in a temporary directory, removed when closed."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="thurac-replay-")
        path = Path(self._dir.name) / "scratch.sqlite"
        self.engine: Engine = make_engine(f"sqlite:///{path}", readers=1)
        upgrade(self.engine)

        @event.listens_for(self.engine, "connect")
        def _scratch(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA synchronous = OFF")  # thrown away at the end anyway

        self.engine.dispose()  # the migration's connection had the durable settings

    def close(self) -> None:
        self.engine.dispose()
        self._dir.cleanup()


def replay(live: Connection, rescorer: Rescorer, since: datetime, until: datetime,
           progress: Callable[[], None] = lambda: None) -> Iterator[Replayed]:
    """Each inbound message stored in [since, until), judged again, oldest first."""
    settings = rescorer.settings
    is_local = settings.local.is_local_address
    scratch = Scratch()
    pending: list[Record] = []
    try:
        with scratch.engine.connect() as conn:

            # One long transaction: the connection reads its own writes; it commits only
            # for a release, which record_release writes on a connection of its own.
            def flush() -> None:
                if pending:
                    write_records(conn, pending, log=False)
                    pending.clear()

            for item in stream(live, until):
                if isinstance(item, Complaint):
                    flush()
                    add_complaint(conn, item)
                    continue
                if isinstance(item, Release):
                    flush()
                    conn.commit()
                    record_release(scratch.engine, item, is_local)
                    continue
                message = item.message
                facts = rescorer.facts_of(item)
                advert = facts.advert if settings.advertising.enabled else ""
                advertiser = adverts.advertiser(message) if advert else ""
                if message.direction != "inbound" or message.received_at < since:
                    # The stored count of unrelated recipients is all the counters need.
                    pending.append(Record(message, _stored_verdict(item, rescorer.live),
                                          message.recipients[:item.unrelated_count], is_local,
                                          advertiser))
                    if len(pending) >= FLUSH_EVERY:
                        flush()
                    continue
                flush()
                history = read_history(conn, message, settings, advertiser)
                verdict = rescorer.judge(item, history, facts)
                pending.append(Record(message, verdict, history.unrelated(message.recipients),
                                      is_local, advertiser))
                progress()
                yield Replayed(item, verdict)
            flush()
    finally:
        scratch.close()
