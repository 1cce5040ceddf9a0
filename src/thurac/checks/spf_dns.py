"""pyspf's lookups through the message's DnsSession (the SPF check's library adapter)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

import spf

from thurac.auth import OUTCOMES, SpfOutcome
from thurac.dns import DnsSession, parse_mx

# -- pyspf adapter -------------------------------------------------------------
#
# pyspf resolves through a module-level function (spf.DNSLookup) with its own
# dnspython resolver.  Replacing that global would route every thread's SPF
# check through whichever message set it last, so instead each check builds
# its own spf.query subclass whose ``dns()`` method -- the one place all of
# pyspf's lookups (TXT, A, AAAA, MX, PTR, exists, exp=) pass through -- asks
# that message's DnsSession.  RFC 7208 section 4.6.4 limits are pyspf's own,
# kept in force: strict mode turns the 11th DNS-querying mechanism or
# modifier (include, a, mx, ptr, exists, redirect) into a permerror
# (spf.MAX_LOOKUP), and include/redirect loops run into that same limit;
# more than 10 MX or PTR names is a permerror (spf.MAX_MX, spf.MAX_PTR).  The
# void-lookup limit (spf.MAX_VOID_LOOKUPS) lives in the base ``dns()``, which
# we replace, so it is counted again below.

_SPF_VERDICTS = OUTCOMES["spf"]


@dataclass(frozen=True)
class SpfAnswer:
    """What check_host() said, in plain values.

    ``mechanism`` is the term of the sender's record that decided (``"-all"``,
    ``"ip4:192.0.2.0/24"``), empty when none matched; ``problem`` says why a
    temperror or permerror happened; ``lookups`` and ``void_lookups`` are
    pyspf's counts at the end of the evaluation.
    """

    result: SpfOutcome
    identity: Literal["mailfrom", "helo"]
    domain: str
    mechanism: str = ""
    problem: str = ""
    lookups: int = 0
    void_lookups: int = 0


class _SessionSpfQuery(spf.query):  # type: ignore[misc]  # pyspf ships no type hints
    """One pyspf evaluation whose DNS lookups all go through one DnsSession."""

    def __init__(self, session: DnsSession, ip: str, sender: str, helo: str,
                 receiver: str) -> None:
        # strict=True: RFC 7208 limits are permerrors, not warnings.  querytime and
        # timeout are pyspf's own clock; the session's budget bounds time instead.
        super().__init__(i=ip, s=sender, h=helo, receiver=receiver or None, strict=True,
                         querytime=0)
        self._session = session

    def dns(self, name: object, qtype: str, cnames: object = None,
            ignore_void: bool = False) -> list[object]:
        """Records of ``name`` in pyspf's shapes; TempError on a DNS failure.

        Shapes (as pyspf's dnspython driver gives them): A/AAAA and PTR text,
        MX ``(preference, host)``, TXT/SPF one tuple of bytes per record.
        CNAMEs are followed by the resolver, so ``cnames`` is unused.
        """
        text = str(name).rstrip(".").lower()
        labels = text.split(".")
        if not text or any(not 0 < len(label) < 64 for label in labels):
            return []  # as pyspf: a name that cannot exist is no lookup at all
        lookup = self._session.query(text, qtype)
        if lookup.temperror:
            raise spf.TempError(f"DNS failure for {text}/{qtype}: {lookup.error}")
        result: list[object] = []
        if lookup.ok:
            for value in lookup.values:
                if qtype == "MX":
                    result.append(parse_mx(value))
                elif qtype in ("TXT", "SPF"):
                    result.append((value.encode("utf-8"),))
                else:
                    result.append(value)
        if not result and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(
                    f"more than {spf.MAX_VOID_LOOKUPS} void lookups (RFC 7208 4.6.4)"
                )
        return result


def _spf_domain_ok(domain: str) -> bool:
    """A multi-label name whose labels are 1-63 octets of printable, non-bracket text."""
    labels = domain.split(".")
    return len(labels) >= 2 and all(
        0 < len(label) < 64 and label.isprintable() and not any(c in label for c in " []")
        for label in labels
    )


def check_spf(session: DnsSession, ip: str, sender: str, helo: str,
              receiver: str = "") -> SpfAnswer:
    """RFC 7208 check_host() for ``sender`` (or the HELO name when ``sender`` is empty).

    ``ip`` must be an IP address (ValueError otherwise).  DNS failures and an
    exhausted budget give ``temperror``, never ``fail``.  ``receiver`` is our
    host name, used only by the ``%{r}`` macro.
    """
    ipaddress.ip_address(ip)  # pyspf would turn a bad address into a permerror
    identity: Literal["mailfrom", "helo"] = "mailfrom" if sender else "helo"
    domain = (sender.rpartition("@")[2] if sender else helo).rstrip(".").lower()
    if not _spf_domain_ok(domain):
        # RFC 7208 4.3: a malformed or single-label domain is "none", with no lookup.
        return SpfAnswer("none", identity, domain, problem="not a domain name with SPF")
    query = _SessionSpfQuery(session, ip, sender, helo, receiver)
    result, _code, _explanation = query.check()
    if result not in _SPF_VERDICTS:  # "ambiguous" exists only in pyspf's harsh mode
        result = "permerror"
    problem = str(getattr(query, "prob", "") or "")
    return SpfAnswer(
        result=result,
        identity=identity,
        domain=domain,
        mechanism=str(query.mechanism or ""),
        problem=problem,
        lookups=int(query.lookups),
        void_lookups=int(query.void_lookups),
    )
