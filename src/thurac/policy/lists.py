"""Allow and block lists (Decree 91/2020 art. 10.3): which entries match a message.

An address or domain allow entry counts only when that identity is authenticated (SPF pass
for the envelope sender, DMARC or aligned DKIM pass for the header From); a HELO allow entry
only when the HELO is the client's forward-confirmed name. Anyone can write an allow-listed
name; only its owner can authenticate it. Block entries and IP entries apply as they are.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from thurac.auth import AuthResults
from thurac.domains import normal_domain, organizational_domain
from thurac.lists import Kind, ListEntry, ListName
from thurac.message import Message, canonical_ip, domain_of

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Match:
    entry: ListEntry
    authenticated: bool  # always True for block entries and IP entries
    how: str  # "SPF pass", "DMARC pass", "FCrDNS", "" (needs none)


@dataclass
class _Table:
    exact: dict[str, ListEntry] = field(default_factory=dict)
    suffix: dict[str, ListEntry] = field(default_factory=dict)  # ".example.com" → entry
    networks: list[tuple[Network, ListEntry]] = field(default_factory=list)


class ListIndex:
    """Every entry of both lists, indexed so that a lookup costs a few dict probes (an
    address) or one per label (a domain), not a scan of the list."""

    def __init__(self, entries: Iterable[ListEntry] = ()) -> None:
        # (list, kind, recipient): recipient "" for entries that apply to everyone
        self._tables: dict[tuple[ListName, Kind, str], _Table] = {}
        self.scoped = False  # some entries are for one recipient only
        self.size = 0
        for entry in entries:
            self.scoped = self.scoped or bool(entry.recipient)
            table = self._tables.setdefault((entry.list, entry.kind, entry.recipient), _Table())
            if entry.kind == "ip":
                table.networks.append((ipaddress.ip_network(entry.value), entry))
            elif entry.value.startswith("."):
                table.suffix[entry.value] = entry
            else:
                table.exact[entry.value] = entry
            self.size += 1

    def lookup(self, list_name: ListName, kind: Kind, value: str,
               now: datetime, recipient: str = "") -> ListEntry | None:
        """The live entry of `list_name`/`kind` that `value` falls under, if any (among
        those for `recipient` only, when one is given)."""
        table = self._tables.get((list_name, kind, recipient))
        if table is None or not value:
            return None
        candidates: list[ListEntry | None] = []
        if kind == "ip":
            address = _address(value)
            if address is None:
                return None
            candidates = [entry for network, entry in table.networks
                          if network.version == address.version and address in network]
        else:
            candidates.append(table.exact.get(value))
            if kind != "address":
                labels = value.split(".")
                candidates.extend(table.suffix.get("." + ".".join(labels[i:]))
                                  for i in range(len(labels)))
        for entry in candidates:
            if entry is not None and not entry.expired(now):
                return entry
        return None


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(canonical_ip(ip))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _spf_pass(auth: AuthResults, domain: str) -> bool:
    spf = auth.spf
    return (spf is not None and spf.result == "pass" and spf.identity == "mailfrom"
            and normal_domain(spf.domain) == domain)


def _from_authenticated(auth: AuthResults, domain: str) -> str:
    """How the header From domain is authenticated: DMARC pass, or a passing DKIM
    signature aligned with it (relaxed); '' when it is not."""
    if auth.dmarc is not None and auth.dmarc.result == "pass" and (
        normal_domain(auth.dmarc.domain) == domain
    ):
        return "DMARC pass"
    org = organizational_domain(domain)
    for sig in auth.dkim:
        if sig.result == "pass" and organizational_domain(normal_domain(sig.domain)) == org:
            return f"DKIM pass d={sig.domain}"
    return ""


def matches(index: ListIndex, message: Message, auth: AuthResults) -> list[Match]:
    """Every list entry that applies to `message`, allow entries first."""
    now = message.received_at
    conn = message.connection
    helo = normal_domain(conn.helo) if conn.helo else ""
    from_domain = normal_domain(domain_of(message.header_from))
    sender_domain = normal_domain(message.sender_domain)
    spf = "SPF pass" if sender_domain and _spf_pass(auth, sender_domain) else ""
    fcrdns = bool(helo and conn.client_name and normal_domain(conn.client_name) == helo)
    # (kind, value looked up, how that identity is authenticated: "" when it is not)
    facts: list[tuple[Kind, str, str]] = [
        ("ip", conn.client_ip, "client IP"),
        ("address", message.sender, spf),
        ("domain", sender_domain, spf),
        ("from-domain", from_domain, _from_authenticated(auth, from_domain) if from_domain
         else ""),
        ("helo", helo, "FCrDNS" if fcrdns else ""),
    ]
    found: list[Match] = []
    recipients = [r.lower() for r in message.recipients]
    for list_name in ("allow", "block"):
        for kind, value, how in facts:
            entry = index.lookup(list_name, kind, value, now)
            if entry is None and index.scoped and recipients:
                # A recipient's own entry (an opt-out) decides only when every recipient of
                # the message has one: a milter answers once for all of them.
                own = [index.lookup(list_name, kind, value, now, r) for r in recipients]
                entry = own[0] if all(own) else None
            if entry is not None:
                trusted = list_name == "block" or bool(how)
                found.append(Match(entry, trusted, how if list_name == "allow" else ""))
    return found
