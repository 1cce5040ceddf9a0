"""What the header fields of a reported message tell: its sender, the originating IP, its
Message-ID, and our own trace (the queue ids our Postfix hops gave it), by which the caller
finds the event we stored when it arrived. Shared by the ARF, attachment and forward readers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header, make_header

from thurac.feedback.received import (
    Hop,
    Network,
    host_names,
    originating_ip,
    our_arrival,
    parse_hops,
    queue_ids,
)
from thurac.feedback.report import Limits, Method, Reported
from thurac.message import Connection, Message, domain_of, normalize_address, parsed_addresses
from thurac.text import printable_text, sanitize

MAX_DATE = 100  # bytes of a date kept as given (an RFC 5322 date takes about 40)
MAX_ADDRESS = 254  # bytes: RFC 5321's path limit; a longer "address" is junk
MAX_ADDRESS_TEXT = 4096  # characters of a value searched for an address (the search
# backtracks up to MAX_ADDRESS characters at each position: a 1 MB value would cost seconds)
_ANGLE = re.compile(r"<\s*(?:mailto:)?([^<>\s]{1,254}@[^<>\s]{1,254})\s*>", re.IGNORECASE)
_MAILTO = re.compile(r"\[\s*mailto:([^\[\]\s]{1,254}@[^\[\]\s]{1,254})\s*\]", re.IGNORECASE)
_BARE = re.compile(r"[^\s<>\[\]()\"',;:]{1,254}@[^\s<>\[\]()\"',;:]{1,254}")


@dataclass(frozen=True, slots=True)
class Site:
    """How to tell our own hops from others' in Received lines."""

    hosts: frozenset[str] = frozenset()  # our MX and relay host names
    internal_networks: tuple[Network, ...] = ()
    ignore_private: bool = False  # skip private and loopback clients as if internal

    @classmethod
    def of(cls, hosts: Sequence[str], networks: Sequence[Network],
           ignore_private: bool = False) -> Site:
        return cls(host_names(hosts), tuple(networks), ignore_private)

    def origin(self, hops: Sequence[Hop]) -> str:
        return originating_ip(hops, internal_networks=self.internal_networks,
                              ignore_private=self.ignore_private)

    def queue_ids(self, hops: Sequence[Hop]) -> tuple[str, ...]:
        return queue_ids(hops, our_hosts=self.hosts, internal_networks=self.internal_networks,
                         ignore_private=self.ignore_private)

    def arrival(self, hops: Sequence[Hop]) -> str:
        return our_arrival(hops, our_hosts=self.hosts, internal_networks=self.internal_networks,
                           ignore_private=self.ignore_private)


def valid_address(value: str) -> str:
    """`value` normalised if it looks like one mailbox (one @, both sides, no blank), else ''."""
    address = normalize_address(value).rstrip(".")
    local, at, domain = address.rpartition("@")
    if (not at or not local or not domain or "@" in local
            or any(ch.isspace() for ch in address) or len(address.encode()) > MAX_ADDRESS):
        return ""
    return address


def address_in(value: str) -> str:
    """The first address in free text as mail clients quote it: `Name <addr>`, `<mailto:addr>`,
    `Name [mailto:addr]` (Outlook), or a bare `addr`; '' when there is none."""
    text = value[:MAX_ADDRESS_TEXT]
    for pattern in (_ANGLE, _MAILTO, _BARE):
        for found in pattern.finditer(text):
            address = valid_address(found[1] if pattern.groups else found[0])
            if address:
                return address
    return ""


def header_address(values: Sequence[str]) -> str:
    """The first address of address header values (From, Return-Path). A value the address
    parser cannot read, or one that hides its address in an RFC 2047 encoded word (a
    spammer's trick against filters that match From), is read as free text after decoding."""
    for _, addr in parsed_addresses([v[:MAX_ADDRESS_TEXT] for v in values]):
        address = valid_address(addr)
        if address:
            return address
    for whole in values:
        value = whole[:MAX_ADDRESS_TEXT]
        text = value
        if "=?" in value:
            try:
                text = str(make_header(decode_header(value)))
            except (HeaderParseError, UnicodeError, LookupError, ValueError):
                text = value
        address = address_in(text)
        if address:
            return address
    return ""


def date_text(value: str) -> str:
    """A date as given, on one line and bounded (it is sender-controlled text)."""
    return sanitize(value, MAX_DATE)


def bounded_text(text: str, limit: int) -> str:
    """Valid text without NUL (as the header log keeps it), cut to `limit` bytes at a
    character boundary."""
    block = printable_text(text).replace("\x00", "\ufffd")
    encoded = block.encode("utf-8")
    return block if len(encoded) <= limit else encoded[:limit].decode("utf-8", "ignore")


def describe(headers: Sequence[tuple[str, str]], site: Site, limits: Limits,
             method: Method) -> Reported:
    """A reported message as its header fields describe it, found by `method`."""
    message = Message(connection=Connection(client_ip=""), sender="", recipients=(),
                      headers=tuple(headers))
    hops = parse_hops(message.header_values("Received"), limits.max_received)
    header_from = header_address(message.header_values("From"))
    sender = header_address(message.header_values("Return-Path")[:1]) or header_from
    problems = () if headers else ("reported message has no header fields",)
    return Reported(
        sender=sender,
        from_domain=domain_of(header_from or sender),
        client_ip=site.origin(hops),
        message_id=message.message_id or "",
        queue_ids=site.queue_ids(hops),
        method=method,
        arrival_date=date_text(site.arrival(hops)
                               or message.first_header("Date") or ""),
        evidence=bounded_text(message.header_block(), limits.max_evidence),
        problems=problems,
    )


def has_our_trace(headers: Sequence[tuple[str, str]], site: Site, limits: Limits) -> bool:
    """Whether a message passed one of our hosts: a Received hop of ours with a queue id."""
    values = [v for n, v in headers if n.lower() == "received"]
    return bool(site.queue_ids(parse_hops(values, limits.max_received)))
