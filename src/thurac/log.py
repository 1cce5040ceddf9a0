"""Logging: one line per message, queue id first, then key=value pairs an admin can grep."""

from __future__ import annotations

import logging
import sys

from thurac.message import Message
from thurac.text import sanitize
from thurac.verdict import Verdict

message_log = logging.getLogger("thurac.message")
LIST_SYMBOLS = frozenset({"ALLOWLIST", "ALLOWLIST_NOT_AUTHENTICATED", "BLOCKLIST"})


def setup(level: str = "INFO") -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s thurac[%(process)d]: %(levelname)s %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations speak only on trouble


def message_line(message: Message, verdict: Verdict | None, elapsed_ms: float) -> str:
    """`QUEUEID: direction=… client=… from=<…> … score=… action=… symbols=…` (values sanitised)."""
    conn = message.connection
    parts = [
        f"{sanitize(message.queue_id, 64)}:",
        f"direction={message.direction}",
        f"client={sanitize(conn.client_name or 'unknown', 255)}[{sanitize(conn.client_ip, 64)}]",
        f"helo=<{sanitize(conn.helo, 255)}>",
        f"from=<{sanitize(message.sender, 320)}>",
        f"rcpts={len(message.recipients)}",
    ]
    if verdict is not None:
        symbols = ",".join(f"{s.name}({s.score:g})" for s in verdict.symbols)
        parts += [
            f"score={verdict.score:.1f}",
            f"required={verdict.required:.1f}",
            f"action={verdict.action}",
        ]
        if verdict.intended != verdict.action:
            parts.append(f"would={verdict.intended}")
        if verdict.policy is not None:
            parts.append(f"policy={sanitize(verdict.policy, 320)}")
        parts.append(f"symbols={symbols or '-'}")
        # Which list entry matched, so `grep QUEUEID` answers "why blocked?" on its own.
        listed = [s.reason for s in verdict.symbols if s.name in LIST_SYMBOLS]
        if listed:
            parts.append(f"lists=<{sanitize('; '.join(listed), 400)}>")
    else:
        parts.append("action=learn")
    parts.append(f"time={elapsed_ms:.0f}ms")
    return " ".join(parts)


def log_message(message: Message, verdict: Verdict | None, elapsed_ms: float) -> None:
    message_log.info("%s", message_line(message, verdict, elapsed_ms))
