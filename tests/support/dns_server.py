"""A real authoritative DNS server on loopback, for tests.

Tests that involve DNS (SPF, DKIM, DMARC, iprev, the resolver itself) point
thurac at this server instead of mocking dnspython, so the whole path --
packets, truncation, TCP fallback, timeouts, caching -- is exercised.

It is built on :mod:`dnslib`'s ``DNSServer`` (UDP and TCP on the same
127.0.0.1 port) with a handler that answers from an in-memory, mutable zone::

    with TestDnsServer() as dns_server:
        dns_server.add("example.test", "MX", "10 mx.example.test")
        dns_server.add("example.test", "TXT", "v=spf1 -all")
        resolver = thurac.dns.Resolver([dns_server.address], timeout=0.5)
        ...
        assert ("example.test", "MX") in dns_server.queries

Behaviour, chosen to look like a real authoritative server:

* names are case-insensitive; a trailing dot is optional;
* unknown names answer NXDOMAIN; names that exist (or have descendants,
  e.g. ``_domainkey.example.test``) but lack the type answer NOERROR with no
  data; negative answers carry an SOA so resolvers cache them for
  :attr:`TestDnsServer.negative_ttl` seconds;
* CNAMEs inside the zone are followed (up to 8 hops) and the chain included;
* TXT values longer than 255 bytes are split into several character-strings
  of one record, as zone files / real servers do for SPF and DKIM keys;
* UDP answers larger than 512 bytes (or the client's EDNS0 buffer size) are
  truncated (TC flag, question kept, records dropped) so clients retry over
  TCP.  dnslib's own ``DNSRecord.truncate()`` drops the question section too,
  and dnspython ignores such a reply as "not a response to my query" and
  waits for its timeout -- hence the hand-made truncation here;
* ``latency`` (every answer) and ``delays`` (per name) hold answers back, like a
  distant or overloaded server; ``faults`` makes the server misbehave for a name and
  everything under it: ``"drop"`` (never answers), ``"servfail"``, ``"refused"``, or
  ``"truncate-then-hang"`` (an empty truncated UDP answer, and a TCP retry that hangs);
* ``mode`` switches at runtime between ``"normal"``, ``"servfail"`` (every
  query answers SERVFAIL) and ``"blackhole"`` (queries are read and dropped;
  TCP connections are held open without an answer until the server stops).

Every query received is recorded in :attr:`TestDnsServer.queries` as
``(name, type)`` (name lowercased, no trailing dot), so tests can check that
a cache avoided a second query; TCP ones are also in ``tcp_queries``.
``close()`` stops both server threads within about a second.
"""

from __future__ import annotations

import ipaddress
import socket
import socketserver
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Literal

from dnslib import (
    AAAA,
    CNAME,
    EDNS0,
    MX,
    NS,
    PTR,
    QTYPE,
    RCODE,
    RR,
    SOA,
    TXT,
    A,
    DNSError,
    DNSRecord,
)
from dnslib.server import DNSHandler, DNSLogger, DNSServer

Mode = Literal["normal", "blackhole", "servfail"]
#: Per-name misbehaviour (see ``TestDnsServer.faults``).
Fault = Literal["drop", "servfail", "refused", "truncate-then-hang"]
_MODES: frozenset[str] = frozenset({"normal", "blackhole", "servfail"})

SUPPORTED_TYPES = ("A", "AAAA", "MX", "TXT", "PTR", "CNAME", "NS")

_UDP_LIMIT = 512  # classic DNS limit when the client sends no EDNS0
_EDNS_MAX = 4096  # our own EDNS0 buffer size / cap on what we honour
_MAX_CNAME_HOPS = 8
_TCP_IDLE_TIMEOUT = 5.0  # a silent TCP client cannot pin a handler thread longer
_BLACKHOLE_HOLD = 10.0  # longest a blackholed TCP connection is held open
_POLL_INTERVAL = 0.05  # serve_forever() poll: bounds how long close() takes
_BIND_ATTEMPTS = 50


class _Dropped(DNSError):  # type: ignore[misc]
    """Raised by the handler to send no reply at all (dnslib logs and moves on)."""


def _norm(name: str) -> str:
    name = name.strip().lower()
    if name.endswith(".") and name != ".":
        name = name[:-1]
    return name


def _txt_strings(value: str | bytes | Iterable[str | bytes]) -> list[bytes]:
    """TXT record data as character-strings of at most 255 bytes each."""
    if isinstance(value, (str, bytes)):
        data = value.encode("utf-8") if isinstance(value, str) else value
        chunks = [data[i : i + 255] for i in range(0, len(data), 255)]
        return chunks or [b""]
    strings = [v.encode("utf-8") if isinstance(v, str) else v for v in value]
    if any(len(s) > 255 for s in strings):
        raise ValueError("explicit TXT character-strings must be at most 255 bytes")
    return strings or [b""]


