"""Everything known about one message, as immutable values, and the builder the milter fills."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import getaddresses
from functools import lru_cache
from typing import Literal

from thurac.text import printable_text

Direction = Literal["inbound", "outbound"]

_MSGID_RE = re.compile(r"<([^<>\s]{1,500})>")


# What separates addresses when the full parser gives up on a hostile header value.
_ADDRESS_DELIMITERS = re.compile(r"[\s<>()\[\],;:\"\\]+")


def parsed_addresses(values: list[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs of address header values. The standard library's parser
    recurses once per nested comment, so "From: ((((…" a few thousand deep raises
    RecursionError: such a value is read for its bare addresses instead."""
    try:
        return getaddresses(values)
    except (RecursionError, ValueError):
        # One pass over the text (a search for local@domain would rescan long runs).
        return [("", token) for value in values for token in _ADDRESS_DELIMITERS.split(value)
                if token.count("@") == 1 and not token.startswith("@")
                and not token.endswith("@")]


def normalize_address(address: str) -> str:
    """Strip angle brackets and blanks and lowercase, so one mailbox has one key."""
    return printable_text(address).strip().strip("<>").strip().lower()


def domain_of(address: str) -> str:
    """The domain part of an address ('' for the null sender or a bare local part)."""
    _, _, domain = address.rpartition("@")
    return domain.rstrip(".").lower() if "@" in address else ""


def message_ids(value: str) -> tuple[str, ...]:
    """The <id> tokens of a Message-ID, In-Reply-To or References header, lowercased."""
    return tuple(m.lower() for m in _MSGID_RE.findall(value))


def canonical_ip(ip: str) -> str:
    """One spelling per address ('[IPv6:2001:DB8::1]' → '2001:db8::1'); non-addresses unchanged."""
    text = ip.strip().strip("[]")
    text = text[5:] if text.lower().startswith("ipv6:") else text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ip


@lru_cache(maxsize=64)
def _addresses_in(values: tuple[str, ...]) -> tuple[str, ...]:
    """The normalised addresses of From values; cached, since several checks, the verdict
    and the recorder each ask for a message's From."""
    normalised = (normalize_address(addr) for _, addr in parsed_addresses(list(values)))
    return tuple(addr for addr in normalised if addr)  # "\x85" alone normalises to ""


@dataclass(frozen=True, slots=True)
class Connection:
    """Facts about the SMTP client, as Postfix reported them."""

    client_ip: str
    client_name: str | None = None  # verified reverse name ({client_name}); None when unknown
    helo: str = ""
    tls_version: str | None = None
    auth_user: str | None = None

    def __post_init__(self) -> None:
        # One spelling per address, whoever built the value: rate keys and PTR lookups need it.
        object.__setattr__(self, "client_ip", canonical_ip(self.client_ip))


@dataclass(frozen=True, slots=True)
class Message:
    """One message: connection, envelope, header fields and (possibly truncated) body."""

    connection: Connection
    sender: str  # envelope sender, normalised; "" for the null sender (bounces)
    recipients: tuple[str, ...]
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    body_truncated: bool = False
    queue_id: str = "NOQUEUE"
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    direction: Direction = "inbound"
    # True when header values are exactly as sent, the whitespace after the colon included
    # (the MTA agreed to SMFIP_HDR_LEADSPC): DKIM c=simple needs the original bytes.
    exact_header_values: bool = False
    # The values by lower-cased name, built once: a dozen checks each ask for a few fields.
    _by_name: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, list[str]] = {}
        for name, value in self.headers:
            by_name.setdefault(name.lower(), []).append(value.lstrip(" \t\r\n"))
        object.__setattr__(self, "_by_name", {k: tuple(v) for k, v in by_name.items()})

    @property
    def sender_domain(self) -> str:
        return domain_of(self.sender)

    def header_values(self, name: str) -> list[str]:
        """All values of header `name` (case-insensitive), in order of arrival."""
        return list(self._by_name.get(name.lower(), ()))

    def first_header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    @property
    def from_addresses(self) -> tuple[str, ...]:
        """Every address found in every From header field."""
        return _addresses_in(self._by_name.get("from", ()))

    @property
    def header_from(self) -> str:
        """The first From address, or '' when there is none."""
        addresses = self.from_addresses
        return addresses[0] if addresses else ""

    @property
    def visible_recipients(self) -> tuple[str, ...]:
        """Addresses listed in To and Cc."""
        values = self.header_values("To") + self.header_values("Cc")
        return tuple(normalize_address(a) for _, a in parsed_addresses(values) if "@" in a)

    @property
    def message_id(self) -> str | None:
        value = self.first_header("Message-ID")
        ids = message_ids(value) if value else ()
        return ids[0] if ids else None

    @property
    def referenced_ids(self) -> tuple[str, ...]:
        """Message-IDs this message answers (In-Reply-To, then References)."""
        refs: list[str] = []
        for name in ("In-Reply-To", "References"):
            for value in self.header_values(name):
                refs.extend(message_ids(value))
        return tuple(dict.fromkeys(refs))

    def header_block(self) -> str:
        """The header section as valid text, as kept in the header log (8-bit junk → U+FFFD)."""
        raw = self.raw_headers().decode("utf-8", "replace")
        return raw.replace("\x00", "\ufffd")

    def raw_headers(self) -> bytes:
        """The header section as the original bytes (as near as the MTA let us see them)."""
        separator = ":" if self.exact_header_values else ": "
        head = "".join(f"{n}{separator}{v}\r\n" for n, v in self.headers)
        return head.encode("utf-8", "surrogateescape")

    def raw(self) -> bytes:
        """Header section and body as bytes, for signature verification."""
        return self.raw_headers() + b"\r\n" + self.body


