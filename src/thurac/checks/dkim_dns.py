"""dkimpy's key lookups through the message's DnsSession, and the key-size policy applied
before dkimpy computes anything: shared by the DKIM and ARC checks."""

from __future__ import annotations

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from thurac.dns import MAX_TEMPERRORS, DnsSession, Lookup

# dkimpy fetches keys through a ``dnsfunc(name, timeout=...)`` argument of
# DKIM.verify and arc_verify.  Its own resolver would bypass our nameservers,
# cache and budget; worse, it turns a DNS timeout or an unreachable server
# into the same False as a forged signature.  DkimDns answers dkimpy from a
# DnsSession and keeps temporary failures on the side, so that a DNS outage
# can be told apart from a bad signature (DKIM_TEMPERROR, never DKIM_INVALID).


class DkimDns:
    """A dkimpy ``dnsfunc`` that looks keys up through one message's DnsSession.

    dkimpy calls it as ``dnsfunc(name, timeout=...)`` with the key record's
    name as bytes (``b"sel._domainkey.example.com."``) and expects the TXT
    record as bytes, or a false value when there is no key.  The first TXT
    record is returned, as dkimpy's own lookup does (RFC 6376 3.6.2.2: several
    records at one selector give undefined results).  ``timeout`` is ignored:
    the session's per-query timeout and per-message budget bound the lookup.

    When a lookup fails temporarily, dkimpy is told "no key" (it cannot tell
    the difference anyway) and the failure is recorded: ``temperror`` becomes
    True and ``failures`` says which name failed and why (at most
    :data:`MAX_TEMPERRORS` entries).  ``last`` is the most recent lookup, so a
    caller can say why a key was missing.
    """

    def __init__(self, session: DnsSession) -> None:
        self.session = session
        self.failures: list[str] = []
        self.last: Lookup | None = None

    @property
    def temperror(self) -> bool:
        """True once any lookup through this object failed temporarily."""
        return bool(self.failures)

    def __call__(self, name: bytes | str, timeout: float | None = None) -> bytes | None:
        if isinstance(name, bytes):
            try:
                text = name.decode("ascii")  # d= and s= are ASCII (IDNs come as A-labels)
            except UnicodeDecodeError:
                self.last = Lookup("nxdomain", error="malformed name: not ASCII")
                return None
        else:
            text = name
        lookup = self.session.txt(text)
        self.last = lookup
        if lookup.temperror:
            if len(self.failures) < MAX_TEMPERRORS:
                self.failures.append(f"{text.rstrip('.').lower()}/TXT: {lookup.error}")
            return None
        if not lookup.ok or not lookup.values:
            return None
        return lookup.values[0].encode("utf-8")


def dkim_dnsfunc(session: DnsSession) -> DkimDns:
    """A fresh dkimpy ``dnsfunc`` over ``session`` (one per signature keeps failures apart)."""
    return DkimDns(session)


class KeyGate:
    """A dkimpy ``dnsfunc`` that applies the key-size policy before dkimpy uses a key.

    It fetches the key record through a :class:`DkimDns` and withholds from dkimpy
    (which then sees "no key" and computes nothing) RSA keys below ``min_bits`` (RFC 8301: not
    acceptable) or above ``max_bits`` (legal, but refused to bound verification cost), revoked
    keys and unparsable records.  ed25519 keys (RFC 8463) have one size and pass as they are.
    ``problems`` says why keys were withheld, ``weak`` whether one was too small, ``key_bits``
    and ``key_type`` describe the last key seen.  DNS failures are in ``dns.failures``.
    """

    def __init__(self, dns: DkimDns, min_bits: int, max_bits: int) -> None:
        self.dns = dns
        self.min_bits = min_bits
        self.max_bits = max_bits
        self.key_bits: int | None = None
        self.key_type = ""
        self.weak = False
        self.problems: list[str] = []

    def __call__(self, name: bytes | str, timeout: float | None = None) -> bytes | None:
        record = self.dns(name, timeout)
        shown = (name.decode("ascii", "replace") if isinstance(name, bytes) else name).rstrip(".")
        if record is None:
            lookup = self.dns.last
            if lookup is not None and not lookup.temperror:
                status = "NXDOMAIN" if lookup.status == "nxdomain" else "no TXT record"
                self.problems.append(f"no key at {shown} ({status})")
            return None
        try:
            tags = parse_tag_value(record)
        except InvalidTagValueList:
            self.problems.append(f"key record at {shown} cannot be parsed")
            return None
        if not tags.get(b"p", b"").strip():
            # RFC 6376 3.6.1: an empty p= means the key has been revoked.
            self.problems.append(f"key at {shown} is revoked (empty p=)")
            return None
        try:
            _, bits, ktag, _ = dkim.evaluate_pk(name, record)
        except (dkim.DKIMException, ValueError, TypeError):  # binascii.Error is a ValueError
            self.problems.append(f"key record at {shown} cannot be parsed")
            return None
        self.key_bits = int(bits) if bits is not None else None
        self.key_type = ktag.decode("ascii") if isinstance(ktag, bytes) else str(ktag or "")
        if self.key_type == "rsa" and self.key_bits is not None:
            if self.key_bits < self.min_bits:
                self.weak = True
                self.problems.append(
                    f"{self.key_bits}-bit RSA key below dkim.min_key_bits ({self.min_bits})"
                )
                return None
            if self.key_bits > self.max_bits:
                self.problems.append(
                    f"{self.key_bits}-bit RSA key above dkim.max_key_bits ({self.max_bits}), "
                    "refused"
                )
                return None
        return record
