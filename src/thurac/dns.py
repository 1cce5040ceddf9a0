"""The one DNS resolver every lookup in thurac goes through.

SPF, DKIM, DMARC, iprev and any other check must not talk to DNS on their
own: they take a :class:`DnsSession` and ask it.  Centralising this gives us,
in one place:

* **configurable nameservers** -- ``"IP"`` or ``"IP:PORT"`` strings (IPv6 as
  ``"[::1]:5353"``); an empty list means the system resolver from
  ``/etc/resolv.conf`` (127.0.0.1 if that file lists none, like glibc);
* **a per-query timeout** and **a per-message budget**: a slow or hostile DNS
  server can delay one message by at most the budget, never longer.  Once the
  budget is spent, further lookups return ``temperror`` without sending a
  packet (answers already in the cache are still served: that costs nothing);
* **a shared, bounded, TTL-honouring answer cache** (dnspython's
  ``LRUCache``, with dnspython's own keys); NXDOMAIN and no-data answers are
  cached too, for the SOA minimum (or 5 minutes when there is no SOA);
  failures are never cached. In front of it, the answers already turned into
  a :class:`Lookup`, keyed by the text asked for: parsing the name, hashing
  dnspython's ``Name`` and converting the cached answer to text cost more than
  the rest of a cache hit (measured: 170 µs of a query);
* **no exceptions for DNS failures**: timeouts, SERVFAIL, unreachable
  servers, malformed replies all come back as a :class:`Lookup` whose status
  is ``"temperror"``; the reason is in ``Lookup.error`` and in the session's
  ``temperrors`` list, so the milter can log why a message was deferred.
  Names that cannot exist in the DNS (empty, over-long, empty labels,
  whitespace/control characters, bad IDN) give ``"nxdomain"`` without any
  network traffic;
* **plain-text results**: callers never see dnspython objects.

dnspython does the protocol work (building queries, UDP/TCP exchanges,
matching replies, following CNAME chains, caching), but the retry loop is our
own, in :meth:`Resolver._resolve`.  ``dns.resolver.Resolver.resolve`` would
also retry truncated UDP answers over TCP (it does), but between rounds of
nameservers it sleeps a backoff (0.1 s, doubling up to 2 s) *before*
checking its lifetime, so a timed-out query overruns its lifetime by that
sleep; with a per-message budget that overrun adds up.  Our loop never
sleeps and never starts an attempt past the deadline.  Truncated UDP answers
are repeated over TCP; we advertise an EDNS0 buffer of 1232 bytes (DNS flag
day 2020), so most answers, DKIM keys included, fit in one UDP datagram.

Threading: one :class:`Resolver` (and its cache) is shared by all milter
connection threads.  It is immutable after construction except for the
cache, and ``LRUCache`` has its own lock; each query keeps its state in local
variables.  A :class:`DnsSession` belongs to one message; its bookkeeping is
locked anyway, so using it from helper threads is safe.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.mxbase
import dns.rdtypes.nsbase
import dns.rdtypes.txtbase
import dns.resolver

from thurac import metrics
from thurac.nameservers import NameserverHealth

log = logging.getLogger("thurac.dns")

__all__ = [
    "DEFAULT_PORT",
    "EDNS_PAYLOAD",
    "MAX_TEMPERRORS",
    "MAX_VALUES",
    "NULL_MX",
    "DnsSession",
    "DnsStatus",
    "Lookup",
    "Resolver",
    "is_null_mx",
    "parse_mx",
    "parse_nameserver",
]

DnsStatus = Literal["ok", "nxdomain", "nodata", "temperror"]
# Why a lookup is a temperror: no answer in time, the server's own error (SERVFAIL, REFUSED),
# nothing reachable, any other bad exchange, the message's budget spent, every server down.
DnsFailure = Literal["", "timeout", "servfail", "refused", "unreachable", "error", "budget",
                     "down"]

DEFAULT_PORT = 53

# At most this many values are kept from one answer (in the server's order).
# No legitimate mail-related RRset comes close (SPF allows one TXT record,
# DKIM one key, MX sets are a handful); a hostile zone can return hundreds
# of records to make every caller loop over them, so we cut it off here.
MAX_VALUES = 64

# At most this many entries are kept in DnsSession.temperrors, so a message
# that triggers many failing lookups cannot grow the list without bound.
MAX_TEMPERRORS = 32

# EDNS0 UDP payload size we advertise (the DNS flag day 2020 value: avoids IP
# fragmentation; larger answers come back truncated and are retried over TCP).
EDNS_PAYLOAD = 1232

# How a null MX (RFC 7505: "MX 0 .") appears in Lookup.values.  The root is
# written "." rather than "" so that "PREF HOST".split() always gives two
# fields.
NULL_MX = "0 ."

# Used when /etc/resolv.conf is missing or lists no nameserver (glibc does
# the same).
_FALLBACK_NAMESERVERS = ("127.0.0.1",)

# Below this many seconds left, a query attempt is not worth sending.
_MIN_ATTEMPT_TIME = 0.005

_MAX_NAME_WIRE_LENGTH = 255
_MAX_LABEL_LENGTH = 63


@dataclass(frozen=True)
class Lookup:
    """The result of one DNS query, in plain text.

    ``values`` depends on the record type:

    * A / AAAA: addresses (``"192.0.2.1"``, ``"2001:db8::1"``);
    * PTR / CNAME / NS: names, lowercased, without trailing dot;
    * TXT: one string per record, its character-strings joined with ``""``
      and decoded as UTF-8 with ``errors="replace"``;
    * MX: ``"PREF HOST"``, host lowercased without trailing dot; the root
      (null MX) is written ``"."``, so a null MX is exactly ``"0 ."``
      (:data:`NULL_MX`, see :func:`is_null_mx`);
    * other types: dnspython's presentation format.

    At most :data:`MAX_VALUES` values are kept.  ``ttl`` is the remaining
    time-to-live in seconds of the (possibly cached) answer, 0 for failures;
    ``error`` says why a lookup failed, and ``failure`` which kind of
    failure a temperror is (for thurac_dns_errors_total); none of them takes
    part in equality, so two lookups are equal when they give the same answer.
    """

    status: DnsStatus
    values: tuple[str, ...] = ()
    ttl: int = field(default=0, compare=False)
    error: str = field(default="", compare=False)
    failure: DnsFailure = field(default="", compare=False)

    @property
    def ok(self) -> bool:
        """True when the name has records of the requested type."""
        return self.status == "ok"

    @property
    def temperror(self) -> bool:
        """True when the lookup failed and might succeed later."""
        return self.status == "temperror"


def is_null_mx(lookup: Lookup) -> bool:
    """True when an MX lookup returned exactly one record, ``MX 0 .`` (RFC 7505)."""
    return lookup.ok and lookup.values == (NULL_MX,)


def parse_mx(value: str) -> tuple[int, str]:
    """Split an MX value from :class:`Lookup` into ``(preference, host)``.

    The host of a null MX is ``"."``.
    """
    pref, _, host = value.partition(" ")
    return int(pref), host


def parse_nameserver(spec: str) -> tuple[str, int]:
    """Parse ``"IP"``, ``"IP:PORT"``, ``"[IPv6]"`` or ``"[IPv6]:PORT"``.

    A bare IPv6 address (``"::1"``) is taken whole, with the default port;
    use brackets to give an IPv6 address a port.  Host names are refused: a
    resolver that needs a resolver to be found is a configuration loop.

    Returns ``(address, port)`` with the address in canonical form; raises
    :class:`ValueError` with a message naming the offending value.
    """
    text = spec.strip()
    if not text:
        raise ValueError("invalid nameserver '': empty value")
    port_text: str | None = None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError(f"invalid nameserver {spec!r}: missing ']'")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"invalid nameserver {spec!r}: expected ':PORT' after ']'")
            port_text = rest[1:]
        try:
            if ipaddress.ip_address(host).version != 6:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"invalid nameserver {spec!r}: {host!r} in brackets is not an IPv6 address"
            ) from None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host = text
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"invalid nameserver {spec!r}: {host!r} is not an IP address "
            "(use IP, IP:PORT or [IPv6]:PORT)"
        ) from None
    port = DEFAULT_PORT
    if port_text is not None:
        if not port_text.isascii() or not port_text.isdigit():
            raise ValueError(f"invalid nameserver {spec!r}: port {port_text!r} is not a number")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise ValueError(f"invalid nameserver {spec!r}: port {port} is not between 1 and 65535")
    return str(address), port


def _to_name(name: str) -> dns.name.Name:
    """Turn text into an absolute DNS name, or raise ValueError saying why.

    Labels are taken literally (no backslash escapes, unlike
    ``dns.name.from_text``), so text from a message cannot smuggle in other
    bytes.  Non-ASCII labels are IDNA-encoded.  Anything but whitespace and
    control characters is allowed in ASCII labels: SPF macros can put
    e-mail local parts (``+``, ``=``...) into names legitimately.
    """
    if name == ".":
        return dns.name.root
    if not name:
        raise ValueError("empty name")
    text = name[:-1] if name.endswith(".") else name
    labels: list[bytes] = []
    for label in text.split("."):
        if not label:
            raise ValueError("empty label")
        if label.isascii():
            raw = label.encode("ascii")
        else:
            try:
                raw = label.encode("idna")
            except UnicodeError as exc:
                raise ValueError(f"bad internationalised label: {exc}") from None
        if any(c <= 0x20 or c == 0x7F for c in raw):
            raise ValueError("whitespace or control character in name")
        if len(raw) > _MAX_LABEL_LENGTH:
            raise ValueError(f"label longer than {_MAX_LABEL_LENGTH} octets")
        labels.append(raw)
    if sum(len(raw) + 1 for raw in labels) + 1 > _MAX_NAME_WIRE_LENGTH:
        raise ValueError(f"name longer than {_MAX_NAME_WIRE_LENGTH} octets")
    try:
        return dns.name.Name([*labels, b""])
    except dns.exception.DNSException as exc:  # pragma: no cover - checked above
        raise ValueError(str(exc)) from None


def _name_text(name: dns.name.Name) -> str:
    if name == dns.name.root:
        return "."
    return name.to_text(omit_final_dot=True).lower()


def _rdata_text(rdata: dns.rdata.Rdata) -> str:
    if isinstance(rdata, (dns.rdtypes.IN.A.A, dns.rdtypes.IN.AAAA.AAAA)):
        return str(rdata.address)
    if isinstance(rdata, dns.rdtypes.nsbase.NSBase):  # PTR, CNAME, NS, DNAME
        return _name_text(rdata.target)
    if isinstance(rdata, dns.rdtypes.mxbase.MXBase):
        return f"{rdata.preference} {_name_text(rdata.exchange)}"
    if isinstance(rdata, dns.rdtypes.txtbase.TXTBase):
        return b"".join(rdata.strings).decode("utf-8", errors="replace")
    return rdata.to_text()


# Answers that say the server could not or would not answer (the rest are "error").
_RCODE_FAILURES: dict[str, DnsFailure] = {"SERVFAIL": "servfail", "REFUSED": "refused"}

# The check of a suspect nameserver: the root's NS, in every resolver's cache.
_CHECK_QUERY = dns.message.make_query(".", dns.rdatatype.NS, dns.rdataclass.IN)


class _TcpTimeout(Exception):
    """A truncated UDP answer whose TCP retry did not finish in time."""


def _remaining_ttl(answer: dns.resolver.Answer) -> int:
    return max(0, math.ceil(answer.expiration - time.time()))


def _answer_lookup(answer: dns.resolver.Answer) -> Lookup:
    ttl = _remaining_ttl(answer)
    rrset = answer.rrset
    if rrset is None:
        return Lookup("nodata", (), ttl)
    values: list[str] = []
    for rdata in rrset:
        if len(values) >= MAX_VALUES:
            break
        values.append(_rdata_text(rdata))
    return Lookup("ok", tuple(values), ttl)


def _error_text(exc: BaseException) -> str:
    """A failure in a few words, without addresses or errno numbers: lookup errors reach
    symbol reasons and Authentication-Results, which leave our network with the message."""
    if isinstance(exc, dns.exception.Timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


def _server_text(server: tuple[str, int]) -> str:
    ip, port = server
    host = f"[{ip}]" if ":" in ip else ip
    return host if port == DEFAULT_PORT else f"{host}:{port}"


def _system_nameservers() -> list[tuple[str, int]]:
    """Nameservers from /etc/resolv.conf, or 127.0.0.1 if it names none."""
    try:
        system = dns.resolver.Resolver(configure=True)
    except dns.resolver.NoResolverConfiguration:
        return [(ip, DEFAULT_PORT) for ip in _FALLBACK_NAMESERVERS]
    servers: list[tuple[str, int]] = []
    for ns in system.nameservers:
        address = str(ns)
        try:
            ipaddress.ip_address(address)
        except ValueError:  # e.g. a DoH URL: not something we speak
            continue
        servers.append((address, system.nameserver_ports.get(address, system.port)))
    return servers or [(ip, DEFAULT_PORT) for ip in _FALLBACK_NAMESERVERS]


class Resolver:
    """The process-wide resolver: nameserver list, timeout and answer cache.

    Create one at start-up and share it; call :meth:`session` once per
    message.  ``timeout`` bounds one query, all nameservers and retries
    together; each nameserver attempt gets ``timeout / len(nameservers)`` so
    a dead first server does not eat the whole query time.  ``cache_size``
    is the maximum number of cached answers (0 disables the cache).  Raises
    ValueError for bad arguments (they are configuration errors).
    """

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        timeout: float = 2.0,
        cache_size: int = 10000,
        *,
        down_after: int = 3,
        probe_every: float = 10.0,
    ) -> None:
        if isinstance(nameservers, str):
            raise ValueError("nameservers must be a list of strings, not a string")
        if not timeout > 0:
            raise ValueError(f"DNS timeout must be positive, got {timeout!r}")
        if cache_size < 0:
            raise ValueError(f"DNS cache size must not be negative, got {cache_size!r}")
        servers = [parse_nameserver(spec) for spec in nameservers]
        if not servers:
            servers = _system_nameservers()
        self.servers: tuple[tuple[str, int], ...] = tuple(servers)
        self.nameservers: tuple[str, ...] = tuple(_server_text(s) for s in servers)
        self.timeout = float(timeout)
        self._attempt_timeout = self.timeout / len(self.servers)
        self.cache: dns.resolver.LRUCache | None = (
            dns.resolver.LRUCache(cache_size) if cache_size else None
        )
        self.health = NameserverHealth(self.servers, self.nameservers, down_after=down_after,
                                       retry_after=probe_every)
        # (name, type) as asked → (answer, time.time() it expires): see the module docstring.
        self._known: dict[tuple[str, str], tuple[Lookup, float]] = {}
        self._known_size = cache_size

    def session(self, budget: float) -> DnsSession:
        """A new per-message session allowed ``budget`` seconds of DNS time."""
        return DnsSession(self, budget)

    def _known_answer(self, name: str, rdtype: str) -> Lookup | None:
        """A cached answer to exactly this question as text, with its remaining TTL."""
        known = self._known.get((name, rdtype))
        if known is None:
            return None
        lookup, expires = known
        left = expires - time.time()
        if left <= 0:
            self._known.pop((name, rdtype), None)
            return None
        return replace(lookup, ttl=math.ceil(left))

    def _keep(self, name: str, rdtype: str, lookup: Lookup) -> None:
        """Remember an answer (never a failure) for at most the TTL it came with."""
        # Lookup.ttl was rounded up from the cache's expiry: one second less never outlives it.
        if lookup.temperror or lookup.ttl <= 1 or not self._known_size:
            return
        if len(self._known) >= self._known_size:
            self._known.clear()
        self._known[(name, rdtype)] = (lookup, time.time() + lookup.ttl - 1)

    def _cached(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Lookup | None:
        """The cached answer for a query, without any network traffic.

        Keys are dnspython's own: ``(name, type, class)`` for answers and
        no-data, ``(name, ANY, class)`` for NXDOMAIN.
        """
        if self.cache is None:
            return None
        answer = self.cache.get((qname, rdtype, dns.rdataclass.IN))
        if answer is not None:
            return _answer_lookup(answer)
        answer = self.cache.get((qname, dns.rdatatype.ANY, dns.rdataclass.IN))
        if answer is not None and answer.response.rcode() == dns.rcode.NXDOMAIN:
            return Lookup("nxdomain", (), _remaining_ttl(answer))
        return None

    def _resolve(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, lifetime: float
    ) -> Lookup:
        """Answer from the cache or ask the nameservers, within ``lifetime`` seconds.

        Each round asks every nameserver still in play once; a server that
        answered with an error (SERVFAIL, REFUSED, garbage, unreachable) is
        out for this query, one that timed out is asked again in the next
        round if time remains.  There is no sleeping between rounds, so the
        query never outlives ``lifetime`` (plus scheduling noise).
        """
        cached = self._cached(qname, rdtype)
        if cached is not None:
            return cached
        pending = self.health.usable(self.servers)
        if not pending:
            # Which ones is in the log (nameservers.py), not in the lookup's words.
            return Lookup("temperror", error="every nameserver is down", failure="down")
        deadline = time.monotonic() + lifetime
        request = dns.message.make_query(
            qname, rdtype, dns.rdataclass.IN, use_edns=0, payload=EDNS_PAYLOAD
        )
        failures: list[tuple[DnsFailure, str]] = []
        while pending:
            timed_out: list[tuple[str, int]] = []
            for server in pending:
                left = deadline - time.monotonic()
                if left < _MIN_ATTEMPT_TIME:
                    return self._failed(failures, timed_out=True)
                try:
                    response = self._exchange(
                        request, server, min(self._attempt_timeout, left), deadline
                    )
                except _TcpTimeout:
                    self._failure(failures, server, "timeout", "truncated, TCP retry timed out")
                    continue
                except dns.exception.Timeout:
                    self._no_answer(server, "timeout")
                    timed_out.append(server)
                    continue
                except OSError as exc:  # nothing listening, unreachable, connection reset
                    self._no_answer(server, _error_text(exc))
                    self._failure(failures, server, "unreachable", _error_text(exc))
                    continue
                except Exception as exc:  # DNS failures never escape
                    self._failure(failures, server, "error", _error_text(exc))
                    continue
                self.health.answered(server)
                result = self._interpret(qname, rdtype, response, server)
                if isinstance(result, str):
                    self._failure(failures, server, _RCODE_FAILURES.get(result, "error"), result)
                    continue
                return result
            pending = [server for server in timed_out if not self.health.is_down(server)]
            if timed_out and time.monotonic() >= deadline - _MIN_ATTEMPT_TIME:
                return self._failed(failures, timed_out=True)
        return self._failed(failures, timed_out=bool(timed_out))

    def _no_answer(self, server: tuple[str, int], why: str) -> None:
        """Count a silence; after `down_after` of them in a row, ask the server something any
        resolver answers from its cache: silence again means the server, not the names."""
        if self.health.no_answer(server, why):
            # In the background: the query that asked must not spend its time on it.
            threading.Thread(target=self._check_server, args=(server, why),
                             name="thurac-dns-check", daemon=True).start()

    def _check_server(self, server: tuple[str, int], why: str) -> None:
        answered = True
        try:
            dns.query.udp(_CHECK_QUERY, server[0], timeout=self._attempt_timeout,
                          port=server[1], ignore_unexpected=True, ignore_errors=True)
        except (dns.exception.Timeout, OSError):
            answered = False
        except Exception:  # a garbled answer is still an answer
            pass
        self.health.checked(server, answered, why)

    @staticmethod
    def _failure(failures: list[tuple[DnsFailure, str]], server: tuple[str, int],
                 kind: DnsFailure, why: str) -> None:
        """Note why a server failed: its address goes to the debug log, the words to the
        lookup's error (once each)."""
        log.debug("nameserver %s: %s", _server_text(server), why)
        if all(why != text for _, text in failures):
            failures.append((kind, why))

    @staticmethod
    def _failed(failures: list[tuple[DnsFailure, str]], timed_out: bool) -> Lookup:
        """A timeout if time ran out, else the kind of the first server's failure."""
        reasons = [text for _, text in failures]
        if timed_out and "timeout" not in reasons:
            reasons.append("timeout")
        kind: DnsFailure = "timeout" if timed_out else failures[0][0] if failures else "error"
        return Lookup("temperror", error="; ".join(reasons) or "no nameserver", failure=kind)

    def _exchange(
        self,
        request: dns.message.QueryMessage,
        server: tuple[str, int],
        timeout: float,
        deadline: float,
    ) -> dns.message.Message:
        """One UDP exchange, repeated over TCP (until ``deadline``) if truncated."""
        ip, port = server
        try:
            return dns.query.udp(
                request,
                ip,
                timeout=timeout,
                port=port,
                raise_on_truncation=True,
                ignore_unexpected=True,  # stray datagrams from elsewhere
                ignore_errors=True,  # unparsable or non-matching replies
            )
        except dns.message.Truncated:
            # It answered: a TCP retry that hangs is this name's fault, not the server's.
            self.health.answered(server)
        left = deadline - time.monotonic()
        if left < _MIN_ATTEMPT_TIME:
            raise _TcpTimeout
        try:
            return dns.query.tcp(request, ip, timeout=left, port=port)
        except dns.exception.Timeout:
            raise _TcpTimeout from None

    def _interpret(
        self,
        qname: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        response: dns.message.Message,
        server: tuple[str, int],
    ) -> Lookup | str:
        """Turn a response into a Lookup (and cache it), or a failure reason."""
        if not isinstance(response, dns.message.QueryMessage):  # pragma: no cover
            return "not a query response"
        rcode = response.rcode()
        try:
            if rcode == dns.rcode.NOERROR:
                answer = dns.resolver.Answer(
                    qname, rdtype, dns.rdataclass.IN, response, server[0], server[1]
                )
                if self.cache is not None:
                    self.cache.put((qname, rdtype, dns.rdataclass.IN), answer)
                return _answer_lookup(answer)
            if rcode == dns.rcode.NXDOMAIN:
                # Validates the response (e.g. no answer for the name itself)
                # and is what dnspython caches for NXDOMAIN.
                answer = dns.resolver.Answer(qname, dns.rdatatype.ANY, dns.rdataclass.IN, response)
                if self.cache is not None:
                    self.cache.put((qname, dns.rdatatype.ANY, dns.rdataclass.IN), answer)
                return Lookup("nxdomain", (), _remaining_ttl(answer))
        except Exception as exc:  # CNAME loops, malformed chains...
            return f"bad response: {_error_text(exc)}"
        if rcode == dns.rcode.YXDOMAIN:
            # The name became too long through DNAME substitution: it cannot
            # exist, and asking again will not change that.
            return Lookup("nxdomain", error="name too long after DNAME substitution")
        return dns.rcode.to_text(rcode)


