"""Reject and tempfail texts people can read: the YAML template (`replies:`) filled with the
criterion that weighed most, in words, with what was measured and the limit, and the queue
id. ASCII only (a client that did not ask for SMTPUTF8 must not get 8-bit text), bounded to
SMTP's reply line, and nothing of the sender's unsanitised."""

from __future__ import annotations

import re
from dataclasses import dataclass

from thurac.config import RepliesSettings
from thurac.symbols import CATALOGUE, Measure, Symbol
from thurac.text import sanitize
from thurac.verdict import Verdict

# 512 octets per reply line with code, enhanced code and CRLF (RFC 5321 4.5.3.1.5).
REPLY_MAX_BYTES = 400
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Criterion:
    law: dict[str, str]  # language → the article, e.g. "Circular 22/2021 art. 4.3a"
    words: dict[str, str]  # language → what it is, e.g. "send frequency"


_C22 = {"en": "Circular 22/2021 art. {}", "vi": "Thong tu 22/2021 dieu {}"}
_D91 = {"en": "Decree 91/2020 art. {}", "vi": "Nghi dinh 91/2020 dieu {}"}


def _law(template: dict[str, str], article: str) -> dict[str, str]:
    return {lang: text.format(article) for lang, text in template.items()}


# Symbol group → the criterion a reply names.
CRITERIA: dict[str, Criterion] = {
    "c22_frequency": Criterion(_law(_C22, "4.3a"),
                               {"en": "send frequency", "vi": "tan suat gui"}),
    "c22_one_way": Criterion(_law(_C22, "4.3b"),
                             {"en": "source that sends and never receives",
                              "vi": "nguon chi gui khong nhan"}),
    "c22_unrelated": Criterion(_law(_C22, "4.3b"),
                               {"en": "recipients with no prior exchange",
                                "vi": "nguoi nhan chua tung trao doi thu"}),
    "c22_technology": Criterion(_law(_C22, "4.3c"),
                                {"en": "sending technology", "vi": "cong nghe gui"}),
    "lists": Criterion(_law(_D91, "10.3"), {"en": "block list", "vi": "danh sach chan"}),
    "c22_complaints": Criterion(_law(_C22, "5"), {"en": "spam reports about the source",
                                                  "vi": "phan anh thu rac ve nguon gui"}),
    "advertising": Criterion(_law(_D91, "13, 20"),
                             {"en": "advertising mail rules", "vi": "quy dinh thu quang cao"}),
    "auth": Criterion({}, {"en": "sender authentication", "vi": "xac thuc nguoi gui"}),
}
# Our own accounts' mail is judged by the same criteria (Decree 91/2020 art. 10.4).
CRITERIA.update({f"out_{name}": CRITERIA[f"c22_{name}"]
                 for name in ("frequency", "unrelated", "technology", "complaints")})
_AUTH_GROUPS = frozenset({"spf", "dkim", "dmarc", "arc", "from"})
_UNITS = {"en": {"messages": "messages", "recipients": "recipients", "reporters": "reporters",
                 "unrelated": "new recipients"},
          "vi": {"messages": "thu", "recipients": "nguoi nhan", "reporters": "nguoi phan anh",
                 "unrelated": "nguoi nhan moi"}}
_SCORE = {"en": "score", "vi": "diem"}


_SPAM_SCORE = Criterion({}, {"en": "spam score", "vi": "diem thu rac"})


def criterion_of(symbol: Symbol) -> Criterion:
    if symbol.name.startswith("DNSBL_"):  # declared by lists.dns, not the catalogue
        return CRITERIA["lists"]
    info = CATALOGUE.get(symbol.name)
    group = info.group if info else ""
    if group in _AUTH_GROUPS:
        return CRITERIA["auth"]
    return CRITERIA.get(group, _SPAM_SCORE)


def _number(value: float) -> str:
    return f"{value:g}"


def measured(measure: Measure, language: str) -> str:
    """120 messages/1h > 30 — or in Vietnamese: 120 thu/1h > 30."""
    unit = _UNITS.get(language, _UNITS["en"]).get(measure.unit, "")
    per = f"/{measure.per}" if measure.per else ""
    value = f"{_number(measure.value)} {unit}".strip() if unit else _number(measure.value)
    return f"{value}{per} {measure.op} {_number(measure.limit)}"


def criterion_text(symbol: Symbol, language: str) -> str:
    """'Circular 22/2021 art. 4.3a, send frequency: 120 messages/1h > 30'."""
    criterion = criterion_of(symbol)
    law = criterion.law.get(language, criterion.law.get("en", ""))
    words = criterion.words.get(language, criterion.words["en"])
    detail = measured(symbol.measure, language) if symbol.measure else symbol.name
    head = f"{law}, {words}" if law else words
    return f"{head}: {detail}"


def _ascii(text: str) -> str:
    """7-bit text: anything else is written as \\xNN escapes; no '%' (libmilter would
    double it)."""
    return text.encode("ascii", "backslashreplace").decode("ascii").replace("%", "")


def reply_text(verdict: Verdict, queue_id: str, replies: RepliesSettings) -> str:
    """The configured reject or tempfail text for `verdict`."""
    templates = replies.en if replies.language == "en" else replies.vi
    template = templates.reject if verdict.action == "reject" else templates.tempfail
    return fill(template, verdict, queue_id, replies.language)


def _criterion(verdict: Verdict, language: str) -> str:
    top = verdict.top_symbols(1)
    if verdict.overrides:  # inbound, only DMARC honour imposes an action: an auth criterion
        words = CRITERIA["auth"].words
        return f"{words.get(language, words['en'])}: {verdict.overrides[-1].reason}"
    if top:
        return criterion_text(top[0], language)
    return f"{_SCORE.get(language, 'score')} {verdict.score:.1f}"


def fill(template: str, verdict: Verdict, queue_id: str, language: str,
         criterion: str | None = None) -> str:
    """`template` filled for `verdict`: `criterion` if given, else the criterion of the
    override that imposed the action, else of the symbol that weighed most."""
    if criterion is None:
        criterion = _criterion(verdict, language)
    values = {"criterion": _ascii(sanitize(criterion, 200)),
              "queue_id": _ascii(sanitize(queue_id, 64)),
              "score": f"{verdict.score:.1f}"}
    text = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    return sanitize(_ascii(text), REPLY_MAX_BYTES)
