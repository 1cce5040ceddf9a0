"""One message in, one verdict out: history read → checks → verdict; the record goes behind."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine

from thurac import adverts, metrics, policy
from thurac.auth import AuthResults
from thurac.checks import CheckContext
from thurac.complaints import ComplaintDesk, Intake
from thurac.config import Settings
from thurac.dns import Resolver
from thurac.facts import Facts
from thurac.feedback.forwarder import Forwarder, ForwardSettings
from thurac.history import History, bucket_minutes
from thurac.message import Message
from thurac.outbound.monitor import OutboundMonitor
from thurac.pipeline import run_checks
from thurac.policy import ListIndex, PolicyInput, recipients
from thurac.store.engine import make_engine, upgrade
from thurac.store.history import read_history
from thurac.store.lists import StoreLists
from thurac.store.outage import Outage
from thurac.store.record import Record
from thurac.store.recorder import Recorder, inbound_buckets, write_record
from thurac.store.spool import Spool, spool_path_for
from thurac.store.window_cache import WindowCache, window_cache_seconds
from thurac.verdict import Verdict

log = logging.getLogger("thurac.scanner")

# Beyond the checks' deadline and the DNS budget (the last check may start just before the
# deadline and spend the whole budget): time for the history read and the verdict itself.
VERDICT_MARGIN = 5.0


@dataclass
class Outcome:
    """A verdict (None for outbound mail when outbound.enabled is off) and its history."""

    verdict: Verdict | None
    history: History
    auth: AuthResults = field(default_factory=AuthResults)
    advertiser: str = ""  # advertising mail from this advertiser (adverts.py)
    facts: Facts | None = None  # what a replay re-scores from (facts.py)


class Scanner:
    def __init__(self, settings: Settings, engine: Engine, resolver: Resolver,
                 recorder: Recorder | None, *, history: bool = True,
                 forwarder: Forwarder | None = None) -> None:
        self.settings = settings
        # What the socket and the store were opened with: a reload compares against these,
        # not against the previous reload (which may have changed them without effect).
        self.in_use = settings
        self.has_history = history  # False: no store yet (a read-only command); never read
        self.engine = engine
        self.resolver = resolver
        self.recorder = recorder
        self.reads = Outage("reads", engine.url.render_as_string(hide_password=True),
                            "mail is scored without history", "read")
        self.store_lists = StoreLists(engine, settings.lists.refresh_seconds)
        self.desk = ComplaintDesk(engine, forwarder)
        self.outbound = OutboundMonitor(engine, settings, history=history)
        self._index: tuple[tuple[int, int], ListIndex] = ((-1, 0), ListIndex())
        self.windows = WindowCache(window_cache_seconds(settings.database, engine))

    def lists(self, settings: Settings) -> ListIndex:
        """The YAML entries and the store's, indexed once per change of either."""
        stored = self.store_lists.entries() if self.has_history else ()
        key = (self.store_lists.generation, id(settings.lists))
        known_key, index = self._index
        if known_key != key:
            index = ListIndex([*settings.lists.entries(), *stored])
            self._index = (key, index)
        return index

    def history(self, message: Message, advertiser: str = "",
                counts_from: int | None = None) -> History:
        """The one read per message; a store failure degrades to 'unknown', never to an error."""
        if not self.has_history:
            return History.unknown()
        try:
            with self.engine.connect() as conn:
                history = read_history(conn, message, self.settings, advertiser, counts_from,
                                       self.windows)
        except Exception as exc:
            self.reads.failed(exc)  # logged once per outage
            metrics.history_unavailable()
            return History.unknown()
        self.reads.ok()
        return history

    def scan(self, message: Message) -> Outcome:
        if message.direction == "outbound":  # judged per account (outbound/)
            verdict, history = self.outbound.judge(
                message, self.settings, self.resolver,
                lambda since: self.history(message, counts_from=since))
            return Outcome(verdict, history)
        # One configuration per message, even across a reload; the recipients' policy on it.
        policy_key = recipients.choose(self.settings, message.recipients)
        settings = recipients.judged_under(self.settings, policy_key)
        advert = adverts.advertisement(message, settings.advertising) or ""
        advertiser = adverts.advertiser(message) if advert else ""
        history = self.history(message, advertiser)
        ctx = CheckContext(settings, self.resolver.session(settings.dns.budget), advert=advert)
        found = run_checks(message, history, ctx)
        verdict = policy.conclude(
            found, PolicyInput(message, ctx.auth, settings, self.lists(settings)), policy_key)
        facts = Facts(tuple(found), ctx.auth, history.available, advert)
        return Outcome(verdict, history, ctx.auth, advertiser, facts)

    def report(self, message: Message) -> Intake:
        """Mail to the report mailboxes: not scored; what it reports becomes a complaint.
        The checks still run on an inbound report, for the SPF/DKIM results that say
        whether its reporter is who it claims to be."""
        settings = self.settings
        ctx = CheckContext(settings, self.resolver.session(settings.dns.budget))
        if message.direction == "inbound":
            run_checks(message, History.unknown(), ctx)
        return self.desk.take(message, ctx.auth, settings)

    def verdict_timeout(self) -> float:
        """Longest a scan may take before the milter gives up on it and applies on_error."""
        settings = self.settings
        return settings.milter.deadline + settings.dns.budget + VERDICT_MARGIN

    def reload(self, new: Settings) -> list[str]:
        """Apply a new configuration to the messages that start from now on.

        Returns the keys whose change needs a restart (the socket and the store stay as
        they are until then).
        """
        old = self.in_use
        restart = [key for key, before, after in (
            ("milter.socket", old.milter.socket, new.milter.socket),
            ("milter.timeout", old.milter.timeout, new.milter.timeout),
            ("milter.user", old.milter.user, new.milter.user),
            ("milter.group", old.milter.group, new.milter.group),
            ("milter.pid_file", old.milter.pid_file, new.milter.pid_file),
            ("database.url", old.database.url, new.database.url),
            ("database.spool_path", old.database.spool_path, new.database.spool_path),
            ("database.spool_max_bytes", old.database.spool_max_bytes,
             new.database.spool_max_bytes),
            ("database.spool_replay_seconds", old.database.spool_replay_seconds,
             new.database.spool_replay_seconds),
            ("metrics.listen", old.metrics.listen, new.metrics.listen),
        ) if before != after]
        self.windows.max_age = window_cache_seconds(new.database, self.engine)
        self.windows.clear()  # the windows may have other lengths now
        if new.dns != self.settings.dns:
            self.resolver = make_resolver(new)
        self.store_lists.refresh = new.lists.refresh_seconds
        self.settings = new
        return restart

    def _record_of(self, message: Message, outcome: Outcome) -> Record:
        history = outcome.history
        # Outbound without history (store away, account suspended) or a bounce: no
        # unrelated recipients counted.
        unrelated = (history.unrelated(message.recipients)
                     if message.direction == "inbound"
                     or (history.available and message.sender) else ())
        return Record(message, outcome.verdict, unrelated, self.settings.local.is_local_address,
                      outcome.advertiser, outcome.facts)

    def record(self, message: Message, outcome: Outcome) -> None:
        """Hand the message to the recorder (written after the reply); no-op when read-only.
        Its counts go into the window cache at once: the next message of a run sees them."""
        if self.recorder is None:
            return
        record = self._record_of(message, outcome)
        self.recorder.submit(record)
        if message.direction == "inbound":
            for row in inbound_buckets(record):
                self.windows.count(row["kind"], row["key"], row["minute"], row["messages"],
                                   row["recipients"], row["unrelated"])

    def record_now(self, message: Message, outcome: Outcome) -> None:
        """Write synchronously (offline `thurac check --record`)."""
        with self.engine.begin() as conn:
            write_record(conn, self._record_of(message, outcome))

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        if self.desk.forwarder is not None:
            self.desk.forwarder.close()
        self.outbound.close()
        self.engine.dispose()


