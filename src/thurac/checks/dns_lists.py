"""Lists kept by others (Decree 91/2020 art. 10.3), asked over DNS: DNSBLs for the client
IP, RHSBLs for the sender, From and HELO domains (`lists.dns`; DNSBL_<name> symbols)."""

from __future__ import annotations

import ipaddress
import threading
import time

from thurac.checks.base import SHOWN, CheckContext
from thurac.config import DnsListSettings
from thurac.domains import normal_domain, organizational_domain
from thurac.history import History
from thurac.message import Message, canonical_ip, domain_of
from thurac.symbols import Symbol
from thurac.text import sanitize

# What most lists answer for a refused or over-quota query (Spamhaus: 127.255.255.252-255):
# an error about the asker, never a listing.
_LIST_ERRORS = ipaddress.ip_network("127.255.255.0/24")
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
_BUDGET_GONE = "DNS time budget exhausted"


def _reversed_ip(ip: str) -> str | None:
    """'192.0.2.1' → '1.2.0.192'; IPv6 as 32 nibbles (RFC 5782 2.4)."""
    try:
        address = ipaddress.ip_address(canonical_ip(ip))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    pointer = address.reverse_pointer
    return pointer.removesuffix(".in-addr.arpa").removesuffix(".ip6.arpa")


def _listed(zone: DnsListSettings, values: tuple[str, ...]) -> str | None:
    """The first answer that counts as a listing."""
    for value in values:
        try:
            answer = ipaddress.ip_address(value)
        except ValueError:
            continue
        if zone.codes:
            if answer in zone.codes:
                return value
        elif answer in _LOOPBACK and answer not in _LIST_ERRORS:
            return value
    return None


class DnsLists:
    name = "dns_lists"
    # DNSBL_<name> symbols are declared by the YAML file (lists.dns), not by the catalogue.
    symbols: tuple[str, ...] = ()

    def __init__(self) -> None:
        # Zones that timed out, and until when they are skipped: a dead zone costs one
        # timeout per dns.probe_every seconds, not one per message. Shared by all verdicts.
        self._dead: dict[str, float] = {}
        self._lock = threading.Lock()

    def _names(self, zone: DnsListSettings, message: Message) -> list[tuple[str, str]]:
        """(what is looked up, as the reason names it) for this zone."""
        if zone.kind == "ip":
            reversed_ip = _reversed_ip(message.connection.client_ip)
            return [] if reversed_ip is None else [(reversed_ip, message.connection.client_ip)]
        domains: list[str] = []
        for identity in zone.identities:
            if identity == "sender":
                domains.append(message.sender_domain)
            elif identity == "from":
                domains.append(domain_of(message.header_from))
            else:
                domains.append(message.connection.helo)
        names: list[tuple[str, str]] = []
        for domain in dict.fromkeys(normal_domain(d) for d in domains if d):
            for name in dict.fromkeys((domain, organizational_domain(domain))):
                if "." in name and (name, name) not in names:
                    names.append((name, name))
        return names

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        found: list[Symbol] = []
        for zone in ctx.settings.lists.dns:
            with self._lock:
                if self._dead.get(zone.zone, 0.0) > time.monotonic():
                    continue
            for query, shown in self._names(zone, message):
                lookup = ctx.dns.a(f"{query}.{zone.zone}")
                if lookup.temperror:
                    if lookup.error != _BUDGET_GONE:
                        with self._lock:
                            self._dead[zone.zone] = time.monotonic() + ctx.settings.dns.probe_every
                    break  # a timeout is no listing
                code = _listed(zone, lookup.values) if lookup.ok else None
                if code is not None:
                    reason = sanitize(f"{shown} listed in {zone.zone} ({code})", SHOWN * 2)
                    found.append(Symbol(zone.symbol, zone.score, reason))
                    break
        return found
