"""DKIM (RFC 6376, RFC 8301, RFC 8463): every signature verified through the shared resolver.

dkimpy does the cryptography; this module decides what its answers mean.  dkimpy answers one
True/False per signature whether the key was missing, the DNS was down or the body was altered,
so the facts it hides are gathered on the side, in checks/dkim_dns.py: DNS failures by our
``dnsfunc``, key sizes by ``KeyGate``, which also refuses keys outside the configured sizes
before dkimpy does any RSA work on them.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import dkim
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError
from dkim.util import InvalidTagValueList, parse_tag_value

from thurac.auth import DkimOutcome, DkimResult
from thurac.checks.base import CheckContext
from thurac.checks.dkim_dns import KeyGate, dkim_dnsfunc
from thurac.config import DkimSettings
from thurac.history import History
from thurac.message import Message
from thurac.symbols import Symbol

SIGNATURE_HEADER = "DKIM-Signature"

# dkimpy reports a body changed after signing only through the text of its ValidationError.
_BODY_HASH_MISMATCH = "body hash mismatch"

_log = logging.getLogger("thurac.checks.dkim")


class DkimpyLog(logging.LoggerAdapter[logging.Logger]):
    """The logger handed to dkimpy, which logs every failing signature or key at ERROR.

    For a milter a forged or broken signature is ordinary traffic, already told by the symbols
    and the message log line, so dkimpy's messages are demoted to DEBUG.
    """

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        super().log(logging.DEBUG, msg, *args, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return f"dkimpy: {msg}", kwargs


DKIMPY_LOG = DkimpyLog(_log)


@dataclass(frozen=True, slots=True)
class _Verified:
    """One signature's result and the symbol it contributes (None: it contributes none)."""

    result: DkimResult
    symbol: str | None


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace").strip() if value else ""


def _tags(value: str) -> dict[bytes, bytes]:
    """The tags of a DKIM-Signature value, or {} when it cannot be parsed."""
    try:
        parsed: dict[bytes, bytes] = parse_tag_value(value.encode("utf-8", "surrogateescape"))
    except (InvalidTagValueList, ValueError):
        return {}
    return parsed


def _who(result: DkimResult) -> str:
    return f"d={result.domain or '?'} s={result.selector or '?'}"


