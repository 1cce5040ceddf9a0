"""DMARC (RFC 7489): aligned SPF or DKIM for the header From domain; runs after them.

Policy discovery asks `_dmarc.<From domain>`, then `_dmarc.<organisational domain>`
(Public Suffix List, loaded once per process from the publicsuffixlist package: no
network).  `pct=` is ignored: a failure is a failure, the YAML decides what it costs.

Decisions, following "a temporary failure may delay a message, never condemn it":
- A DNS failure fetching the record gives result temperror and DMARC_TEMPERROR
  (score 0, so the log line shows it).  When no aligned pass was found but an aligned
  SPF or DKIM result was a temperror, the result is temperror too, never a fail that
  could reject the message.
- FROM_MISSING / FROM_MULTIPLE messages fail DMARC (RFC 7489 6.6.1): there is no
  single author domain to authenticate.  The policy applied is the strictest one
  published by the distinct From domains (at most MAX_FROM_DOMAINS are looked up),
  so a spoofer cannot dodge a p=reject domain by listing his own domain first; with
  no From domain at all there is no policy: DMARC_FAIL_NONE.
- A record that exists but is unusable (several v=DMARC1 records, or no valid p=
  and no rua=) means no DMARC processing (RFC 7489 6.6.3): result permerror,
  reported as DMARC_NONE with the reason.  An invalid sp=, adkim= or aspf= falls
  back to its default.
- A failure is overridden when a trusted ARC sealer vouches for the message
  (ctx.auth.arc passes and is trusted): the result stays fail (it is what the
  domain's policy says), the symbol becomes DMARC_FAIL_NONE with the override in
  its reason, and policy/dmarc_honour.py does not force anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from thurac.auth import AuthResults, DmarcPolicy, DmarcResult, trusted_arc_sealer
from thurac.checks.base import SHOWN, CheckContext
from thurac.checks.from_header import from_problem
from thurac.dns import DnsSession
from thurac.domains import normal_domain, organizational_domain
from thurac.history import History
from thurac.message import Message, domain_of
from thurac.symbols import Symbol

# Distinct From domains whose policy is looked up for a multi-author message: each
# costs up to two DNS queries, and a hostile From header may list hundreds.
MAX_FROM_DOMAINS = 5

_VERSION_TAG = "v=DMARC1"  # RFC 7489 6.4: case-sensitive, and the first tag
_POLICIES: tuple[DmarcPolicy, ...] = ("none", "quarantine", "reject")
_SEVERITY: dict[DmarcPolicy | None, int] = {None: 0, "none": 1, "quarantine": 2, "reject": 3}
_FAIL_SYMBOL: dict[DmarcPolicy | None, str] = {
    None: "DMARC_FAIL_NONE",
    "none": "DMARC_FAIL_NONE",
    "quarantine": "DMARC_FAIL_QUARANTINE",
    "reject": "DMARC_FAIL_REJECT",
}

Alignment = Literal["r", "s"]

def aligned(domain: str, author_domain: str, mode: Alignment) -> bool:
    """Strict: the same name; relaxed: the same organisational domain."""
    left, right = normal_domain(domain), normal_domain(author_domain)
    if not left or not right:
        return False
    if mode == "s":
        return left == right
    return organizational_domain(left) == organizational_domain(right)


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    policy: DmarcPolicy
    subdomain_policy: DmarcPolicy | None = None
    adkim: Alignment = "r"
    aspf: Alignment = "r"


def parse_record(text: str) -> DmarcRecord | None:
    """A v=DMARC1 TXT record, or None when it is not a usable one (RFC 7489 6.3, 6.6.3).

    A missing or invalid p= is read as p=none when rua= is present (the owner wants
    reports), otherwise the record is unusable.
    """
    tags: dict[str, str] = {}
    first = True
    for part in text.split(";"):
        name, equals, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if first:
            if not equals or name != "v" or value != _VERSION_TAG[2:]:
                return None
            first = False
            continue
        if equals and name:
            tags.setdefault(name.lower(), value)
    policy = _policy(tags.get("p"))
    if policy is None:
        if not tags.get("rua"):
            return None
        policy = "none"
    return DmarcRecord(
        policy=policy,
        subdomain_policy=_policy(tags.get("sp")),
        adkim=_alignment(tags.get("adkim")),
        aspf=_alignment(tags.get("aspf")),
    )


def _policy(value: str | None) -> DmarcPolicy | None:
    lowered = (value or "").lower()
    for policy in _POLICIES:
        if lowered == policy:
            return policy
    return None


def _alignment(value: str | None) -> Alignment:
    return "s" if (value or "").lower() == "s" else "r"


@dataclass(frozen=True, slots=True)
class Discovery:
    """The outcome of policy discovery for one author domain."""

    status: Literal["found", "none", "temperror", "permerror"]
    author: str  # the From domain asked about
    record: DmarcRecord | None = None
    policy: DmarcPolicy | None = None  # p=, or sp= when found at the organisational domain
    where: str = ""  # the domain whose _dmarc record was used
    detail: str = ""


def discover(session: DnsSession, domain: str) -> Discovery:
    """Find the DMARC record for ``domain``: the domain itself, then its organisational domain."""
    author = normal_domain(domain)
    organisational = organizational_domain(author)
    for name in dict.fromkeys((author, organisational)):
        lookup = session.txt(f"_dmarc.{name}")
        if lookup.temperror:
            return Discovery("temperror", author, where=name,
                             detail=f"DNS failure for _dmarc.{name}: {lookup.error}")
        texts = [v.strip() for v in lookup.values if v.strip().startswith(_VERSION_TAG)]
        if len(texts) > 1:
            return Discovery("permerror", author, where=name,
                             detail=f"{len(texts)} DMARC records at _dmarc.{name}")
        if texts:
            record = parse_record(texts[0])
            if record is None:
                return Discovery("permerror", author, where=name,
                                 detail=f"unusable DMARC record at _dmarc.{name}: no valid p=")
            policy = record.policy
            if name != author and record.subdomain_policy is not None:
                policy = record.subdomain_policy
            return Discovery("found", author, record, policy, name)
    return Discovery("none", author, where=author, detail=f"no DMARC record for {author}")


def _evidence(auth: AuthResults, domain: str, record: DmarcRecord
              ) -> tuple[str | None, str | None, str]:
    """(aligned pass, aligned temperror, what was seen) for one author domain."""
    seen: list[str] = []
    passed: str | None = None
    temporary: str | None = None
    spf = auth.spf
    if spf is not None:
        seen.append(f"SPF {spf.result} for {spf.domain[:SHOWN] or '(none)'}")
        if aligned(spf.domain, domain, record.aspf):
            if spf.result == "pass":
                passed = f"aligned SPF pass ({spf.domain[:SHOWN]})"
            elif spf.result == "temperror":
                temporary = f"SPF temperror for {spf.domain[:SHOWN]}"
    else:
        seen.append("no SPF result")
    for dkim in auth.dkim:
        seen.append(f"DKIM {dkim.result} d={dkim.domain[:SHOWN]}" if dkim.domain
                    else f"DKIM {dkim.result}")
        if not aligned(dkim.domain, domain, record.adkim):
            continue
        if dkim.result == "pass" and passed is None:
            passed = f"aligned DKIM pass (d={dkim.domain[:SHOWN]})"
        elif dkim.result in ("temperror", "neutral") and temporary is None:
            # neutral: the signature could not be checked (body over milter.max_body_bytes);
            # like a DNS failure, that must not turn into a DMARC failure.
            temporary = f"DKIM {dkim.result} for d={dkim.domain[:SHOWN]}"
    if not auth.dkim:
        seen.append("no DKIM signature")
    return passed, temporary, "; ".join(seen)


class Dmarc:
    name = "dmarc"
    symbols = ("DMARC_PASS", "DMARC_FAIL_REJECT", "DMARC_FAIL_QUARANTINE",
               "DMARC_FAIL_NONE", "DMARC_NONE", "DMARC_TEMPERROR")

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        if not ctx.settings.dmarc.enabled or message.direction == "outbound":
            return []
        problem = from_problem(message)
        if problem is not None:
            return self._malformed_from(message, problem[1], ctx)
        domain = normal_domain(domain_of(message.from_addresses[0]))
        found = discover(ctx.dns, domain)
        if found.status == "temperror":
            ctx.auth.dmarc = DmarcResult("temperror", domain, None, found.detail)
            return [ctx.symbol("DMARC_TEMPERROR", found.detail[:2 * SHOWN])]
        if found.status in ("none", "permerror"):
            ctx.auth.dmarc = DmarcResult(found.status, domain, None, found.detail)
            return [ctx.symbol("DMARC_NONE", found.detail[:2 * SHOWN])]
        assert found.record is not None and found.policy is not None
        passed, temporary, seen = _evidence(ctx.auth, domain, found.record)
        policy_text = f"{domain} p={found.policy}"
        if passed is not None:
            reason = f"{policy_text}: {passed}"
            ctx.auth.dmarc = DmarcResult("pass", domain, found.policy, reason)
            return [ctx.symbol("DMARC_PASS", reason)]
        if temporary is not None:
            reason = f"{policy_text}: no aligned pass, but {temporary}"
            ctx.auth.dmarc = DmarcResult("temperror", domain, found.policy, reason)
            return [ctx.symbol("DMARC_TEMPERROR", reason)]
        return [self._fail(ctx, domain, found.policy, f"{policy_text}: no aligned pass ({seen})")]

    @staticmethod
    def _fail(ctx: CheckContext, domain: str, policy: DmarcPolicy | None,
              reason: str) -> Symbol:
        """Record a failure; a trusted ARC sealer turns its symbol into DMARC_FAIL_NONE."""
        sealer = trusted_arc_sealer(ctx.auth)
        if sealer is not None:
            reason = f"{reason}; overridden: trusted ARC sealer {sealer[:SHOWN]} passed"
        ctx.auth.dmarc = DmarcResult("fail", domain, policy, reason)
        return ctx.symbol(_FAIL_SYMBOL[None if sealer else policy], reason)

    def _malformed_from(self, message: Message, why: str, ctx: CheckContext) -> list[Symbol]:
        """No single author domain: fail, under the strictest policy of the From domains."""
        domains = list(dict.fromkeys(
            normal_domain(domain_of(a)) for a in message.from_addresses if domain_of(a)
        ))
        strictest: Discovery | None = None
        for domain in domains[:MAX_FROM_DOMAINS]:
            found = discover(ctx.dns, domain)
            if found.status == "found" and (
                strictest is None or _SEVERITY[found.policy] > _SEVERITY[strictest.policy]
            ):
                strictest = found
        if strictest is None:
            first = domains[0] if domains else ""
            return [self._fail(ctx, first, None, f"{why}: fails DMARC, no policy found")]
        return [self._fail(ctx, strictest.author, strictest.policy,
                           f"{why}: fails DMARC under {strictest.author} p={strictest.policy}")]
