"""Domain names as the checks compare them: one spelling (lowercase, no trailing dot, A-labels)
and the organisational domain from the Public Suffix List (the publicsuffixlist package's
copy: no network)."""

from __future__ import annotations

import threading

from publicsuffixlist import PublicSuffixList

_psl: PublicSuffixList | None = None
_psl_lock = threading.Lock()


def _public_suffixes() -> PublicSuffixList:
    """The Public Suffix List, parsed on first use (about 50 ms) and shared by all threads."""
    global _psl
    if _psl is None:
        with _psl_lock:
            if _psl is None:
                _psl = PublicSuffixList()
    return _psl


def normal_domain(domain: str) -> str:
    """Lowercase, no trailing dot, A-labels for internationalised names (as DKIM d= is)."""
    text = domain.strip().rstrip(".").lower()
    if text.isascii():
        return text
    try:
        return text.encode("idna").decode("ascii")
    except UnicodeError:
        return text  # not a valid IDN: it will not align with anything, nor resolve


def organizational_domain(domain: str) -> str:
    """RFC 7489 3.2: the registrable domain (one label below the public suffix).

    A domain that is itself a public suffix (or not a domain at all) is its own
    organisational domain.
    """
    name = normal_domain(domain)
    if not name:
        return name
    return _public_suffixes().privatesuffix(name) or name
