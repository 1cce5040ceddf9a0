"""Symbols are data, declared once: name, default score, group, description.

The catalogue feeds the YAML defaults (`scores:`), the docs reference and `thurac check`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Measure:
    """What a check counted and the limit it passed, in numbers, so that a reply can say
    it in the configured language: 120 messages/1h > 30."""

    value: float
    limit: float
    unit: str  # "messages", "recipients" or "ratio" (replies.py words them)
    per: str = ""  # the window, as span_text writes it: 10min, 1h, 1d
    op: str = ">"  # how value compares to limit: ">" or ">="


@dataclass(frozen=True, slots=True)
class Symbol:
    """One finding about a message: its name, the score it adds and why, in plain words."""

    name: str
    score: float
    reason: str
    measure: Measure | None = None  # for the reply; not stored (the reason says the same)
    # The scale its YAML weight was multiplied by (frequency: how far past the limit), so
    # a replay can weigh it again under another configuration (facts.py).
    factor: float = 1.0


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
    # Sender authentication: SPF (RFC 7208)
    SymbolInfo("SPF_PASS", -1.0, "spf", "SPF permits the client for the envelope sender"),
    SymbolInfo("SPF_FAIL", 4.0, "spf", "SPF says the client is not permitted (-all)"),
    SymbolInfo("SPF_SOFTFAIL", 2.0, "spf", "SPF says the client is probably not permitted (~all)"),
    SymbolInfo("SPF_NEUTRAL", 0.5, "spf", "SPF makes no assertion about the client (?all)"),
    SymbolInfo("SPF_NONE", 1.0, "spf", "The sender domain publishes no SPF record"),
    SymbolInfo("SPF_TEMPERROR", 0.0, "spf", "SPF could not be evaluated: DNS temporary failure"),
    SymbolInfo("SPF_PERMERROR", 1.5, "spf",
               "The SPF record is broken (syntax, >10 lookups, >2 void lookups, loop)"),
    # DKIM (RFC 6376, RFC 8301)
    SymbolInfo("DKIM_VALID", -1.0, "dkim", "At least one DKIM signature verifies"),
    SymbolInfo("DKIM_INVALID", 3.0, "dkim", "A DKIM signature does not verify"),
    SymbolInfo("DKIM_NONE", 0.5, "dkim", "The message carries no DKIM signature"),
    SymbolInfo("DKIM_TEMPERROR", 0.0, "dkim", "A DKIM key could not be fetched: DNS failure"),
    SymbolInfo("DKIM_PERMERROR", 1.0, "dkim",
               "A DKIM signature or its key is malformed, missing or refused "
               "(RFC 6376 6.1.2 PERMFAIL, not a bad signature)"),
    SymbolInfo("DKIM_WEAK_KEY", 3.0, "dkim", "A DKIM signature uses a key below the minimum size"),
    SymbolInfo("DKIM_BODY_LENGTH", 1.0, "dkim",
               "A DKIM signature covers only part of the body (l= tag)"),
    # DMARC (RFC 7489)
    SymbolInfo("DMARC_PASS", -1.0, "dmarc", "DMARC passes: aligned SPF or DKIM"),
    SymbolInfo("DMARC_FAIL_REJECT", 7.0, "dmarc", "DMARC fails and the domain asks p=reject"),
    SymbolInfo("DMARC_FAIL_QUARANTINE", 5.0, "dmarc",
               "DMARC fails and the domain asks p=quarantine"),
    SymbolInfo("DMARC_FAIL_NONE", 1.0, "dmarc", "DMARC fails; the domain asks p=none"),
    SymbolInfo("DMARC_NONE", 0.0, "dmarc", "The From domain publishes no DMARC record"),
    SymbolInfo("DMARC_TEMPERROR", 0.0, "dmarc",
               "DMARC could not be evaluated: DNS failure (never counts against the sender)"),
    # Header From sanity (RFC 5322 3.6; DMARC needs exactly one author domain)
    SymbolInfo("FROM_MISSING", 3.0, "from", "The message has no From header address"),
    SymbolInfo("FROM_MULTIPLE", 3.0, "from", "Several From headers, or several From addresses"),
    # ARC (RFC 8617)
    SymbolInfo("ARC_PASS", 0.0, "arc", "The ARC chain validates"),
    SymbolInfo("ARC_FAIL", 1.0, "arc", "The ARC chain does not validate"),
    SymbolInfo("ARC_NONE", 0.0, "arc", "The message carries no ARC chain"),
    SymbolInfo("ARC_TRUSTED", 0.0, "arc",
               "A trusted ARC sealer vouches for the original authentication"),
    # Circular 22/2021 art. 5: users' spam reports and ARF feedback
    SymbolInfo("C22_COMPLAINTS", 3.0, "c22_complaints",
               "Circular 22/2021 art. 5: reporters complained about the sender, its domain or "
               "its client IP (× distinct reporters, up to complaints.max_factor)"),
    # Decree 91/2020 arts. 13 and 20: advertising mail
    SymbolInfo("ADV_OVER_DAILY_LIMIT", 4.0, "advertising",
               "Decree 91/2020 art. 20: more than advertising.daily_limit (3) advertisements "
               "from one advertiser to one recipient in 24 h"),
    SymbolInfo("ADV_NO_OPTOUT", 2.0, "advertising",
               "Decree 91/2020 arts. 13, 20: an advertisement with no way to opt out (no "
               "List-Unsubscribe, no opt-out wording)"),
    SymbolInfo("ADV_UNSOLICITED_PROTECTED", 5.0, "advertising",
               "Decree 91/2020 art. 20: an advertisement to a protected recipient domain with "
               "no prior exchange"),
    # Decree 91/2020 art. 10.4: our own accounts' outbound mail, judged by Circular 22's
    # criteria with the thresholds of `outbound:` (docs/outbound.md)
    SymbolInfo("OUT_FREQ_MESSAGES", 5.0, "out_frequency",
               "Circular 22 art. 4.3a, outbound: the account sent more messages than an "
               "outbound window allows"),
    SymbolInfo("OUT_FREQ_RECIPIENTS", 5.0, "out_frequency",
               "Circular 22 art. 4.3a, outbound: the account wrote to more recipients than an "
               "outbound window allows"),
    SymbolInfo("OUT_UNRELATED", 10.0, "out_unrelated",
               "Circular 22 art. 4.3b, outbound: the account wrote to more recipients it never "
               "exchanged mail with than an outbound window allows"),
    SymbolInfo("OUT_TECH_MAILER", 2.5, "out_technology",
               "Circular 22 art. 4.3c, outbound: X-Mailer or User-Agent is a bulk mailer"),
    SymbolInfo("OUT_TECH_BCC_BULK", 3.0, "out_technology",
               "Circular 22 art. 4.3c, outbound: many envelope recipients, none in To or Cc"),
    SymbolInfo("OUT_TECH_OPEN_LIST", 2.0, "out_technology",
               "Circular 22 art. 4.3c, outbound: many addresses exposed in To/Cc"),
    SymbolInfo("OUT_COMPLAINTS", 3.0, "out_complaints",
               "Circular 22 art. 5, outbound: recipients complained about the account's mail "
               "(× distinct reporters, up to complaints.max_factor)"),
    SymbolInfo("OUT_SUPPRESSED", 0.0, "out_policy",
               "A recipient complained about this account's mail: mail to it is held"),
    SymbolInfo("OUT_LIMIT", 0.0, "out_policy",
               "The account passed a hard limit (outbound.suspend_limits): it is suspended"),
    SymbolInfo("OUT_SUSPENDED", 0.0, "out_policy",
               "The account is suspended: outbound.suspend_answer applies"),
    # Allow and block lists (Decree 91/2020 art. 10.3): YAML `lists:` and `thurac list`
    SymbolInfo("ALLOWLIST", -20.0, "lists",
               "An allow-list entry matches an authenticated identity (or the client IP)"),
    SymbolInfo("ALLOWLIST_NOT_AUTHENTICATED", 0.0, "lists",
               "An allow-list entry matches, but the identity is not authenticated: ignored"),
    SymbolInfo("BLOCKLIST", 20.0, "lists", "A block-list entry matches"),
    # DNSBL_<NAME>: one per `lists.dns` zone, named and scored in the YAML file
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


def markdown_reference() -> str:
    """docs/symbols.md, generated from the catalogue so the two never disagree."""
    lines = [
        "# Symbols",
        "",
        "Generated by `thurac symbols` from `src/thurac/symbols.py`; do not edit by hand.",
        "Scores are defaults: override any of them under `scores:` in the YAML file.",
        "",
        "| symbol | default score | group | meaning |",
        "| --- | ---: | --- | --- |",
    ]
    for info in CATALOGUE.values():
        lines.append(f"| `{info.name}` | {info.default_score:g} | {info.group} | "
                     f"{info.description} |")
    return "\n".join(lines) + "\n"
