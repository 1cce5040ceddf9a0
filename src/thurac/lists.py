"""Allow/block list entries as values (Decree 91/2020 art. 10.3): the kinds, and the one
parser that normalises and validates a value, shared by the YAML `lists:` section, the
store's `lists` table and `thurac list`. Matching is in policy/lists.py."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args

from thurac.domains import normal_domain
from thurac.message import normalize_address

ListName = Literal["allow", "block"]
Kind = Literal["address", "domain", "from-domain", "ip", "helo"]
LIST_NAMES: tuple[ListName, ...] = get_args(ListName)
KINDS: tuple[Kind, ...] = get_args(Kind)

MAX_VALUE = 320  # the store's column; an address is at most 320 octets (RFC 5321 4.5.3.1)
MAX_REASON = 500
MAX_BY = 100
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


class EntryError(ValueError):
    """A list entry that cannot be used, in words an operator can act on."""


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One entry; `value` is normalised (lower case; a network in CIDR form)."""

    list: ListName
    kind: Kind
    value: str
    reason: str = ""
    added_by: str = ""
    added_at: datetime | None = None
    expires_at: datetime | None = None
    source: str = "yaml"  # "yaml", or "store" for entries managed with `thurac list`
    recipient: str = ""  # "": for everyone; else the one recipient it is for (an opt-out)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def describe(self) -> str:
        """The entry as a reason names it: list, kind, value, the operator's reason, origin."""
        why = f" ({self.reason})" if self.reason else ""
        by = f" by {self.added_by}" if self.added_by else ""
        only = f" for {self.recipient}" if self.recipient else ""
        return f"{self.list} {self.kind} {self.value}{only}{why} [{self.source}{by}]"


def _domain(value: str, what: str) -> str:
    """A domain, or `.domain` for it and its subdomains; IDNs in A-label form."""
    text = value.strip().lower()
    dotted = text.startswith(".")
    name = normal_domain(text.removeprefix("."))
    if not name:
        raise EntryError(f"empty {what}")
    labels = name.split(".")
    if "@" in name or not all(_LABEL.match(label) for label in labels):
        raise EntryError(f"{value!r} is not a {what} (letters, digits, hyphens, dots; "
                         f"'.example.com' for a domain and its subdomains)")
    return ("." if dotted else "") + name


def _network(value: str) -> str:
    text = value.strip()
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise EntryError(f"{value!r} is not an IP address or CIDR network "
                             f"(192.0.2.1, 192.0.2.0/24, 2001:db8::/32): {exc}") from None
        raise EntryError(f"{value!r} has host bits set; did you mean {loose}?") from None
    return str(network)


def normal_value(kind: str, value: str) -> str:
    """`value` normalised for `kind`, or EntryError saying what was expected."""
    if kind not in KINDS:
        raise EntryError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not value.strip():
        raise EntryError(f"empty {kind}")
    if len(value) > MAX_VALUE:
        raise EntryError(f"{kind} longer than {MAX_VALUE} characters")
    if kind == "address":
        address = normalize_address(value)
        local, at, domain = address.rpartition("@")
        if not at or not local or " " in address:
            raise EntryError(f"{value!r} is not an address (user@example.com)")
        return f"{local}@{_domain(domain, 'domain')}"
    if kind == "ip":
        return _network(value)
    return _domain(value, "host name" if kind == "helo" else "domain")


def parse_expiry(value: str | date | datetime | None, now: datetime) -> datetime | None:
    """A duration from now (30d, 12h, 90m) or a date/time (2027-01-31, ISO 8601); in the
    future. None: never expires."""
    if value is None or value == "":
        return None
    when: datetime
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        text = str(value).strip()
        span = parse_duration(text)
        if span is not None:
            when = now + span
        else:
            try:
                when = datetime.fromisoformat(text)
            except ValueError:
                raise EntryError(f"expiry {text!r}: expected a duration (30d, 12h, 90m) "
                                 "or a date (2027-01-31)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when <= now:
        raise EntryError(f"expiry {when.isoformat()} is in the past")
    return when


_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta | None:
    """'30d' → 30 days; None when `text` is not a duration."""
    found = _DURATION.match(text.strip().lower())
    if found is None:
        return None
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def make_entry(list_name: str, kind: str, value: str, *, reason: str = "", added_by: str = "",
               expires: str | date | datetime | None = None, now: datetime | None = None,
               source: str = "store", recipient: str = "") -> ListEntry:
    """A validated entry (EntryError says what is wrong; nothing is half-made)."""
    if list_name not in LIST_NAMES:
        raise EntryError(f"unknown list {list_name!r}; expected allow or block")
    moment = now or datetime.now(UTC)
    if len(reason) > MAX_REASON:
        raise EntryError(f"reason longer than {MAX_REASON} characters")
    if len(added_by) > MAX_BY:
        raise EntryError(f"--by longer than {MAX_BY} characters")
    only = normal_value("address", recipient) if recipient else ""
    return ListEntry(list_name, kind, normal_value(kind, value),  # type: ignore[arg-type]
                     reason, added_by, moment, parse_expiry(expires, moment), source, only)