def _rdata(rdtype: str, value: Any) -> Any:
    if rdtype == "A":
        return A(str(ipaddress.IPv4Address(value)))
    if rdtype == "AAAA":
        return AAAA(str(ipaddress.IPv6Address(value)))
    if rdtype == "MX":
        pref, _, host = str(value).strip().partition(" ")
        host = host.strip()
        if not pref.isdigit() or not host:
            raise ValueError(f"MX value must be 'PREF HOST', got {value!r}")
        return MX(host if host == "." else host.rstrip("."), int(pref))
    if rdtype == "TXT":
        return TXT(_txt_strings(value))
    if rdtype == "PTR":
        return PTR(str(value))
    if rdtype == "CNAME":
        return CNAME(str(value))
    if rdtype == "NS":
        return NS(str(value))
    raise ValueError(f"unsupported record type {rdtype!r} (supported: {SUPPORTED_TYPES})")


class _Handler(DNSHandler):  # type: ignore[misc]
    """dnslib's handler, with our own reply logic (modes, recording, truncation)."""

    def setup(self) -> None:
        if self.server.socket_type == socket.SOCK_STREAM:
            self.request.settimeout(_TCP_IDLE_TIMEOUT)

    def get_reply(self, data: bytes) -> bytes:
        owner: TestDnsServer = self.server.owner
        return owner._handle(data, self.protocol)


