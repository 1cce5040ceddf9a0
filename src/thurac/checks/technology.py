"""Circular 22 art. 4.3c: technology used to send: HELO, reverse DNS, TLS, mailer, bulk traits."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from thurac.checks.base import SHOWN, CheckContext
from thurac.history import History
from thurac.message import Message
from thurac.symbols import Measure, Symbol

_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
)


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def helo_address(helo: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a HELO names as a literal ([192.0.2.1], [IPv6:...], or bare), else None."""
    text = helo.strip().strip("[]")
    text = text[5:] if text.lower().startswith("ipv6:") else text
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class Technology:
    name = "technology"
    symbols = (
        "C22_TECH_HELO_IP", "C22_TECH_HELO_NOT_FQDN", "C22_TECH_HELO_FORGED",
        "C22_TECH_NO_PTR", "C22_TECH_DYNAMIC_PTR", "C22_TECH_FCRDNS_MISMATCH",
        "C22_TECH_NO_TLS", "C22_TECH_MAILER", "C22_TECH_BCC_BULK", "C22_TECH_OPEN_LIST",
        "C22_TECH_NO_MESSAGE_ID", "C22_TECH_NO_DATE",
    )

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        if not ctx.settings.technology.enabled:
            return []
        return [
            *self._helo(message, ctx),
            *self._reverse_dns(message, ctx),
            *self._transport(message, ctx),
            *self.mailer(message, ctx),
            *self.bulk_recipients(message, ctx),
            *self._hygiene(message, ctx),
        ]

    @staticmethod
    def _helo(message: Message, ctx: CheckContext) -> list[Symbol]:
        helo = message.connection.helo.strip().rstrip(".").lower()
        if not helo:
            return []  # offline checks may not know the HELO
        shown = helo[:SHOWN]
        local = ctx.settings.local
        literal = helo_address(helo)
        if literal is not None:
            found = [ctx.symbol("C22_TECH_HELO_IP", f"HELO {shown} is an address literal")]
            if literal in local.addresses and str(literal) != message.connection.client_ip:
                found.append(ctx.symbol("C22_TECH_HELO_FORGED", f"HELO {shown} is our address"))
            return found
        if any(helo == d or helo.endswith("." + d) for d in local.domains):
            return [ctx.symbol("C22_TECH_HELO_FORGED", f"HELO {shown} claims our domain")]
        if not _HOSTNAME_RE.match(helo):
            return [ctx.symbol("C22_TECH_HELO_NOT_FQDN", f"HELO {shown!r} is not a FQDN")]
        return []

    @staticmethod
    def _reverse_dns(message: Message, ctx: CheckContext) -> list[Symbol]:
        settings = ctx.settings.technology
        ip = message.connection.client_ip
        if not settings.check_ptr or helo_address(ip) is None:
            return []
        ptr = ctx.dns.ptr(ip)
        if ptr.status in ("nxdomain", "nodata"):
            return [ctx.symbol("C22_TECH_NO_PTR", f"{ip} has no PTR record")]
        if not ptr.ok:
            return []  # a DNS failure says nothing about the sender
        name = ptr.values[0]
        found: list[Symbol] = []
        for pattern in _compiled(settings.dynamic_ptr_patterns):
            if pattern.search(name):
                found.append(ctx.symbol("C22_TECH_DYNAMIC_PTR",
                                        f"PTR {name[:SHOWN]} looks dynamic"))
                break
        forward = ctx.dns.addresses(name)
        if forward.status in ("nxdomain", "nodata") or (forward.ok and ip not in forward.values):
            found.append(ctx.symbol("C22_TECH_FCRDNS_MISMATCH",
                                    f"PTR {name[:SHOWN]} does not resolve back to {ip}"))
        return found

    @staticmethod
    def _transport(message: Message, ctx: CheckContext) -> list[Symbol]:
        if ctx.settings.technology.require_tls and not message.connection.tls_version:
            return [ctx.symbol("C22_TECH_NO_TLS", "sent without TLS")]
        return []

    # mailer and bulk_recipients are public: outbound/checks/technology.py asks the same of
    # our own accounts' mail.
    @staticmethod
    def mailer(message: Message, ctx: CheckContext) -> list[Symbol]:
        patterns = _compiled(ctx.settings.technology.mailer_patterns)
        for header in ("X-Mailer", "User-Agent"):
            for value in message.header_values(header):
                for pattern in patterns:
                    if pattern.search(value):
                        shown = value[:SHOWN]
                        return [ctx.symbol("C22_TECH_MAILER",
                                           f"{header} {shown!r} matches {pattern.pattern}")]
        return []

    @staticmethod
    def bulk_recipients(message: Message, ctx: CheckContext) -> list[Symbol]:
        settings = ctx.settings.technology
        visible = set(message.visible_recipients)
        found: list[Symbol] = []
        count = len(message.recipients)
        if count >= settings.bcc_bulk_recipients and not visible & set(message.recipients):
            found.append(ctx.symbol(
                "C22_TECH_BCC_BULK",
                f"{count} envelope recipients >= {settings.bcc_bulk_recipients}, none in To/Cc",
                measure=Measure(count, settings.bcc_bulk_recipients, "recipients", op=">="),
            ))
        if len(visible) >= settings.open_list_addresses:
            found.append(ctx.symbol(
                "C22_TECH_OPEN_LIST",
                f"{len(visible)} addresses in To/Cc >= {settings.open_list_addresses}",
                measure=Measure(len(visible), settings.open_list_addresses, "recipients",
                                op=">="),
            ))
        return found

    @staticmethod
    def _hygiene(message: Message, ctx: CheckContext) -> list[Symbol]:
        found: list[Symbol] = []
        if message.message_id is None:
            found.append(ctx.symbol("C22_TECH_NO_MESSAGE_ID", "no valid Message-ID header"))
        if not message.header_values("Date"):
            found.append(ctx.symbol("C22_TECH_NO_DATE", "no Date header"))
        return found