class Dkim:
    name = "dkim"
    symbols = (
        "DKIM_VALID",
        "DKIM_INVALID",
        "DKIM_NONE",
        "DKIM_TEMPERROR",
        "DKIM_PERMERROR",
        "DKIM_WEAK_KEY",
        "DKIM_BODY_LENGTH",
    )

    def check(self, message: Message, history: History, ctx: CheckContext) -> list[Symbol]:
        settings = ctx.settings.dkim
        if not settings.enabled:
            return []
        signatures = message.header_values(SIGNATURE_HEADER)
        if not signatures:
            ctx.auth.dkim.append(DkimResult("none", reason="no signature"))
            return [ctx.symbol("DKIM_NONE", "no DKIM-Signature header")]
        # Signatures past the limit are left unverified (and unreported): each costs a key
        # lookup and a pass over the body.  Topmost first: the most recent signers.
        considered = signatures[: settings.max_signatures]
        verifier: dkim.DKIM | None = None
        parse_error = ""
        if not message.body_truncated:
            try:
                verifier = dkim.DKIM(message.raw(), logger=DKIMPY_LOG,
                                     minkey=settings.min_key_bits)
            except dkim.DKIMException as exc:
                parse_error = f"message cannot be parsed: {exc}"
        outcomes = [
            self._one(index, value, message, verifier, parse_error, settings, ctx)
            for index, value in enumerate(considered)
        ]
        ctx.auth.dkim.extend(o.result for o in outcomes)
        return self._symbols(outcomes, ctx)

    def _one(
        self,
        index: int,
        value: str,
        message: Message,
        verifier: dkim.DKIM | None,
        parse_error: str,
        settings: DkimSettings,
        ctx: CheckContext,
    ) -> _Verified:
        tags = _tags(value)
        domain = _text(tags.get(b"d")).lower()
        selector = _text(tags.get(b"s"))
        length = b"l" in tags

        def done(
            result: DkimOutcome, symbol: str | None, detail: str, key_bits: int | None = None
        ) -> _Verified:
            return _Verified(DkimResult(result, domain, selector, detail, key_bits, length), symbol)

        if length and settings.body_length == "ignore":
            return done("policy", None, "l= signature ignored (dkim.body_length: ignore)")
        if message.body_truncated:
            # Only part of the body was kept: a verdict either way would be a guess.
            limit = ctx.settings.milter.max_body_bytes
            return done("neutral", None,
                        f"body larger than milter.max_body_bytes ({limit}), not verified")
        if verifier is None:
            return done("permerror", "DKIM_PERMERROR", parse_error)

        gate = KeyGate(dkim_dnsfunc(ctx.dns), settings.min_key_bits, settings.max_key_bits)
        valid = False
        error = ""
        try:
            valid = bool(verifier.verify(idx=index, dnsfunc=gate))
        except dkim.ValidationError as exc:
            error = str(exc)
        except dkim.DKIMException as exc:
            error = f"{exc}"
        except Exception as exc:  # dkimpy on hostile input: one signature, not the check
            error = f"cannot be verified: {type(exc).__name__}: {exc}"

        if gate.dns.temperror:
            return done("temperror", "DKIM_TEMPERROR",
                        f"key lookup failed: {'; '.join(gate.dns.failures)}")
        if gate.weak:
            return done("fail", "DKIM_WEAK_KEY", gate.problems[0], gate.key_bits)
        if gate.problems:
            return done("permerror", "DKIM_PERMERROR", gate.problems[0], gate.key_bits)
        if valid:
            return done("pass", "DKIM_VALID", self._coverage(tags, verifier) if length else "",
                        gate.key_bits)
        if error.startswith(_BODY_HASH_MISMATCH):
            return done("fail", "DKIM_INVALID", _BODY_HASH_MISMATCH, gate.key_bits)
        if error:
            return done("permerror", "DKIM_PERMERROR", error, gate.key_bits)
        return done("fail", "DKIM_INVALID", "signature does not match the signed header fields",
                    gate.key_bits)

    @staticmethod
    def _coverage(tags: dict[bytes, bytes], verifier: dkim.DKIM) -> str:
        """How much of the canonicalised body an l= signature covers."""
        signed = _text(tags.get(b"l"))
        try:
            policy = CanonicalizationPolicy.from_c_value(tags.get(b"c", b"simple/simple"))
        except InvalidCanonicalizationPolicyError:  # pragma: no cover - dkimpy refused it first
            return f"l={signed}"
        total = len(policy.canonicalize_body(verifier.body))
        return f"l={signed} of {total} body octets signed"

    @staticmethod
    def _symbols(outcomes: list[_Verified], ctx: CheckContext) -> list[Symbol]:
        """One symbol per kind of outcome, its reason naming every signature concerned."""
        reasons: dict[str, list[str]] = {}
        for outcome in outcomes:
            if outcome.symbol is None:
                continue
            who = _who(outcome.result)
            detail = outcome.result.reason
            text = who if outcome.symbol == "DKIM_VALID" else f"{who}: {detail}"
            reasons.setdefault(outcome.symbol, []).append(text)
            if outcome.symbol == "DKIM_VALID" and outcome.result.body_length:
                reasons.setdefault("DKIM_BODY_LENGTH", []).append(f"{who}: {detail}")
        if all(o.result.result == "policy" for o in outcomes):
            reasons["DKIM_NONE"] = ["only l= signatures, ignored (dkim.body_length: ignore)"]
        ordered = [name for name in Dkim.symbols if name in reasons]
        return [ctx.symbol(name, "; ".join(reasons[name])) for name in ordered]
