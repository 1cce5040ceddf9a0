"""Outbound account suspensions in the store: suspend, release, read (`thurac account`, the
hard limits of outbound/, and the cache every verdict reads them through)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from thurac.store.schema import accounts
from thurac.text import printable_text


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account's last suspension and its release (None: never released)."""

    account: str
    suspended: bool
    suspended_at: datetime
    suspended_by: str
    reason: str
    queue_id: str | None = None
    until: datetime | None = None
    released_at: datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None

    def active(self, now: datetime) -> bool:
        """Suspended at `now`: not released, and not past outbound.suspend_for."""
        return self.suspended and (self.until is None or now < self.until)

    def counts_from(self, now: datetime) -> datetime | None:
        """Where the account's windows start: at its release (by hand or by expiry), so the
        burst that suspended it does not suspend it again."""
        if self.suspended and self.until is not None and now >= self.until:
            return self.until
        return None if self.suspended else self.released_at


def _utc(when: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; every time thurac compares is in UTC."""
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)


def _text(value: str, limit: int) -> str:
    return printable_text(value).replace("\x00", "\ufffd")[:limit]


def _state(row: object) -> AccountState:
    r = row._mapping  # type: ignore[attr-defined]
    return AccountState(r["account"], bool(r["suspended"]), _utc(r["suspended_at"]) or
                        datetime.now(UTC), r["suspended_by"], r["reason"], r["queue_id"],
                        _utc(r["until"]), _utc(r["released_at"]), r["released_by"],
                        r["release_reason"])


def read_accounts(conn: Connection, only_suspended: bool = False) -> list[AccountState]:
    query = select(accounts).order_by(accounts.c.account)
    if only_suspended:
        query = query.where(accounts.c.suspended.is_(True))
    return [_state(row) for row in conn.execute(query)]


def account_state(engine: Engine, account: str) -> AccountState | None:
    with engine.connect() as conn:
        row = conn.execute(select(accounts).where(accounts.c.account == account)).first()
    return None if row is None else _state(row)


def suspend(engine: Engine, account: str, by: str, reason: str, *,
            queue_id: str | None = None, until: datetime | None = None,
            now: datetime | None = None) -> bool:
    """Suspend `account`; True when it was not suspended already (a suspension in force
    keeps its who, when and why)."""
    now = now or datetime.now(UTC)
    values = {"suspended": True, "suspended_at": now, "suspended_by": _text(by, 100),
              "reason": _text(reason, 500), "queue_id": queue_id and _text(queue_id, 64),
              "until": until, "released_at": None, "released_by": None,
              "release_reason": None}
    with engine.begin() as conn:
        row = conn.execute(select(accounts.c.suspended, accounts.c.until)
                           .where(accounts.c.account == account)).first()
        if row is not None:
            ends = _utc(row.until)
            if row.suspended and (ends is None or now < ends):
                return False
            conn.execute(update(accounts).where(accounts.c.account == account).values(**values))
            return True
    try:
        with engine.begin() as conn:
            conn.execute(accounts.insert().values(account=account, **values))
        return True
    except IntegrityError:  # another host suspended it in the meantime
        return False


def release(engine: Engine, account: str, by: str, reason: str,
            now: datetime | None = None) -> bool:
    """Lift `account`'s suspension; True when it was suspended (an expired one counts)."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        result = conn.execute(
            update(accounts).where(accounts.c.account == account,
                                   accounts.c.suspended.is_(True))
            .values(suspended=False, released_at=now, released_by=_text(by, 100),
                    release_reason=_text(reason, 500)))
    return bool(result.rowcount)
