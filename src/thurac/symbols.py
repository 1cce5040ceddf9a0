"""Symbols are data, declared once: name, default score, group, description.

The catalogue feeds the YAML defaults (`scores:`), the docs reference and `thurac check`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Symbol:
    """One finding about a message: its name, the score it adds and why, in plain words."""

    name: str
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    name: str
    default_score: float
    group: str
    description: str


def _declare(*infos: SymbolInfo) -> dict[str, SymbolInfo]:
    return {info.name: info for info in infos}


CATALOGUE: dict[str, SymbolInfo] = _declare(
    # Circular 22 art. 4.3a: send frequency
    SymbolInfo("C22_FREQ_SENDER", 4.0, "c22_frequency",
               "Envelope sender sent more messages or recipients than allowed in a window"),
    SymbolInfo("C22_FREQ_DOMAIN", 3.0, "c22_frequency",
               "Sender domain sent more messages or recipients than allowed in a window"),
    SymbolInfo("C22_FREQ_IP", 3.0, "c22_frequency",
               "Client IP sent more messages or recipients than allowed in a window"),
    # Circular 22 art. 4.3b, first dash: send-only sources
    SymbolInfo("C22_ONE_WAY", 3.0, "c22_one_way",
               "Sender has sent us many messages and none of our users ever wrote to it"),
    SymbolInfo("C22_NO_MX", 4.0, "c22_one_way",
               "Sender domain cannot receive mail: null MX, or no MX and no address"),
    # Circular 22 art. 4.3b, second dash: recipients with no prior exchange
    SymbolInfo("C22_UNRELATED_RATIO", 5.0, "c22_unrelated",
               "Most of the sender's recent recipients never exchanged mail with it"),
    SymbolInfo("C22_UNRELATED_RCPT", 1.0, "c22_unrelated",
               "No recipient of this message ever exchanged mail with the sender"),
    # Circular 22 art. 4.3c: technology used to send
    SymbolInfo("C22_TECH_HELO_IP", 1.5, "c22_technology",
               "HELO is an IP address literal"),
    SymbolInfo("C22_TECH_HELO_NOT_FQDN", 1.5, "c22_technology",
               "HELO is not a fully qualified domain name"),
    SymbolInfo("C22_TECH_HELO_FORGED", 4.0, "c22_technology",
               "HELO claims one of our own domains or addresses"),
    SymbolInfo("C22_TECH_NO_PTR", 2.0, "c22_technology",
               "Client IP has no reverse DNS name"),
    SymbolInfo("C22_TECH_DYNAMIC_PTR", 1.5, "c22_technology",
               "Client reverse DNS name looks like a dynamic/residential address"),
    SymbolInfo("C22_TECH_FCRDNS_MISMATCH", 1.0, "c22_technology",
               "Client reverse DNS name does not resolve back to the client IP"),
    SymbolInfo("C22_TECH_NO_TLS", 0.5, "c22_technology",
               "Message was sent without TLS"),
    SymbolInfo("C22_TECH_MAILER", 2.5, "c22_technology",
               "X-Mailer or User-Agent matches a bulk-mailer fingerprint"),
    SymbolInfo("C22_TECH_BCC_BULK", 3.0, "c22_technology",
               "Many envelope recipients, none of them visible in To or Cc"),
    SymbolInfo("C22_TECH_OPEN_LIST", 2.0, "c22_technology",
               "Many recipient addresses exposed in To/Cc (open distribution list)"),
    SymbolInfo("C22_TECH_NO_MESSAGE_ID", 1.0, "c22_technology",
               "Message has no Message-ID header"),
    SymbolInfo("C22_TECH_NO_DATE", 1.0, "c22_technology",
               "Message has no Date header"),
    # thurac itself
    SymbolInfo("THURAC_CHECK_ERROR", 0.0, "thurac",
               "A check failed internally and was skipped"),
    SymbolInfo("THURAC_HISTORY_UNAVAILABLE", 0.0, "thurac",
               "The history store could not be read; history checks saw no history"),
    SymbolInfo("THURAC_DEADLINE", 0.0, "thurac",
               "The per-message deadline passed; the remaining checks were skipped"),
)


def default_scores() -> dict[str, float]:
    return {name: info.default_score for name, info in CATALOGUE.items()}