def make_resolver(settings: Settings) -> Resolver:
    dns = settings.dns
    return Resolver(dns.nameservers, dns.timeout, dns.cache_size, down_after=dns.down_after,
                    probe_every=dns.probe_every)


def open_scanner(settings: Settings, *, recording: bool = True,
                 history: bool = True) -> Scanner:
    """Engine, resolver and recorder. A recording scanner creates and migrates the store
    (a failure is logged and mail still flows); a read-only one touches nothing, and with
    `history` False (no store yet) reads nothing either."""
    engine = make_engine(settings.database.url, create=recording,
                         connect_timeout=settings.database.connect_timeout,
                         readers=settings.milter.workers)
    migrated = True
    if recording:
        try:
            upgrade(engine)
        except Exception as exc:
            # The recorder migrates it once the database answers (history is spooled till then).
            migrated = False
            log.error("store not ready, running without history until it is: %s", exc)
    resolver = make_resolver(settings)
    keep_minutes = bucket_minutes(settings)
    spool = Spool(spool_path_for(settings.database), settings.database.spool_max_bytes,
                  settings.local.is_local_address)
    if recording:
        spool.ensure_writable()
    recorder = Recorder(engine, keep_minutes, spool,
                        replay_every=settings.database.spool_replay_seconds,
                        migrated=migrated) if recording else None
    forwarder = None
    if recording and settings.reports.forward_to:
        # The queue of reports for the authority lives beside the spool (a state directory).
        forwarder = Forwarder(
            settings.reports.smtp_relay,
            spool_path_for(settings.database).parent / "forward-queue",
            ForwardSettings(retry_first=settings.reports.forward_retry_seconds))
    return Scanner(settings, engine, resolver, recorder, history=history, forwarder=forwarder)
