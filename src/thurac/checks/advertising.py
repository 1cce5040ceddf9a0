"""Decree 91/2020 arts. 13 and 20: advertising mail — at most `daily_limit` (3) a day per
advertiser and recipient without agreement, a way to opt out, and none unsolicited to
protected recipient domains."""

from __future__ import annotations

from thurac.adverts import advertiser, opt_out
from thurac.checks.base import SHOWN, CheckContext
from thurac.domains import normal_domain
from thurac.history import History
from thurac.message import Message, domain_of
from thurac.symbols import Measure, Symbol


class Advertising:
    name = "advertising"
    symbols = ("ADV_OVER_DAILY_LIMIT", "ADV_NO_OPTOUT", "ADV_UNSOLICITED_PROTECTED")
    history_symbols = ("ADV_OVER_DAILY_LIMIT", "ADV_UNSOLICITED_PROTECTED")  # opt-out: content

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        settings = ctx.settings.advertising
        why = ctx.advert
        if not why:
            return []
        found: list[Symbol] = []
        who = advertiser(message)[:SHOWN] or "(no From domain)"
        if history.available and history.ad_counts:
            # This message counts too: the 4th in 24 h is over a limit of 3.
            rcpt, before = max(history.ad_counts.items(), key=lambda item: item[1])
            if before + 1 > settings.daily_limit:
                found.append(ctx.symbol(
                    "ADV_OVER_DAILY_LIMIT",
                    f"advertising ({why}) from {who}: {before + 1} to {rcpt[:SHOWN]} in 24h "
                    f"> {settings.daily_limit}",
                    measure=Measure(before + 1, settings.daily_limit, "messages", "1d")))
        if opt_out(message, settings) is None:
            found.append(ctx.symbol(
                "ADV_NO_OPTOUT", f"advertising ({why}) from {who} offers no way to opt out "
                "(no List-Unsubscribe, no opt-out wording)"))
        protected = set(settings.protected_domains)
        strangers = [r for r in history.unrelated(message.recipients)
                     if normal_domain(domain_of(r)) in protected]
        if protected and strangers and history.available:
            found.append(ctx.symbol(
                "ADV_UNSOLICITED_PROTECTED",
                f"advertising ({why}) from {who} to protected {strangers[0][:SHOWN]} with no "
                "prior exchange"))
        return found
