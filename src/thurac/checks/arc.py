"""ARC (RFC 8617): validates an existing chain; trusted sealers may vouch for forwarded mail.

A mailing list that rewrites a message breaks its DKIM signature and DMARC; if the list sealed
the message with ARC and its sealer is in ``arc.trusted_sealers``, DMARC may take the list's word
for the original authentication (``ctx.auth.arc.trusted``).  dkimpy's ARC verifier does the work,
through the shared resolver and the same key-size policy as DKIM.
"""

from __future__ import annotations

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from thurac.auth import ArcOutcome, ArcResult
from thurac.checks.base import CheckContext
from thurac.checks.dkim import DKIMPY_LOG
from thurac.checks.dkim_dns import KeyGate, dkim_dnsfunc
from thurac.history import History
from thurac.message import Message
from thurac.symbols import Symbol

ARC_HEADERS = ("ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results")

# RFC 8617 4.2.1: instance numbers run from 1 to 50; a larger one makes the chain fail.
MAX_INSTANCE = 50


def newest_seal(values: list[str]) -> tuple[int, str]:
    """(i=, d=) of the ARC-Seal with the highest instance, (0, "") when none parses."""
    best = (0, "")
    for value in values:
        try:
            tags = parse_tag_value(value.encode("utf-8", "surrogateescape"))
            instance = int(tags.get(b"i", b""))
        except (InvalidTagValueList, ValueError):
            continue
        if instance > best[0]:
            domain = tags.get(b"d", b"").decode("utf-8", "replace").strip().rstrip(".").lower()
            best = (instance, domain)
    return best


class Arc:
    name = "arc"
    symbols = ("ARC_PASS", "ARC_FAIL", "ARC_NONE", "ARC_TRUSTED")

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        settings = ctx.settings.arc
        if not settings.enabled:
            return []
        if not any(message.header_values(name) for name in ARC_HEADERS):
            ctx.auth.arc = ArcResult("none", reason="no ARC headers")
            return [ctx.symbol("ARC_NONE", "no ARC headers")]
        instance, sealer = newest_seal(message.header_values("ARC-Seal"))
        if message.body_truncated:
            # The newest ARC-Message-Signature covers the body, and only part of it was kept:
            # the chain cannot be judged, which must not count against the message.
            limit = ctx.settings.milter.max_body_bytes
            return self._fail(ctx, sealer, f"not verified: body larger than "
                              f"milter.max_body_bytes ({limit})", counted=False)
        if instance > MAX_INSTANCE:
            return self._fail(ctx, sealer, f"instance i={instance} above RFC 8617's "
                              f"limit of {MAX_INSTANCE}")

        dkim_settings = ctx.settings.dkim  # the same keys in the same DNS: the same policy
        gate = KeyGate(dkim_dnsfunc(ctx.dns), dkim_settings.min_key_bits,
                       dkim_settings.max_key_bits)
        try:
            verifier = dkim.ARC(message.raw(), logger=DKIMPY_LOG,
                                minkey=dkim_settings.min_key_bits)
            cv, _, reason = verifier.verify(dnsfunc=gate)
        except Exception as exc:  # dkimpy on hostile input: a broken chain, not a broken check
            cv, reason = dkim.CV_Fail, f"cannot be verified: {type(exc).__name__}: {exc}"
        if gate.dns.temperror:
            failures = "; ".join(gate.dns.failures)
            return self._fail(ctx, sealer, f"key lookup failed: {failures}", counted=False)

        result: ArcOutcome
        if cv == dkim.CV_Pass:
            result = "pass"
        elif cv == dkim.CV_None:
            result = "none"
        else:  # CV_Fail, or None: an earlier sealer already recorded cv=fail
            result = "fail"
        text = str(reason)
        if result == "fail" and gate.problems:
            text = f"{text} ({'; '.join(gate.problems)})"
        trusted_sealers = {s.strip().rstrip(".").lower() for s in settings.trusted_sealers}
        trusted = result == "pass" and sealer in trusted_sealers
        ctx.auth.arc = ArcResult(result, sealer, text, trusted)

        who = f"sealer d={sealer or '?'} i={instance}"
        if result == "pass":
            found = [ctx.symbol("ARC_PASS", who)]
            if trusted:
                found.append(ctx.symbol("ARC_TRUSTED", f"{who} is in arc.trusted_sealers"))
            return found
        if result == "none":
            return [ctx.symbol("ARC_NONE", text)]
        return [ctx.symbol("ARC_FAIL", f"{who}: {text}")]

    @staticmethod
    def _fail(ctx: CheckContext, sealer: str, reason: str, counted: bool = True) -> list[Symbol]:
        """ARC fail; when not ``counted`` (we could not judge) the symbol scores zero."""
        ctx.auth.arc = ArcResult("fail", sealer, reason)
        if not counted:
            reason = f"{reason}; not scored"
        return [ctx.symbol("ARC_FAIL", f"sealer d={sealer or '?'}: {reason}",
                           factor=1.0 if counted else 0.0)]
