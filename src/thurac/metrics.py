"""Prometheus metrics (docs/metrics.md): what the mail path counts, one call per event in the
place that already knows of it, and the endpoint prometheus_client serves them on
(`metrics.listen`, off by default).

A metric must never cost a message: every recording function swallows its own errors.
Labels are bounded: directions and actions are fixed words, and a symbol that is neither in
the catalogue nor a configured DNSBL_<name> is counted as `other`.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, get_args

from prometheus_client import (
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)

from thurac import __version__
from thurac.symbols import CATALOGUE
from thurac.verdict import Action

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from thurac.config import Settings
    from thurac.verdict import Verdict

log = logging.getLogger("thurac.metrics")

# Outbound mail with outbound.enabled off is only learned from: its log line says action=learn.
LEARN = "learn"
# An unscored message: the milter's on_error applied (accept with a header, or 451).
ON_ERROR_ACTIONS = ("on_error_accept", "on_error_tempfail")
# Before thurac could tell the direction (only when it failed that early).
UNKNOWN_DIRECTION = "unknown"
OTHER_SYMBOL = "other"
# List symbols (policy/allow_block.py) → the `list` label of thurac_list_hits_total.
LIST_OF_SYMBOL = {"ALLOWLIST": "allow", "ALLOWLIST_NOT_AUTHENTICATED": "allow_unauthenticated",
                  "BLOCKLIST": "block"}
# Why a lookup ended in TEMPERROR (dns.Lookup.failure).
DNS_FAILURES = ("timeout", "servfail", "refused", "unreachable", "error", "budget", "down")
STORE_OPERATIONS = ("read", "write", "lists", "accounts")
SUSPENDED_BY = ("limit", "operator")  # who suspended an outbound account
RELOAD_RESULTS = ("ok", "refused")
# From a cached verdict (about 1 ms) to past the default verdict timeout (20 s checks + 8 s
# DNS): the histogram says where the time goes without a bucket per millisecond.
VERDICT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 20.0, 30.0)

# No *_created series beside each counter: they double the page and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

MESSAGES = Counter("thurac_messages_total", "Messages answered, by direction and action",
                   ["direction", "action"])
SYMBOLS = Counter("thurac_symbols_total", "Scored messages that got each symbol", ["symbol"])
VERDICT_SECONDS = Histogram("thurac_verdict_seconds",
                            "Seconds from end of message to thurac's answer",
                            buckets=VERDICT_BUCKETS)
DNS_ERRORS = Counter("thurac_dns_errors_total", "DNS lookups that ended in TEMPERROR, by why",
                     ["kind"])
STORE_ERRORS = Counter("thurac_store_errors_total",
                       "Failed store accesses (history reads, record writes, list reads)",
                       ["operation"])
HISTORY_UNAVAILABLE = Counter("thurac_history_unavailable_total",
                              "Messages scored without history: the store could not be read")
LIST_HITS = Counter("thurac_list_hits_total", "Scored messages an allow/block entry matched",
                    ["list"])
CONFIG_RELOADS = Counter("thurac_config_reloads_total", "SIGHUP reloads, applied or refused",
                         ["result"])
SPOOL_BYTES = Gauge("thurac_spool_bytes",
                    "Bytes of history waiting in the spool file for the database")
# Outbound accounts (docs/outbound.md): suspensions this host made, releases it saw (by
# `thurac account release` anywhere, or the end of outbound.suspend_for), and how many now.
ACCOUNT_SUSPENSIONS = Counter("thurac_account_suspensions_total",
                              "Outbound accounts suspended: by a hard limit on this host, or "
                              "by an operator", ["by"])
ACCOUNT_RELEASES = Counter("thurac_account_releases_total",
                           "Suspended outbound accounts this host saw released or expire")
ACCOUNTS_SUSPENDED = Gauge("thurac_accounts_suspended",
                           "Outbound accounts suspended now, as the store says")
BUILD_INFO = Gauge("thurac_build_info", "Always 1; the version is a label", ["version"])

P = ParamSpec("P")


def _never_raises(record: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(record)
    def safe(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            record(*args, **kwargs)
        except Exception:  # the mail path goes on without the metric
            log.debug("metric %s not recorded", record.__name__, exc_info=True)
    return safe


def _start_at_zero() -> None:
    """Every series of a known label set exists from the start, so that rate() and alerts see
    the first increment (Prometheus's advice), not a series that appears from nowhere."""
    for action in get_args(Action):
        MESSAGES.labels("inbound", action)
        MESSAGES.labels("outbound", action)  # judged per account (docs/outbound.md)
    MESSAGES.labels("outbound", LEARN)
    for direction in ("inbound", "outbound"):
        for action in ON_ERROR_ACTIONS:
            MESSAGES.labels(direction, action)
    for kind in DNS_FAILURES:
        DNS_ERRORS.labels(kind)
    for operation in STORE_OPERATIONS:
        STORE_ERRORS.labels(operation)
    for name in LIST_OF_SYMBOL.values():
        LIST_HITS.labels(name)
    for result in RELOAD_RESULTS:
        CONFIG_RELOADS.labels(result)
    for by in SUSPENDED_BY:
        ACCOUNT_SUSPENSIONS.labels(by)
    BUILD_INFO.labels(__version__).set(1)


_start_at_zero()


def symbol_label(name: str, settings: Settings) -> str:
    """The symbol's own name when thurac declares it (the catalogue, lists.dns), else other."""
    if name in CATALOGUE or any(zone.symbol == name for zone in settings.lists.dns):
        return name
    return OTHER_SYMBOL


@_never_raises
def message(direction: str, verdict: Verdict | None, seconds: float,
            settings: Settings) -> None:
    """One answered message: its action, its symbols (each once), list hits, its latency."""
    if verdict is None:
        MESSAGES.labels(direction, LEARN).inc()
    else:
        MESSAGES.labels(direction, verdict.action).inc()
        for name in {s.name for s in verdict.symbols}:
            SYMBOLS.labels(symbol_label(name, settings)).inc()
            listed = LIST_OF_SYMBOL.get(name)
            if listed is not None:
                LIST_HITS.labels(listed).inc()
    VERDICT_SECONDS.observe(seconds)


@_never_raises
def unscored(direction: str, on_error: str, seconds: float) -> None:
    """A message thurac failed to judge: milter.on_error applied."""
    MESSAGES.labels(direction, f"on_error_{on_error}").inc()
    VERDICT_SECONDS.observe(seconds)


@_never_raises
def dns_error(kind: str) -> None:
    DNS_ERRORS.labels(kind if kind in DNS_FAILURES else "error").inc()


@_never_raises
def store_error(operation: str) -> None:
    STORE_ERRORS.labels(operation).inc()


@_never_raises
def history_unavailable() -> None:
    HISTORY_UNAVAILABLE.inc()


@_never_raises
def config_reload(result: str) -> None:
    CONFIG_RELOADS.labels(result).inc()


@_never_raises
def account_suspended(by: str) -> None:
    ACCOUNT_SUSPENSIONS.labels(by if by in SUSPENDED_BY else "operator").inc()


@_never_raises
def account_released() -> None:
    ACCOUNT_RELEASES.inc()


@_never_raises
def accounts_suspended(count: int) -> None:
    ACCOUNTS_SUSPENDED.set(count)


def parse_listen(spec: str) -> tuple[str, int]:
    """`IP:PORT`, or `[IPv6]:PORT`, as (address, port); ValueError says what was expected."""
    expected = "expected IP:PORT such as 127.0.0.1:9810, or [IPv6]:PORT such as [::1]:9810"
    if spec.startswith("["):
        host, sep, rest = spec[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(expected)
        port_text = rest[1:]
    else:
        host, sep, port_text = spec.rpartition(":")
        if not sep or ":" in host:
            raise ValueError(expected)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{expected} ({host!r} is not an IP address)") from None
    if spec.startswith("[") != (address.version == 6):
        raise ValueError(expected)
    if not (port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise ValueError(f"{expected} (port {port_text!r} is not between 1 and 65535)")
    return str(address), int(port_text)


def _file_bytes(path: Path) -> float:
    try:
        return float(path.stat().st_size)
    except OSError:
        return 0.0


_server: WSGIServer | None = None


def start(listen: str, spool: Path) -> str | None:
    """Serve the default registry on `listen` (nothing when empty) in a daemon thread, the
    spool's size read at each scrape; returns why it cannot listen, or None."""
    global _server
    if not listen:
        return None
    SPOOL_BYTES.set_function(lambda: _file_bytes(spool))
    host, port = parse_listen(listen)
    try:
        _server, _ = start_http_server(port, addr=host)
    except OSError as exc:
        return exc.strerror or str(exc)
    log.info("metrics served on http://%s/metrics", listen)
    return None


def stop() -> None:
    """Close the endpoint (tests; the process's exit closes it otherwise)."""
    global _server
    if _server is not None:
        _server.shutdown()
        _server.server_close()
        _server = None
