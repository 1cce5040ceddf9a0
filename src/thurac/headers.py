"""Headers thurac writes (X-Spam-*, X-Thurac-Report), removal of forged copies, sanitising."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from thurac.text import printable_text, sanitize
from thurac.verdict import Verdict

SPAM_HEADERS = ("X-Spam-Flag", "X-Spam-Score", "X-Spam-Status", "X-Thurac-Report")
REPORT_RESULT_HEADER = "X-Thurac-Report-Result"  # on mail to a report mailbox
# Every header thurac writes: inbound copies of them are forged and removed.
OUR_HEADERS = (*SPAM_HEADERS, REPORT_RESULT_HEADER)
MAX_REPORT_LINES = 40  # symbols listed in X-Thurac-Report
MAX_REPORT_LINE = 300  # bytes of one of them, folded: well under SMTP's 998


def spam_headers(verdict: Verdict) -> list[tuple[str, str]]:
    """The X-Spam-* set and the report, in the order they are added."""
    flag = "YES" if verdict.is_spam else "NO"
    names = ",".join(s.name for s in sorted(verdict.symbols, key=lambda s: s.name))
    status = (f"{'Yes' if verdict.is_spam else 'No'}, score={verdict.score:.1f} "
              f"required={verdict.required:.1f} tests={names or 'none'}")
    policy = f" policy={sanitize(verdict.policy, 100)}" if verdict.policy else ""
    lines = [f"score={verdict.score:.1f} action={verdict.intended}{policy}"]
    lines += [sanitize(f"override {o.source}: {o.reason}", MAX_REPORT_LINE)
              for o in verdict.overrides]
    ranked = sorted(verdict.symbols, key=lambda s: (-s.score, s.name))
    for symbol in ranked[:MAX_REPORT_LINES]:
        # 7-bit clean: quoted sender values may hold any script; backslash escapes keep
        # them readable and the header safe for every relay and mail client.
        line = f"{symbol.name}({symbol.score:g}): {symbol.reason}"
        lines.append(sanitize(printable_text(line).encode("ascii", "backslashreplace")
                              .decode("ascii"), MAX_REPORT_LINE))
    if len(ranked) > MAX_REPORT_LINES:
        lines.append(f"... {len(ranked) - MAX_REPORT_LINES} more")
    return [
        ("X-Spam-Flag", flag),
        ("X-Spam-Score", f"{verdict.score:.1f}"),
        ("X-Spam-Status", sanitize(status)),
        # Folded by us between sanitised pieces: continuation lines keep each line short.
        ("X-Thurac-Report", "\n\t".join(lines)),
    ]


def removals(
    headers: Sequence[tuple[str, str]],
    should_remove: Callable[[str, str], bool],
) -> list[tuple[str, int]]:
    """(name, 1-based index among fields of that name) to delete, last first so indexes hold."""
    seen: dict[str, int] = {}
    doomed: list[tuple[str, int]] = []
    for name, value in headers:
        key = name.lower()
        seen[key] = seen.get(key, 0) + 1
        if should_remove(name, value):
            doomed.append((name, seen[key]))
    return list(reversed(doomed))


def is_spam_header(name: str, _value: str) -> bool:
    """Inbound copies of our own header names are forgeries: the sender must not pre-set them."""
    return name.lower() in _OURS


_OURS = frozenset(h.lower() for h in OUR_HEADERS)
