"""SPF (RFC 7208) on the envelope sender, or the HELO name for bounces.

pyspf evaluates the record; every lookup goes through the message's DnsSession
(checks/spf_dns.py), so the per-message DNS budget bounds SPF too, and a DNS
failure is SPF_TEMPERROR, never SPF_FAIL.
"""

from __future__ import annotations

import ipaddress

from thurac.auth import OUTCOMES, SpfResult
from thurac.checks.base import SHOWN, CheckContext
from thurac.checks.spf_dns import SpfAnswer, check_spf
from thurac.history import History
from thurac.message import Message
from thurac.symbols import Symbol

_SYMBOL = {outcome: f"SPF_{outcome.upper()}" for outcome in OUTCOMES["spf"]}


def _reason(answer: SpfAnswer, ip: str) -> str:
    """Plain words: `203.0.113.5 not permitted by spf.example: -all`."""
    domain = answer.domain[:SHOWN] or "(no domain)"
    where = f"{domain} (HELO)" if answer.identity == "helo" else domain
    mechanism = answer.mechanism[:SHOWN]
    matched = f": {mechanism}" if mechanism else ": no mechanism matched"
    problem = answer.problem[:SHOWN]
    match answer.result:
        case "pass":
            return f"{ip} permitted by {where}{matched}"
        case "fail":
            return f"{ip} not permitted by {where}{matched}"
        case "softfail":
            return f"{ip} probably not permitted by {where}{matched}"
        case "neutral":
            return f"{where} makes no assertion about {ip}{matched}"
        case "none":
            if answer.problem:
                return f"{where} is {problem}"
            return f"{where} publishes no SPF record"
        case "temperror":
            return f"could not evaluate {where}: {problem or 'DNS failure'}"
        case _:
            return f"broken SPF record at {where}: {problem or 'permanent error'}"


class Spf:
    name = "spf"
    symbols = tuple(_SYMBOL.values())

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        if not ctx.settings.spf.enabled or message.direction == "outbound":
            return []
        ip = message.connection.client_ip.strip()
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            return []  # SPF authorises client addresses: without one there is nothing to ask
        helo = message.connection.helo.strip().rstrip(".")
        answer = check_spf(ctx.dns, ip, message.sender, helo, ctx.settings.local.authserv_id)
        reason = _reason(answer, ip)
        ctx.auth.spf = SpfResult(
            result=answer.result,
            identity=answer.identity,
            domain=answer.domain,
            address=message.sender if answer.identity == "mailfrom" else helo,
            reason=reason,
        )
        return [ctx.symbol(_SYMBOL[answer.result], reason)]