@functools.lru_cache(maxsize=4096)
def _reverse_name(ip: str) -> str | None:
    """The PTR name of an address ("4.3.2.1.in-addr.arpa."), None if `ip` is not one; cached,
    since the same clients come back (a spam run, a busy relay)."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.reverse_pointer + "."


class DnsSession:
    """DNS access for one message, bounded by a time budget.

    ``spent`` is the time spent inside :meth:`query` so far (not wall time
    since creation: SMTP traffic between milter callbacks does not count).
    Each query may take ``min(timeout, remaining budget)``; when nothing
    remains, queries not answerable from the cache return ``temperror``
    without sending anything.  ``temperrors`` lists what failed, e.g.
    ``"example.com/MX: timeout"`` (at most :data:`MAX_TEMPERRORS` entries).
    """

    def __init__(self, resolver: Resolver, budget: float) -> None:
        self.resolver = resolver
        self.budget = float(budget)
        self.spent = 0.0
        self.temperrors: list[str] = []
        self._lock = threading.Lock()

    @property
    def remaining(self) -> float:
        """Seconds of budget left (never negative)."""
        with self._lock:
            return max(0.0, self.budget - self.spent)

    @property
    def exhausted(self) -> bool:
        """True once the budget is used up."""
        return self.remaining <= 0.0

    def _record(self, name: str, rdtype: str, failed: Lookup) -> None:
        metrics.dns_error(failed.failure)
        with self._lock:
            if len(self.temperrors) < MAX_TEMPERRORS:
                self.temperrors.append(f"{name}/{rdtype}: {failed.error}")

    def query(self, name: str, rdtype: str) -> Lookup:
        """Look up ``name`` (text, trailing dot optional) for ``rdtype`` ("MX"...).

        Never raises for DNS problems.  An unknown or meta type (``"ANY"``,
        ``"AXFR"``) is a programming error and raises ValueError.
        """
        known = self.resolver._known_answer(name, rdtype)
        if known is not None:
            return known
        try:
            rdt = dns.rdatatype.RdataType.make(rdtype.upper())
        except (dns.exception.DNSException, ValueError):
            raise ValueError(f"unknown DNS record type {rdtype!r}") from None
        if dns.rdatatype.is_metatype(rdt):
            raise ValueError(f"cannot query meta type {rdtype!r}")
        type_text = dns.rdatatype.to_text(rdt)
        try:
            qname = _to_name(name)
        except ValueError as exc:
            return Lookup("nxdomain", error=f"malformed name: {exc}")
        shown = _name_text(qname)

        remaining = self.remaining
        if remaining <= 0.0:
            cached = self.resolver._cached(qname, rdt)
            if cached is not None:
                return cached
            spent = Lookup("temperror", error="DNS time budget exhausted", failure="budget")
            self._record(shown, type_text, spent)
            return spent

        lifetime = min(self.resolver.timeout, remaining)
        start = time.monotonic()
        try:
            result = self.resolver._resolve(qname, rdt, lifetime)
        finally:
            elapsed = time.monotonic() - start
            with self._lock:
                self.spent += elapsed
        if result.temperror:
            self._record(shown, type_text, result)
        else:
            self.resolver._keep(name, rdtype, result)
        return result

    def a(self, name: str) -> Lookup:
        """IPv4 addresses of ``name``."""
        return self.query(name, "A")

    def aaaa(self, name: str) -> Lookup:
        """IPv6 addresses of ``name``."""
        return self.query(name, "AAAA")

    def txt(self, name: str) -> Lookup:
        """TXT records of ``name``, each record's strings joined."""
        return self.query(name, "TXT")

    def mx(self, name: str) -> Lookup:
        """MX records of ``name`` as ``"PREF HOST"`` (null MX: ``"0 ."``)."""
        return self.query(name, "MX")

    def ptr(self, ip: str) -> Lookup:
        """PTR names of an IPv4/IPv6 address (IPv4-mapped IPv6 is treated as IPv4)."""
        reverse = _reverse_name(ip)
        if reverse is None:
            return Lookup("nxdomain", error=f"malformed name: {ip!r} is not an IP address")
        return self.query(reverse, "PTR")

    def addresses(self, name: str) -> Lookup:
        """A and AAAA records of ``name`` together (IPv4 first).

        ``ok`` if either type has records -- even when the other failed (the
        failure is still recorded in ``temperrors``); otherwise
        ``temperror`` if either failed, ``nodata`` if the name exists, else
        ``nxdomain``.  ``ttl`` is the smaller TTL of the answers used.
        """
        v4 = self.a(name)
        if v4.status == "nxdomain":
            return v4
        v6 = self.aaaa(name)
        found = [lookup for lookup in (v4, v6) if lookup.ok]
        if found:
            values = tuple(v for lookup in found for v in lookup.values)[:MAX_VALUES]
            return Lookup("ok", values, min(lookup.ttl for lookup in found))
        for lookup in (v4, v6):
            if lookup.temperror:
                return lookup
        if v6.status == "nxdomain":
            return v6
        return Lookup("nodata", (), min(v4.ttl, v6.ttl))
