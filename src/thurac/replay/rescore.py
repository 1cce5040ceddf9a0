"""One stored message judged again under another configuration: the checks that read
history run against the history as it stood; every other finding is the event's stored fact,
weighed with the new `scores:`; the new lists and policies decide as the scanner's do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from thurac import adverts, policy
from thurac.auth import AuthResults
from thurac.checks import CHECKS, HISTORY_CHECKS, HISTORY_SYMBOLS, OWNER, CheckContext
from thurac.config import Settings
from thurac.dns import DnsSession, Lookup, Resolver
from thurac.facts import Facts
from thurac.history import History
from thurac.lists import ListEntry
from thurac.pipeline import run_checks
from thurac.policy import POLICIES, ListIndex, PolicyInput, recipients
from thurac.replay.source import StoredEvent
from thurac.symbols import Symbol
from thurac.verdict import Verdict


class OfflineDns(DnsSession):
    """DNS that is never asked: every query is `temperror` without a packet sent (the history
    checks' DNS half, C22_NO_MX, is a stored fact, taken from the event instead)."""

    def __init__(self) -> None:
        super().__init__(_NOWHERE, 0.0)

    def query(self, name: str, rdtype: str) -> Lookup:
        return _NO_ANSWER


_NOWHERE = Resolver(["127.0.0.1:9"], timeout=1.0, cache_size=0)
_NO_ANSWER = Lookup("temperror", error="replay: no DNS", failure="budget")
_POLICY_SYMBOLS = frozenset(name for p in POLICIES for name in p.symbols)
_DNS_LISTS = next(i for i, c in enumerate(CHECKS) if c.name == "dns_lists")
# Each method's check writes the AuthResults field of its name and has a YAML section of it:
# switched off in the new configuration, its result is gone.
_METHODS = ("spf", "dkim", "arc", "dmarc")


def _enabled(settings: Settings, check_index: int) -> bool:
    section = getattr(settings, CHECKS[check_index].name, None)
    return bool(getattr(section, "enabled", True))


def _owner(name: str) -> int:
    return OWNER.get(name, _DNS_LISTS)  # DNSBL_<zone> symbols are named by the YAML file


def _auth(auth: AuthResults, settings: Settings) -> AuthResults:
    """The stored results the new configuration still checks."""
    kept = replace(auth, dkim=list(auth.dkim))
    for method in _METHODS:
        if not getattr(settings, method).enabled:
            setattr(kept, method, [] if method == "dkim" else None)
    return kept


class Rescorer:
    """Judges stored messages under `settings` (NEW.yaml); `live` is the configuration the
    events were scored under, for those stored before facts were kept."""

    def __init__(self, settings: Settings, live: Settings,
                 stored_lists: Sequence[ListEntry] = ()) -> None:
        self.settings = settings
        self.live = live
        self.index = ListIndex([*settings.lists.entries(), *stored_lists])

    def facts_of(self, event: StoredEvent) -> Facts:
        """The event's facts, or for one stored before facts were kept, what its rendered
        symbols tell: each weight's factor against the live configuration's weight."""
        if event.facts is not None:
            return event.facts
        checks: list[Symbol] = []
        for s in event.symbols:
            if s.name in _POLICY_SYMBOLS:
                continue
            try:
                weight = self.live.score(s.name)
            except KeyError:
                weight = 0.0
            checks.append(Symbol(s.name, 0.0, s.reason, factor=s.score / weight if weight else 1.0))
        names = {s.name for s in event.symbols}
        advert = ""
        if any(name.startswith("ADV_") for name in names):
            advert = adverts.advertisement(event.message, self.live.advertising) or ""
        return Facts(tuple(checks), AuthResults(), "THURAC_HISTORY_UNAVAILABLE" not in names,
                     advert)

    def judge(self, event: StoredEvent, history: History, facts: Facts | None = None) -> Verdict:
        """`facts`: the event's, when the caller has them already (facts_of)."""
        message = event.message
        policy_key = recipients.choose(self.settings, message.recipients)
        settings = recipients.judged_under(self.settings, policy_key)
        facts = facts or self.facts_of(event)
        advert = facts.advert if settings.advertising.enabled else ""
        ctx = CheckContext(settings, OfflineDns(), auth=_auth(facts.auth, settings),
                           advert=advert)
        seen = history if facts.history else History.unknown()
        found = [s for s in run_checks(message, seen, ctx, HISTORY_CHECKS)
                 if s.name in HISTORY_SYMBOLS]
        for stored in facts.checks:
            if stored.name in HISTORY_SYMBOLS or not _enabled(settings, _owner(stored.name)):
                continue
            try:
                found.append(ctx.symbol(stored.name, stored.reason, stored.factor))
            except KeyError:
                continue  # a DNSBL zone the new configuration no longer queries
        found.sort(key=lambda s: _owner(s.name))  # the run order, as the scanner's
        return policy.conclude(found, PolicyInput(message, ctx.auth, settings, self.index),
                               policy_key)