def is_internal(ip: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """True when `ip` lies in one of `networks`; unparsable addresses are external."""
    try:
        addr = ipaddress.ip_address(canonical_ip(ip))
    except ValueError:
        return False
    return any(addr in net for net in networks if addr.version == net.version)


def classify_direction(
    connection: Connection,
    internal_networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> Direction:
    """Outbound when the client authenticated, sits in an internal network, or has no network
    address at all: the MTA's own local submission (Sendmail's `sendmail -bs` reports an
    unknown family and no address; SMTP clients always have one)."""
    if (connection.auth_user or not connection.client_ip
            or is_internal(connection.client_ip, internal_networks)):
        return "outbound"
    return "inbound"


@dataclass
class MessageBuilder:
    """Mutable collector the milter fills callback by callback; `build()` freezes it."""

    max_headers: int
    max_body_bytes: int
    client_ip: str = ""
    client_name: str | None = None
    helo: str = ""
    tls_version: str | None = None
    auth_user: str | None = None
    sender: str = ""
    recipients: list[str] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    headers_dropped: int = 0
    body_parts: list[bytes] = field(default_factory=list)
    body_size: int = 0
    body_truncated: bool = False
    exact_header_values: bool = False  # see Message.exact_header_values
    # Fields of these names (lowercase) are kept in `guarded`, in order, past max_headers too:
    # the milter must see every copy of a header it removes, or a forged verdict placed
    # after the limit would be delivered.
    guarded_names: frozenset[str] = frozenset()
    guarded: list[tuple[str, str]] = field(default_factory=list)

    def reset_message(self) -> None:
        """Forget the previous transaction: a connection may carry several messages."""
        self.sender = ""
        self.recipients = []
        self.headers = []
        self.headers_dropped = 0
        self.guarded = []
        self.body_parts = []
        self.body_size = 0
        self.body_truncated = False

    def add_recipients(self, recipients: Iterable[str]) -> None:
        self.recipients.extend(normalize_address(r) for r in recipients)

    def add_header(self, name: str, value: str) -> None:
        if name.lower() in self.guarded_names:
            self.guarded.append((name, value))
        if len(self.headers) >= self.max_headers:
            self.headers_dropped += 1
            return
        self.headers.append((name, value))

    def add_body(self, chunk: bytes) -> None:
        room = self.max_body_bytes - self.body_size
        if room <= 0:
            self.body_truncated = True
            return
        if len(chunk) > room:
            chunk = chunk[:room]
            self.body_truncated = True
        self.body_parts.append(chunk)
        self.body_size += len(chunk)

    def connection(self) -> Connection:
        return Connection(
            client_ip=self.client_ip,
            client_name=self.client_name,
            helo=self.helo,
            tls_version=self.tls_version,
            auth_user=self.auth_user,
        )

    def build(self, queue_id: str, direction: Direction, received_at: datetime) -> Message:
        return Message(
            connection=self.connection(),
            sender=self.sender,
            recipients=tuple(dict.fromkeys(self.recipients)),
            headers=tuple(self.headers),
            body=b"".join(self.body_parts),
            body_truncated=self.body_truncated,
            queue_id=queue_id,
            received_at=received_at,
            direction=direction,
            exact_header_values=self.exact_header_values,
        )


def parse_rfc822(
    data: bytes, *, exact: bool = False,
) -> tuple[tuple[tuple[str, str], ...], bytes]:
    """Split a stored message into header fields and body, as a milter would see them.

    Lenient: a line without a colon ends the header section, as in Postfix's cleanup.
    """
    normalized = data.replace(b"\r\n", b"\n")
    if normalized.startswith(b"From "):  # mbox envelope line, not a header
        normalized = normalized.partition(b"\n")[2]
    head, sep, body = normalized.partition(b"\n\n")
    if not sep and not head.strip():
        return (), normalized
    fields: list[tuple[str, str]] = []
    lines = head.decode("utf-8", "surrogateescape").split("\n")
    rest_start = len(lines)
    for index, line in enumerate(lines):
        if line[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, f"{value}\n{line}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or " " in name.strip() or name != name.strip():
            rest_start = index
            break
        # exact: keep the whitespace after the colon (for Message.exact_header_values).
        fields.append((name, value if exact else value.lstrip(" ")))
    if rest_start < len(lines):
        leftover = "\n".join(lines[rest_start:]).encode("utf-8", "surrogateescape")
        body = leftover + (b"\n\n" + body if sep else b"")
    return tuple(fields), body.replace(b"\n", b"\r\n")
