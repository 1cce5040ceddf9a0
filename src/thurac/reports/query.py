"""The numbers of a statistics report (Decree 91/2020 art. 10.7), from aggregate SQL only:
GROUP BY day and action over the events table, never events loaded into Python. Every
format (text, JSON, CSV, HTML) renders this one value, so they always agree."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Connection, and_, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from thurac.store.schema import complaints, events, releases

ACTIONS = ("accept", "add_header", "quarantine", "reject", "tempfail", "on_error")
# The report's criterion keys → the symbols that flag them (by name prefix).
CRITERIA: dict[str, tuple[str, ...]] = {
    "frequency": ("C22_FREQ_",),
    "one_way_source": ("C22_ONE_WAY", "C22_NO_MX"),
    "unrelated_recipients": ("C22_UNRELATED_",),
    "technology": ("C22_TECH_",),
    "complaints": ("C22_COMPLAINTS",),
    "advertising": ("ADV_",),
}
AUTH = {"spf": ("SPF_PASS", "SPF_FAIL"), "dkim": ("DKIM_VALID", "DKIM_INVALID"),
        "dmarc": ("DMARC_PASS", "DMARC_FAIL_")}
LISTS = {"allow": ("ALLOWLIST",), "block": ("BLOCKLIST", "DNSBL_")}
TOP = 10


def _has(prefixes: tuple[str, ...]) -> ColumnElement[bool]:
    """The event's symbols (JSON text) name a symbol starting with one of `prefixes`."""
    return or_(*(events.c.symbols.like(f'%"name": "{p}%') for p in prefixes))


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


@dataclass(frozen=True)
class Criterion:
    flagged: int = 0  # inbound messages it flagged
    stopped: int = 0  # of those, how many ended rejected or quarantined


@dataclass(frozen=True)
class Source:
    key: str
    messages: int
    mean_score: float


@dataclass(frozen=True)
class Day:
    day: str  # YYYY-MM-DD (UTC)
    actions: dict[str, int]  # inbound and outbound messages by action
    criteria: dict[str, int]
    outbound: int


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    messages: dict[str, int]  # direction → count
    actions: dict[str, int]  # inbound action → count
    criteria: dict[str, Criterion]
    auth: dict[str, dict[str, int]]  # method → {"pass": n, "fail": n}
    lists: dict[str, int]
    complaints: dict[str, int]  # received, trusted, forwarded
    releases: int
    top_sources: dict[str, dict[str, list[Source]]]  # kind → {"by_volume", "by_score"}
    per_day: list[Day] = field(default_factory=list)


def _day(conn: Connection) -> ColumnElement[str]:
    if conn.dialect.name == "postgresql":
        return func.to_char(events.c.received_at, "YYYY-MM-DD")
    return func.substr(events.c.received_at, 1, 10)


def build(conn: Connection, since: datetime, until: datetime) -> Report:
    window = and_(events.c.received_at >= since, events.c.received_at < until)
    inbound = and_(window, events.c.direction == "inbound")
    stopped = events.c.action.in_(("reject", "quarantine"))

    messages = {d: int(n) for d, n in conn.execute(
        select(events.c.direction, func.count()).where(window).group_by(events.c.direction))}
    actions = {a: 0 for a in ACTIONS[:5]}
    actions.update({a: int(n) for a, n in conn.execute(
        select(events.c.action, func.count()).where(inbound).group_by(events.c.action))})

    columns: list[ColumnElement[int]] = []
    for prefixes in CRITERIA.values():
        columns += [_count(_has(prefixes)), _count(and_(_has(prefixes), stopped))]
    for names in AUTH.values():
        columns += [_count(_has(names[:1])), _count(_has(names[1:]))]
    columns += [_count(_has(p)) for p in LISTS.values()]
    row = conn.execute(select(*columns).where(inbound)).one()
    values = [int(v or 0) for v in row]
    criteria = {key: Criterion(values[2 * i], values[2 * i + 1])
                for i, key in enumerate(CRITERIA)}
    offset = 2 * len(CRITERIA)
    auth = {method: {"pass": values[offset + 2 * i], "fail": values[offset + 2 * i + 1]}
            for i, method in enumerate(AUTH)}
    offset += 2 * len(AUTH)
    lists = {key: values[offset + i] for i, key in enumerate(LISTS)}

    c = complaints.c
    in_range = and_(c.received_at >= since, c.received_at < until)
    got = conn.execute(select(func.count(), _count(c.trusted.is_(True)),
                              _count(c.forwarded_at.is_not(None))).where(in_range)).one()
    complained = {"received": int(got[0] or 0), "trusted": int(got[1] or 0),
                  "forwarded": int(got[2] or 0)}
    released = int(conn.execute(select(func.count()).select_from(releases).where(
        releases.c.released_at >= since, releases.c.released_at < until)).scalar() or 0)

    top: dict[str, dict[str, list[Source]]] = {}
    for kind, column in (("address", events.c.sender), ("domain", events.c.sender_domain),
                         ("ip", events.c.client_ip)):
        base = (select(column, func.count().label("n"), func.avg(events.c.score).label("s"))
                .where(inbound, column != "").group_by(column))
        by_volume = conn.execute(base.order_by(func.count().desc(), column).limit(TOP))
        by_score = conn.execute(base.order_by(func.avg(events.c.score).desc(), column)
                                .limit(TOP))
        top[kind] = {
            "by_volume": [Source(k, int(n), round(float(s or 0), 2)) for k, n, s in by_volume],
            "by_score": [Source(k, int(n), round(float(s or 0), 2)) for k, n, s in by_score],
        }

    day = _day(conn).label("day")
    daily = conn.execute(
        select(day, *(_count(events.c.action == a) for a in ACTIONS[:5]),
               *(_count(_has(p)) for p in CRITERIA.values()),
               _count(events.c.direction == "outbound"))
        .where(window).group_by(day).order_by(day))
    per_day: list[Day] = []
    for line in daily:
        cells = [int(v or 0) for v in line[1:]]
        per_day.append(Day(str(line[0]), dict(zip(ACTIONS[:5], cells[:5], strict=True)),
                           dict(zip(CRITERIA, cells[5:5 + len(CRITERIA)], strict=True)),
                           cells[-1]))
    return Report(since, until, {"inbound": messages.get("inbound", 0),
                                 "outbound": messages.get("outbound", 0)},
                  actions, criteria, auth, lists, complained, released, top, per_day)


def month(period: str) -> tuple[datetime, datetime]:
    """'2026-11' → the first instant of November 2026 and of December (UTC)."""
    try:
        first = date.fromisoformat(f"{period}-01")
    except ValueError:
        raise ValueError(f"--period {period!r}: expected a month such as 2026-11") from None
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (datetime(first.year, first.month, 1, tzinfo=UTC),
            datetime(following.year, following.month, 1, tzinfo=UTC))
