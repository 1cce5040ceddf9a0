"""Authentication-Results (RFC 8601): our header from AuthResults, and spotting forged copies.

Built by hand rather than with the authres package: authres leaves any value that
contains "@" unquoted and does not escape comments, so a hostile envelope sender or
DKIM d= could break out of its property.  Here every value is sanitised
(thurac.headers.sanitize), bounded, and written either as an RFC 2045 token or as a
quoted-string; comments are escaped; result keywords come from a fixed vocabulary.
The tests parse what we write back with authres.
"""

from __future__ import annotations

import re

from thurac.auth import OUTCOMES, AuthResults, DkimResult
from thurac.text import sanitize

HEADER = "Authentication-Results"

# Bounds that keep the header (folded one method per line) far below SMTP's line limit.
MAX_REASON = 200  # characters of one reason= text
MAX_DOMAIN = 253  # a DNS name cannot be longer
MAX_ADDRESS = 320  # 64-octet local part, "@", 255-octet domain (RFC 5321 4.5.3.1)
MAX_DKIM_ENTRIES = 10  # dkim= entries written; dkim.max_signatures is smaller by default

_FOLD = ";\n\t"  # one method per continuation line, as RFC 8601's own examples
# RFC 2045 token: printable ASCII except SPACE and tspecials ()<>@,;:\"/[]?=
_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
# A dot-atom local part (RFC 5322 3.2.3): the addr-spec form of a pvalue needs no quoting.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def _ascii(text: str, limit: int) -> str:
    """One sanitised line of printable ASCII (other characters become '?')."""
    return "".join(c if c.isascii() else "?" for c in sanitize(text, limit))


def _quoted(text: str, limit: int) -> str:
    escaped = _ascii(text, limit).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _property(name: str, text: str, limit: int) -> str:
    """` name=value`, or nothing when the value sanitises to nothing (parsers reject "")."""
    return f" {name}={_value(text, limit)}" if _ascii(text, limit) else ""


def _value(text: str, limit: int) -> str:
    """An RFC 8601 value: a token when it is one, else a quoted-string."""
    clean = _ascii(text, limit)
    return clean if _TOKEN.fullmatch(clean) else _quoted(clean, limit)


def _address(address: str) -> str:
    """A pvalue for an address or a domain: bare when it is a plain addr-spec, else quoted."""
    clean = _ascii(address, MAX_ADDRESS)
    local, at, domain = clean.rpartition("@")
    if at and _DOT_ATOM.fullmatch(local) and _TOKEN.fullmatch(domain):
        return clean
    return _value(clean, MAX_ADDRESS)


def _comment(text: str) -> str:
    escaped = re.sub(r"([()\\])", r"\\\1", _ascii(text, MAX_REASON))
    return f" ({escaped})" if escaped else ""


def _result(method: str, result: str) -> str:
    """The result keyword, or permerror for anything outside the method's vocabulary."""
    return result if result in OUTCOMES[method] else "permerror"


# A temporary error's own words name our resolver's trouble (which server, which errno):
# the header leaves with the message, so it only says what kind of failure it was.
TEMPERROR_REASON = "DNS temporary failure"


def _reason(reason: str, result: str = "") -> str:
    if result == "temperror":
        reason = TEMPERROR_REASON
    return f" reason={_quoted(reason, MAX_REASON)}" if _ascii(reason, MAX_REASON) else ""


def _dkim(entry: DkimResult) -> str:
    bits = _comment(f"{entry.key_bits}-bit key") if entry.key_bits else ""
    return (f"dkim={_result('dkim', entry.result)}{bits}{_reason(entry.reason, entry.result)}"
            f"{_property('header.d', entry.domain, MAX_DOMAIN)}"
            f"{_property('header.s', entry.selector, MAX_DOMAIN)}")


def resinfos(auth: AuthResults) -> list[str]:
    """One `method=result ...` clause per result, in the order spf, dkim, dmarc, arc."""
    found: list[str] = []
    if auth.spf is not None:
        spf = auth.spf
        identity = "smtp.helo" if spf.identity == "helo" else "smtp.mailfrom"
        text = f"spf={_result('spf', spf.result)}{_reason(spf.reason, spf.result)}"
        if _ascii(spf.address or spf.domain, MAX_ADDRESS):
            text += f" {identity}={_address(spf.address or spf.domain)}"
        found.append(text)
    for entry in auth.dkim[:MAX_DKIM_ENTRIES]:
        found.append(_dkim(entry))
    if auth.dmarc is not None:
        dmarc = auth.dmarc
        policy = _comment(f"p={dmarc.policy}") if dmarc.policy else ""
        reason = _reason(dmarc.reason, dmarc.result)
        found.append(f"dmarc={_result('dmarc', dmarc.result)}{policy}{reason}"
                     f"{_property('header.from', dmarc.domain, MAX_DOMAIN)}")
    if auth.arc is not None:
        arc = auth.arc
        sealer = ""
        if arc.sealer:
            sealer = _comment(f"sealer {arc.sealer}{', trusted' if arc.trusted else ''}")
        found.append(f"arc={_result('arc', arc.result)}{sealer}{_reason(arc.reason, arc.result)}")
    return found


def authentication_results(auth: AuthResults, authserv_id: str) -> str | None:
    """The header value, folded one method per line; None when there is nothing to say."""
    clauses = resinfos(auth)
    if not clauses:
        return None
    return _FOLD.join([_value(authserv_id, MAX_DOMAIN), *clauses])


def _skip_cfws(text: str, index: int) -> int | None:
    """Index after whitespace and (nested, escaped) comments; None inside an unclosed one."""
    depth = 0
    while index < len(text):
        char = text[index]
        if depth and char == "\\":
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth and not char.isspace():
            return index
        index += 1
    return None if depth else index


def authserv_id_of(value: str) -> str | None:
    """The authserv-id an Authentication-Results value claims, or None if there is none.

    Comments and whitespace before it are skipped; a version number or comment after
    it is not part of it; a quoted-string id is unquoted.  Never raises.
    """
    start = _skip_cfws(value, 0)
    if start is None or start >= len(value):
        return None
    if value[start] == '"':
        chars: list[str] = []
        index = start + 1
        while index < len(value) and value[index] != '"':
            if value[index] == "\\" and index + 1 < len(value):
                index += 1
            chars.append(value[index])
            index += 1
        return "".join(chars) or None
    end = start
    while end < len(value) and not value[end].isspace() and value[end] not in ';("':
        end += 1
    return value[start:end] or None


def _comparable(authserv_id: str) -> str:
    return authserv_id.strip().rstrip(".").lower()


def is_our_authres(name: str, value: str, authserv_id: str) -> bool:
    """True for an Authentication-Results field that claims our authserv-id (any case).

    Such a field arriving from outside is a forgery (RFC 8601 5): remove it before
    adding ours.  Fields of other hosts, and other header names, are left alone.
    """
    if name.strip().lower() != HEADER.lower():
        return False
    claimed = authserv_id_of(value)
    return claimed is not None and _comparable(claimed) == _comparable(authserv_id)
