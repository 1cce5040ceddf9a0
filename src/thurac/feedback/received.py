"""Received lines of a reported message: each hop's client address, receiving host and queue id,
the originating IP (the client that handed the mail to the first of our hosts) and the queue
ids our own Postfix gave it, so a complaint can be matched with the event we stored.

Received lines are written by every MTA in its own dialect (Postfix, Exim, Sendmail, Exchange,
Gmail) and a sender may forge any below the first of ours: the parser reads clauses (`from`,
`by`, `with`, `id`, `for`) with comments kept aside, never a regex over the whole line, and
looks at a bounded number of lines, newest first, as a receiving MTA would add them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from thurac.message import canonical_ip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_RECEIVED = 50  # Received lines examined, newest first (Postfix's hopcount_limit)
MAX_RECEIVED_CHARS = 2000  # characters of one Received value parsed; the rest is ignored

_KEYWORDS = frozenset({"from", "by", "via", "with", "id", "for"})
_BRACKETED_IP = re.compile(r"\[(?:ipv6:)?([0-9a-f:.]{2,45})\]", re.IGNORECASE)
_QUEUE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{3,31}")
# What Postfix's smtpd writes after "with" (RFC 3848 and Postfix's UTF8 prefix); LMTP too.
_POSTFIX_PROTOCOL = re.compile(r"(?:UTF8)?(?:E?SMTPS?A?|LMTPS?A?)", re.IGNORECASE)
# "Private or loopback", as ignore_private means it: not Python's is_private, which also
# covers the documentation ranges (192.0.2.0/24 ...) that are real addresses in test corpora.
_PRIVATE = tuple(ipaddress.ip_network(net) for net in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
    "169.254.0.0/16", "0.0.0.0/8", "::1/128", "::/128", "fc00::/7", "fe80::/10",
))


@dataclass(frozen=True, slots=True)
class Hop:
    """One Received line, as far as it could be read."""

    from_ip: str = ""  # the client's address (canonical), '' when the hop names none
    by_host: str = ""  # the receiving host, lowercase, no trailing dot
    protocol: str = ""  # the `with` clause: ESMTPS, LMTP, esmtpa ...
    queue_id: str = ""  # the `id` clause, '' when absent or not an id
    postfix: bool = False  # the `by` clause carries Postfix's "(Postfix" comment
    date: str = ""  # what follows the last ';'


def _items(text: str) -> list[tuple[bool, str]]:
    """(is_comment, text) in order: bare words, and parenthesised comments (nesting kept)."""
    items: list[tuple[bool, str]] = []
    word: list[str] = []
    comment: list[str] = []
    depth = 0
    escaped = False
    for ch in text:
        if depth:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if not depth:
                    items.append((True, "".join(comment)))
                    comment = []
                    continue
            comment.append(ch)
        elif ch == "(":
            if word:
                items.append((False, "".join(word)))
                word = []
            depth = 1
        elif ch.isspace():
            if word:
                items.append((False, "".join(word)))
                word = []
        else:
            word.append(ch)
    if word:
        items.append((False, "".join(word)))
    if comment:  # an unclosed comment: keep what it said
        items.append((True, "".join(comment)))
    return items


def _ip_in(items: Sequence[tuple[bool, str]]) -> str:
    """The client address of a `from` clause. Postfix and Sendmail write the HELO name first
    and the connecting address in the comment ("from [10.9.8.7] (unknown [192.0.2.1])": the
    HELO may itself be a literal, and is the client's word), so a [literal] in a comment comes
    first, then one given as the name (Exim without reverse DNS: "from [192.0.2.1]"), then a
    bare address in a comment (Exchange: "from HOST (2603:10a6::1)") or as the name."""
    for want_comment in (True, False):
        for is_comment, text in items:
            if is_comment == want_comment:
                for found in _BRACKETED_IP.finditer(text):
                    ip = _valid_ip(found[1])
                    if ip:
                        return ip
    for want_comment in (True, False):
        for is_comment, text in items:
            if is_comment == want_comment:
                for word in text.split():
                    ip = _valid_ip(word.strip("[]();,"))
                    if ip:
                        return ip
    return ""


def _valid_ip(text: str) -> str:
    if not text or not any(ch in text for ch in ".:"):
        return ""
    ip = canonical_ip(text)
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return ""
    return ip


def parse_received(value: str) -> Hop:
    """Read one Received value; what cannot be read is left empty."""
    text = " ".join(value[:MAX_RECEIVED_CHARS].split())
    head, semicolon, date = text.rpartition(";")
    if not semicolon:
        head, date = text, ""
    clauses: dict[str, list[tuple[bool, str]]] = {}
    current: list[tuple[bool, str]] | None = None
    for is_comment, item in _items(head):
        keyword = item.lower()
        if not is_comment and keyword in _KEYWORDS and keyword not in clauses:
            current = clauses.setdefault(keyword, [])
        elif current is not None:
            current.append((is_comment, item))
    by = clauses.get("by", [])
    by_words = [item for is_comment, item in by if not is_comment]
    with_words = [item for is_comment, item in clauses.get("with", []) if not is_comment]
    id_words = [item for is_comment, item in clauses.get("id", []) if not is_comment]
    queue_id = id_words[0].rstrip(";,.") if id_words else ""
    return Hop(
        from_ip=_ip_in(clauses.get("from", [])),
        by_host=by_words[0].rstrip(".").lower() if by_words else "",
        protocol=with_words[0] if with_words else "",
        queue_id=queue_id if _QUEUE_ID.fullmatch(queue_id) else "",
        postfix=any(is_comment and item.lstrip().startswith("Postfix") for is_comment, item in by),
        date=date.strip(),
    )


def parse_hops(values: Iterable[str], limit: int = MAX_RECEIVED) -> list[Hop]:
    """The first `limit` Received values (newest first, as they stand in the header), read."""
    hops: list[Hop] = []
    for value in values:
        if len(hops) >= limit:
            break
        hops.append(parse_received(value))
    return hops


def host_names(names: Iterable[str]) -> frozenset[str]:
    """Our host names in the spelling Hop.by_host has."""
    return frozenset(n.strip().rstrip(".").lower() for n in names if n.strip())


def is_ours(hop: Hop, our_hosts: frozenset[str]) -> bool:
    """A hop added by one of our hosts; with no names given, any Postfix ESMTP/LMTP hop."""
    if our_hosts:
        return hop.by_host in our_hosts
    return hop.postfix and bool(_POSTFIX_PROTOCOL.fullmatch(hop.protocol))


def _counts(ip: str, internal_networks: Sequence[Network], ignore_private: bool) -> bool:
    """Whether `ip` may be the originating client: outside our networks (and, when asked,
    neither private nor loopback)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    nets: Iterable[Network] = internal_networks
    if ignore_private:
        nets = (*internal_networks, *_PRIVATE)
    return not any(address.version == net.version and address in net for net in nets)


def our_chain(
    hops: Sequence[Hop],
    *,
    internal_networks: Sequence[Network] = (),
    ignore_private: bool = False,
) -> list[Hop]:
    """The hops written by hosts we trust: from the newest down to the first whose client lies
    outside `internal_networks` (that hop included: our host wrote it, about the client that
    handed the mail in). Everything below was written by others and may be forged."""
    chain: list[Hop] = []
    for hop in hops:
        chain.append(hop)
        if hop.from_ip and _counts(hop.from_ip, internal_networks, ignore_private):
            break
    return chain


def originating_ip(
    hops: Sequence[Hop],
    *,
    internal_networks: Sequence[Network] = (),
    ignore_private: bool = False,
) -> str:
    """The client that handed the message to the first of our hosts: walking newest first, the
    first hop whose client lies outside `internal_networks`; '' when no hop names one."""
    chain = our_chain(hops, internal_networks=internal_networks, ignore_private=ignore_private)
    last = chain[-1] if chain else Hop()
    return last.from_ip if last.from_ip and _counts(
        last.from_ip, internal_networks, ignore_private) else ""


def queue_ids(
    hops: Sequence[Hop],
    *,
    our_hosts: Iterable[str] = (),
    internal_networks: Sequence[Network] = (),
    ignore_private: bool = False,
) -> tuple[str, ...]:
    """Queue ids our hosts gave the message, oldest first: the first is where it entered (the
    queue id thurac scored it under); later ones come from re-injection after a filter. Only
    hops of our chain count: a "by mx.example.test (Postfix) id ..." line below it is the
    sender's invention."""
    ours = host_names(our_hosts)
    chain = our_chain(hops, internal_networks=internal_networks, ignore_private=ignore_private)
    found = [hop.queue_id for hop in chain if hop.queue_id and is_ours(hop, ours)]
    return tuple(dict.fromkeys(reversed(found)))


def our_arrival(
    hops: Sequence[Hop],
    *,
    our_hosts: Iterable[str] = (),
    internal_networks: Sequence[Network] = (),
    ignore_private: bool = False,
) -> str:
    """The date of the oldest hop of ours in our chain ('' when none): when it reached us."""
    ours = host_names(our_hosts)
    chain = our_chain(hops, internal_networks=internal_networks, ignore_private=ignore_private)
    dates = [hop.date for hop in chain if hop.date and is_ours(hop, ours)]
    return dates[-1] if dates else ""
