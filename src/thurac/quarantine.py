"""Postfix's hold queue, reached the way Postfix's own commands reach it: listed with
`postqueue -j`, released with `postsuper -H` and `postqueue -i` (it leaves at once, not at
the next queue run), deleted with `postsuper -d ID hold`.

The instance is the one MAIL_CONFIG in the environment names, else postfix.config_directory,
else Postfix's default. Commands run without a shell, and only queue ids that look like
Postfix's reach them: `-` (read ids from standard input) and `ALL` mean something else to
postsuper."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from thurac.config import PostfixSettings
from thurac.errors import PostfixError
from thurac.message import normalize_address
from thurac.store.releases import Release, StoredVerdict

HOLD = "hold"
# Short ids are 10-12 hex digits, long ones (enable_long_queue_ids) about 15-20 letters
# and digits; either way far below this.
QUEUE_ID_MAX = 32
_QUEUE_ID_RE = re.compile(rf"[0-9A-Za-z]{{1,{QUEUE_ID_MAX}}}")
# Where Postfix puts its commands when $PATH does not say (cron, sudo's secure_path).
COMMAND_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
COMMAND_TIMEOUT = 60.0  # seconds for one postqueue/postsuper run
_COUNT_RE = {"-H": re.compile(r"Released from hold: (\d+) message"),
             "-d": re.compile(r"Deleted: (\d+) message")}


def valid_queue_id(text: str) -> bool:
    """A Postfix queue id: letters and digits only, bounded; not postsuper's `ALL`."""
    return _QUEUE_ID_RE.fullmatch(text) is not None and text != "ALL"


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One message in Postfix's queue, as `postqueue -j` describes it."""

    queue_name: str
    queue_id: str
    arrival_time: datetime
    sender: str
    recipients: tuple[str, ...]
    message_size: int = 0

    def age_seconds(self, now: datetime) -> int:
        return max(0, int((now - self.arrival_time).total_seconds()))


def parse_queue_json(text: str) -> list[QueuedMessage]:
    """`postqueue -j` output: one JSON object per line; members not used here are ignored
    (postqueue(1): "the list of members is expected to grow over time")."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            recipients = tuple(str(r["address"]) for r in entry.get("recipients", ()))
            found.append(QueuedMessage(
                queue_name=str(entry["queue_name"]), queue_id=str(entry["queue_id"]),
                arrival_time=datetime.fromtimestamp(int(entry.get("arrival_time", 0)), UTC),
                sender=str(entry.get("sender", "")), recipients=recipients,
                message_size=int(entry.get("message_size", 0))))
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
            shown = line if len(line) <= 200 else line[:200] + "…"
            raise PostfixError(f"postqueue -j: line {number} is not a queue entry "
                               f"({type(exc).__name__}: {exc}): {shown}") from None
    return found


def release_of(message: QueuedMessage, verdict: StoredVerdict | None, released_by: str,
               now: datetime) -> Release:
    """What a release records: the envelope the milter saw (the stored event's, the spelling
    the next history read looks up), or, with no event, Postfix's, normalised as the milter
    normalises it."""
    if verdict is not None:
        sender, recipients = verdict.sender, verdict.recipients
    else:
        sender = normalize_address(message.sender)
        recipients = tuple(normalize_address(r) for r in message.recipients)
    return Release(queue_id=message.queue_id, released_by=released_by, released_at=now,
                   sender=sender, recipients=recipients,
                   event_id=None if verdict is None else verdict.event_id)


class Postfix:
    """The queue commands of one Postfix instance."""

    def __init__(self, config_directory: str = "",
                 environ: Mapping[str, str] | None = None) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        if not self._environ.get("MAIL_CONFIG"):
            # Postfix would take an empty MAIL_CONFIG for a directory named "".
            self._environ.pop("MAIL_CONFIG", None)
            if config_directory:
                self._environ["MAIL_CONFIG"] = config_directory

    @classmethod
    def from_settings(cls, settings: PostfixSettings,
                      environ: Mapping[str, str] | None = None) -> Postfix:
        return cls(settings.config_directory, environ)

    @property
    def config_directory(self) -> str | None:
        """The directory given to Postfix's commands (None: their compiled-in default)."""
        return self._environ.get("MAIL_CONFIG") or None

    def queue(self) -> list[QueuedMessage]:
        """Every message in the queue (`postqueue -j`)."""
        return parse_queue_json(self._run("postqueue", "-j").stdout)

    def held(self) -> list[QueuedMessage]:
        """The messages in the hold queue, oldest first."""
        held = [m for m in self.queue() if m.queue_name == HOLD]
        return sorted(held, key=lambda m: (m.arrival_time, m.queue_id))

    def release(self, queue_id: str) -> bool:
        """Move a held message to the deferred queue (`postsuper -H`); False if it was not
        on hold (any more)."""
        return self._count("-H", queue_id) > 0

    def deliver_now(self, queue_id: str) -> None:
        """Try a released message at once (`postqueue -i`) instead of at the next queue run."""
        self._run("postqueue", "-i", self._checked(queue_id))

    def delete(self, queue_id: str) -> bool:
        """Delete a held message (`postsuper -d ID hold`); False if it was not on hold."""
        return self._count("-d", queue_id, HOLD) > 0

    def _count(self, option: str, queue_id: str, *queues: str) -> int:
        """Run postsuper OPTION ID and read how many messages it says it moved or deleted."""
        done = self._run("postsuper", option, self._checked(queue_id), *queues)
        said = done.stderr + done.stdout  # postsuper reports on stderr
        match = _COUNT_RE[option].search(said)
        if match is None:
            raise PostfixError(f"postsuper {option} {queue_id}: unexpected output: "
                               f"{' '.join(said.split()) or '(none)'}")
        return int(match.group(1))

    @staticmethod
    def _checked(queue_id: str) -> str:
        if not valid_queue_id(queue_id):
            raise PostfixError(f"{queue_id!r} is not a Postfix queue id")
        return queue_id

    def _run(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a Postfix command (no shell); PostfixError unless it ran and exited 0."""
        path = find_command(command, self._environ.get("PATH", ""))
        argv: Sequence[str] = (path, *args)
        shown = " ".join((command, *args))
        try:
            done = subprocess.run(argv, env=self._environ, capture_output=True, text=True,
                                  errors="replace", timeout=COMMAND_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise PostfixError(f"{shown}: no answer after {COMMAND_TIMEOUT:g} s") from None
        except OSError as exc:
            raise PostfixError(f"{shown}: cannot run {path}: {exc.strerror or exc}") from None
        if done.returncode != 0:
            said = " ".join(done.stderr.split()) or " ".join(done.stdout.split()) or "(nothing)"
            where = f" (MAIL_CONFIG={self.config_directory})" if self.config_directory else ""
            raise PostfixError(f"{shown}{where} failed with exit code {done.returncode}: {said}")
        return done


def find_command(command: str, path: str) -> str:
    """The Postfix command in $PATH or, failing that, where Postfix installs its commands."""
    search = os.pathsep.join([p for p in path.split(os.pathsep) if p] + list(COMMAND_DIRS))
    found = shutil.which(command, path=search)
    if found is None:
        raise PostfixError(f"{command}: command not found (looked in $PATH and "
                           f"{', '.join(COMMAND_DIRS)}); is Postfix installed?")
    return found
