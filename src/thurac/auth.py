"""Sender-authentication results (SPF, DKIM, DMARC, ARC) as values, shared by checks and headers.

SPF, DKIM and ARC checks fill an AuthResults during the pipeline; DMARC (which runs after
them) reads it; the milter writes Authentication-Results (RFC 8601) from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

SpfOutcome = Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"]
DkimOutcome = Literal["pass", "fail", "neutral", "policy", "none", "temperror", "permerror"]
DmarcOutcome = Literal["pass", "fail", "none", "temperror", "permerror"]
ArcOutcome = Literal["pass", "fail", "none"]
# The words, once: what each method's result may be (RFC 8601 2.7).
OUTCOMES: dict[str, frozenset[str]] = {
    "spf": frozenset(get_args(SpfOutcome)),
    "dkim": frozenset(get_args(DkimOutcome)),
    "dmarc": frozenset(get_args(DmarcOutcome)),
    "arc": frozenset(get_args(ArcOutcome)),
}
DmarcPolicy = Literal["none", "quarantine", "reject"]


@dataclass(frozen=True, slots=True)
class SpfResult:
    result: SpfOutcome
    identity: Literal["mailfrom", "helo"]
    domain: str  # the domain checked (envelope sender's, or the HELO name)
    address: str  # what goes in smtp.mailfrom / smtp.helo
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DkimResult:
    """One signature's outcome (a message may carry several)."""

    result: DkimOutcome
    domain: str = ""  # d=
    selector: str = ""  # s=
    reason: str = ""
    key_bits: int | None = None
    body_length: bool = False  # the signature used l=


@dataclass(frozen=True, slots=True)
class DmarcResult:
    result: DmarcOutcome
    domain: str  # header From domain
    policy: DmarcPolicy | None = None  # the policy that applies (p= or sp=)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ArcResult:
    result: ArcOutcome
    sealer: str = ""  # d= of the newest ARC-Seal
    reason: str = ""
    trusted: bool = False  # the chain passes and its newest sealer is in arc.trusted_sealers


@dataclass(slots=True)
class AuthResults:
    """Filled check by check during one message's pipeline."""

    spf: SpfResult | None = None
    dkim: list[DkimResult] = field(default_factory=list)
    dmarc: DmarcResult | None = None
    arc: ArcResult | None = None

    @property
    def empty(self) -> bool:
        return self.spf is None and not self.dkim and self.dmarc is None and self.arc is None


def trusted_arc_sealer(auth: AuthResults) -> str | None:
    """The trusted ARC sealer that vouches for this message, if one does."""
    arc = auth.arc
    if arc is not None and arc.result == "pass" and arc.trusted:
        return arc.sealer or "(unnamed sealer)"
    return None