class TestDnsServer:
    """Authoritative DNS server on 127.0.0.1 (UDP + TCP, same port); see module doc."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, negative_ttl: int = 60) -> None:
        self.negative_ttl = negative_ttl
        self.queries: list[tuple[str, str]] = []
        self.tcp_queries: list[tuple[str, str]] = []
        self._mode: Mode = "normal"
        #: seconds every answer waits before it is sent (a distant or loaded server)
        self.latency = 0.0
        #: per name (lowercase, no trailing dot): seconds its answers wait, over ``latency``
        self.delays: dict[str, float] = {}
        #: per name and every name under it: how the server misbehaves for them
        self.faults: dict[str, Fault] = {}
        self._records: dict[str, dict[str, list[tuple[Any, int]]]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._servers: list[socketserver.BaseServer] = []
        self._closed = False
        self.host = "127.0.0.1"
        self.port = self._bind()
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": _POLL_INTERVAL},
                name=f"test-dns-{self.port}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    # -- lifecycle ---------------------------------------------------------

    def _bind(self) -> int:
        logger = DNSLogger(logf=lambda _msg: None)
        last_error: OSError | None = None
        for _ in range(_BIND_ATTEMPTS):
            udp = DNSServer(None, address=self.host, port=0, logger=logger, handler=_Handler)
            port: int = udp.server.server_address[1]
            try:
                tcp = DNSServer(
                    None, address=self.host, port=port, tcp=True, logger=logger, handler=_Handler
                )
            except OSError as exc:  # TCP port taken: pick another UDP port
                last_error = exc
                udp.server.server_close()
                continue
            for wrapper in (udp, tcp):
                wrapper.server.owner = self
                self._servers.append(wrapper.server)
            return port
        raise RuntimeError(f"could not bind UDP+TCP on the same port: {last_error!r}")

    @property
    def address(self) -> str:
        """``"127.0.0.1:PORT"``, as thurac's nameserver setting expects."""
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        """Stop serving and close the sockets (idempotent, takes well under 2 s)."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()  # releases blackholed TCP handlers
        for server in self._servers:
            server.shutdown()
        for server in self._servers:
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=1.0)

    stop = close

    def __enter__(self) -> TestDnsServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- zone data ---------------------------------------------------------

    @property
    def mode(self) -> Mode:
        """``"normal"``, ``"servfail"`` or ``"blackhole"``; may be changed at any time."""
        return self._mode

    @mode.setter
    def mode(self, value: Mode) -> None:
        if value not in _MODES:
            raise ValueError(f"mode must be one of {sorted(_MODES)}, got {value!r}")
        self._mode = value

    def add(self, name: str, rdtype: str, value: Any, ttl: int = 60) -> None:
        """Add one record.

        Values: A/AAAA an address; MX ``"10 mx.example.test"`` (``"0 ."`` is
        a null MX); TXT a str/bytes (split into 255-byte strings when longer)
        or a list of explicit character-strings; PTR/CNAME/NS a name.
        """
        rdtype = rdtype.upper()
        rd = _rdata(rdtype, value)
        with self._lock:
            self._records.setdefault(_norm(name), {}).setdefault(rdtype, []).append((rd, ttl))

    def add_ptr(self, ip: str, name: str, ttl: int = 60) -> None:
        """Add the PTR record for ``ip`` (IPv4 or IPv6) pointing at ``name``."""
        self.add(ipaddress.ip_address(ip).reverse_pointer, "PTR", name, ttl)

    def remove(self, name: str, rdtype: str | None = None) -> None:
        """Remove all records of ``name`` (or only those of ``rdtype``)."""
        with self._lock:
            if rdtype is None:
                self._records.pop(_norm(name), None)
            else:
                node = self._records.get(_norm(name), {})
                node.pop(rdtype.upper(), None)

    def clear(self) -> None:
        """Remove every record (recorded queries are kept; see ``reset_queries``)."""
        with self._lock:
            self._records.clear()

    def reset_queries(self) -> None:
        """Forget the queries recorded so far."""
        with self._lock:
            self.queries.clear()
            self.tcp_queries.clear()

    def count(self, name: str, rdtype: str) -> int:
        """How many times ``name``/``rdtype`` has been asked (UDP and TCP)."""
        key = (_norm(name), rdtype.upper())
        with self._lock:
            return sum(1 for q in self.queries if q == key)

    # -- serving -----------------------------------------------------------

    def _handle(self, data: bytes, protocol: str) -> bytes:
        request = DNSRecord.parse(data)
        qname = str(request.q.qname)
        try:
            qtype = str(QTYPE[request.q.qtype])
        except Exception:  # unknown type number
            qtype = f"TYPE{request.q.qtype}"
        key = (_norm(qname), qtype)
        with self._lock:
            self.queries.append(key)
            if protocol == "tcp":
                self.tcp_queries.append(key)
        delay = self.delays.get(key[0], self.latency)
        if delay > 0:
            self._stopping.wait(delay)
        fault = self._fault_of(key[0])
        mode = self._mode
        if fault == "truncate-then-hang":
            if protocol == "tcp":
                self._stopping.wait(_BLACKHOLE_HOLD)
                raise _Dropped("truncate-then-hang: TCP query held, then dropped")
            truncated = request.reply()
            truncated.header.tc = 1
            wire_tc: bytes = truncated.pack()
            return wire_tc
        if mode == "blackhole" or fault == "drop":
            if protocol == "tcp":
                self._stopping.wait(_BLACKHOLE_HOLD)
            raise _Dropped("blackhole mode: query dropped")

        reply = request.reply()
        client_payload = 0
        for rr in request.ar:
            if rr.rtype == QTYPE.OPT:
                client_payload = rr.rclass
                reply.add_ar(EDNS0(udp_len=_EDNS_MAX))
        if mode == "servfail" or fault == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
        elif fault == "refused":
            reply.header.rcode = RCODE.REFUSED
        else:
            self._answer(reply, qname, qtype)

        wire: bytes = reply.pack()
        limit = min(max(_UDP_LIMIT, client_payload), _EDNS_MAX) if client_payload else _UDP_LIMIT
        if protocol == "udp" and len(wire) > limit:
            reply.header.tc = 1
            reply.rr = []
            reply.auth = []
            reply.ar = [rr for rr in reply.ar if rr.rtype == QTYPE.OPT]
            wire = reply.pack()
        return wire

    def _fault_of(self, name: str) -> Fault | None:
        for owner, fault in self.faults.items():
            if name == owner or name.endswith("." + owner):
                return fault
        return None

    def _exists(self, name: str) -> bool:
        if name in self._records and any(self._records[name].values()):
            return True
        suffix = "." + name
        return any(other.endswith(suffix) for other in self._records)

    def _answer(self, reply: DNSRecord, qname: str, qtype: str) -> None:
        owner = qname
        name = _norm(qname)
        answers: list[RR] = []
        rcode = RCODE.NOERROR
        with self._lock:
            for _ in range(_MAX_CNAME_HOPS + 1):
                node = self._records.get(name, {})
                if node.get(qtype):
                    answers += [
                        RR(owner, getattr(QTYPE, qtype), rdata=rd, ttl=ttl)
                        for rd, ttl in node[qtype]
                    ]
                    break
                if qtype != "CNAME" and node.get("CNAME"):
                    rd, ttl = node["CNAME"][0]
                    answers.append(RR(owner, QTYPE.CNAME, rdata=rd, ttl=ttl))
                    owner = str(rd.label)
                    name = _norm(owner)
                    continue
                if not answers and not self._exists(name):
                    rcode = RCODE.NXDOMAIN
                break
        for rr in answers:
            reply.add_answer(rr)
        reply.header.rcode = rcode
        if not answers or answers[-1].rtype == QTYPE.CNAME:
            zone = name.rsplit(".", 1)[-1] + "." if name not in ("", ".") else "."
            reply.add_auth(
                RR(
                    zone,
                    QTYPE.SOA,
                    ttl=self.negative_ttl,
                    rdata=SOA(
                        "ns." + zone if zone != "." else "ns.",
                        "hostmaster." + zone if zone != "." else "hostmaster.",
                        (1, 3600, 600, 86400, self.negative_ttl),
                    ),
                )
            )
