"""Circular 22 art. 4.3b (first dash): sources that only send and never receive."""

from __future__ import annotations

from thurac.checks.base import CheckContext
from thurac.history import History
from thurac.message import Message
from thurac.symbols import Measure, Symbol


class OneWaySource:
    name = "one_way_source"
    symbols = ("C22_ONE_WAY", "C22_NO_MX")
    history_symbols = ("C22_ONE_WAY",)  # C22_NO_MX is a DNS fact

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        settings = ctx.settings.one_way_source
        if not settings.enabled or not message.sender:
            return []
        found: list[Symbol] = []
        seen = history.sender_messages + 1
        if history.available and not history.sender_written_to and seen >= settings.min_messages:
            found.append(ctx.symbol(
                "C22_ONE_WAY",
                f"{message.sender} sent {seen} messages >= {settings.min_messages}; "
                "no local user ever wrote to it",
                measure=Measure(seen, settings.min_messages, "messages", op=">="),
            ))
        if settings.check_mx and message.sender_domain:
            reason = self._cannot_receive(message.sender_domain, ctx)
            if reason:
                found.append(ctx.symbol("C22_NO_MX", reason))
        return found

    @staticmethod
    def _cannot_receive(domain: str, ctx: CheckContext) -> str | None:
        """Why `domain` cannot receive mail, or None (also None when DNS could not tell)."""
        mx = ctx.dns.mx(domain)
        if mx.ok:
            hosts = [v.split(" ", 1)[1] if " " in v else "" for v in mx.values]
            if all(host in ("", ".") for host in hosts):
                return f"{domain} publishes a null MX (RFC 7505)"
            return None
        if mx.status == "nxdomain":
            return f"{domain} does not exist (NXDOMAIN)"
        if mx.temperror:
            return None
        addresses = ctx.dns.addresses(domain)
        if addresses.status in ("nxdomain", "nodata"):
            return f"{domain} has no MX and no A/AAAA record"
        return None
