"""What our own user's mail client is told: the outbound texts (`outbound.replies`) for a
deferred message or a suspended account, and the hold reason Postfix logs. ASCII and bounded
as every reply (replies.py)."""

from __future__ import annotations

from dataclasses import dataclass

from thurac.config import Settings
from thurac.outbound.decision import SUSPENSION
from thurac.replies import criterion_text, fill, measured
from thurac.text import sanitize
from thurac.verdict import Verdict

HOLD_REASON_MAX_BYTES = 200  # within Postfix's log line, as the inbound hold reason
_SUSPENDED = {"en": "account suspended", "vi": "tai khoan bi tam khoa"}


@dataclass(frozen=True, slots=True)
class Reply:
    code: str  # 550 or 451
    dsn: str  # 5.7.1 or 4.7.1
    text: str


def _criterion(verdict: Verdict, language: str) -> str:
    if verdict.overrides:
        override = verdict.overrides[-1]
        if override.source != SUSPENSION:
            return override.reason
        limit = next((s for s in verdict.symbols if s.name == "OUT_LIMIT"), None)
        if limit is not None and limit.measure is not None:
            return measured(limit.measure, language)  # the limit this message passed
        # Not the operator's reason: that is written for colleagues, not for the user.
        return f"{_SUSPENDED.get(language, _SUSPENDED['en'])} {override.reason}"
    top = verdict.top_symbols(1)
    return criterion_text(top[0], language) if top else f"score {verdict.score:.1f}"


def outbound_reply(verdict: Verdict, queue_id: str, settings: Settings) -> Reply | None:
    """The SMTP reply for a refused or deferred outbound message; None when it is accepted
    (tagged or held)."""
    if verdict.action not in ("reject", "tempfail"):
        return None
    language = settings.replies.language
    templates = (settings.outbound.replies.en if language == "en"
                 else settings.outbound.replies.vi)
    suspended = any(o.source == SUSPENSION for o in verdict.overrides)
    template = templates.suspended if suspended else templates.tempfail
    text = fill(template, verdict, queue_id, language, _criterion(verdict, language))
    if verdict.action == "reject":
        return Reply("550", "5.7.1", text)
    return Reply("451", "4.7.1", text)


def hold_reason(verdict: Verdict) -> str:
    """What Postfix logs for a held outbound message: the policy that held it, or the
    symbols that weighed most."""
    if verdict.overrides:
        override = verdict.overrides[-1]
        return sanitize(f"thurac outbound {override.source}: {override.reason}",
                        HOLD_REASON_MAX_BYTES)
    names = ", ".join(s.name for s in verdict.top_symbols(3))
    return sanitize(f"thurac outbound score {verdict.score:.1f}: {names}",
                    HOLD_REASON_MAX_BYTES)
