"""A spam report in, a complaint out (Circular 22/2021 art. 5.3; Decree 91/2020 art. 10.2):
who reported and whether they are trusted, what the report names (feedback/), the stored
event our trace leads to, the complaint written, an opt-out block, a forward to the
authority. Used by the milter for mail to `reports.addresses` and by `thurac complaints
ingest`; it never raises into mail flow."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from thurac import feedback
from thurac.auth import AuthResults
from thurac.config import Settings
from thurac.domains import normal_domain, organizational_domain
from thurac.feedback.arf_out import build_arf
from thurac.feedback.forwarder import Forwarder, ForwardJob
from thurac.history import stored_text
from thurac.lists import EntryError, make_entry
from thurac.message import Message, domain_of
from thurac.store.complaints import Complaint, add_complaint, reporter_key, traced_event
from thurac.store.lists import add_entry
from thurac.text import sanitize

log = logging.getLogger("thurac.complaints")

OPT_OUT_TYPES = frozenset({"opt-out", "unsubscribe"})
NOT_COMPLAINTS = frozenset({"not-spam"})  # feedback that says the opposite
MAX_RESULT = 300  # bytes of X-Thurac-Report-Result


@dataclass(frozen=True, slots=True)
class Intake:
    """What became of one report: the header for the reporter, and the complaint (if any)."""

    result: str  # X-Thurac-Report-Result
    complaint: Complaint | None = None
    trusted: bool = False


def is_report(message: Message, settings: Settings) -> bool:
    """Mail for the report mailboxes only (mail also to others is ordinary mail: else a
    spammer could add abuse@ to skip the filter)."""
    rcpts = message.recipients
    return bool(rcpts) and all(settings.reports.is_report_address(r) for r in rcpts)


def _passes_for(auth: AuthResults, domain: str) -> bool:
    """SPF or DKIM passes for `domain` (or a subdomain of the same organisation)."""
    if not domain:
        return False
    org = organizational_domain(domain)
    spf = auth.spf
    if spf is not None and spf.result == "pass" and normal_domain(spf.domain) == domain:
        return True
    return any(sig.result == "pass" and organizational_domain(normal_domain(sig.domain)) == org
               for sig in auth.dkim)


def reporter_trust(message: Message, auth: AuthResults, settings: Settings,
                   arf: bool) -> tuple[bool, str]:
    """(trusted, why): a local user, or a listed feedback loop whose mail authenticates."""
    if message.direction == "outbound":
        return True, "local user (internal network or authenticated)"
    sender_domain = normal_domain(message.sender_domain)
    if settings.local.is_local_address(message.sender) and _passes_for(auth, sender_domain):
        return True, f"local user {message.sender}, authenticated"
    if arf:
        for domain in (sender_domain, normal_domain(domain_of(message.header_from))):
            listed = any(domain == d or domain.endswith("." + d)
                         for d in settings.reports.feedback_sources)
            if listed and _passes_for(auth, domain):
                return True, f"feedback loop {domain}"
    return False, "not a local user nor a listed feedback source"


class ComplaintDesk:
    """Takes reports: one per scanner, sharing its store and (if set) a forwarder."""

    def __init__(self, engine: Engine, forwarder: Forwarder | None = None) -> None:
        self.engine = engine
        self.forwarder = forwarder

    def take(self, message: Message, auth: AuthResults, settings: Settings) -> Intake:
        try:
            return self._take(message, auth, settings)
        except Exception as exc:  # a report must never cost mail: the header says so
            log.exception("%s: report not recorded", message.queue_id)
            return Intake(sanitize(f"not recorded: {type(exc).__name__}", MAX_RESULT))

    def _take(self, message: Message, auth: AuthResults, settings: Settings) -> Intake:
        extraction = feedback.extract(message.raw(),
                                      internal_networks=settings.local.internal_networks)
        reported = extraction.reported
        queue_id = sanitize(message.queue_id, 64)
        if not extraction.found:
            log.warning("%s: report from <%s>: %s", queue_id, sanitize(message.sender, 320),
                        extraction.result_line())
            return Intake(extraction.result_line())
        if reported.feedback_type in NOT_COMPLAINTS:
            return Intake(sanitize(f"{extraction.result_line()}; not-spam feedback: no "
                                   "complaint", MAX_RESULT))
        arf = reported.method == "arf"
        trusted, why = reporter_trust(message, auth, settings, arf)
        reporter = message.sender or extraction.reporter or "(unknown)"
        if arf and reported.recipients:  # a provider speaks for each of its users
            reporter = f"{reporter}:{reported.recipients[0]}"
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            event = traced_event(conn, reported.queue_ids, reported.message_id)
            sender = event.sender if event else reported.sender
            complaint = Complaint(
                received_at=now,
                reporter=reporter_key(reporter, settings.complaints.hash_reporters),
                trusted=trusted,
                weight=1.0 if trusted else settings.complaints.untrusted_weight,
                kind=f"arf:{reported.feedback_type or 'abuse'}" if arf else "user",
                # trace: our own stored event; feedback/'s "trace" (header lines pasted into
                # the report) is only text, so it is named for what it is.
                method="trace" if event else (
                    "pasted" if reported.method == "trace" else reported.method),
                sender=stored_text(sender.lower(), 320),
                sender_domain=event.sender_domain if event else normal_domain(
                    domain_of(sender) or reported.from_domain),
                client_ip=event.client_ip if event else reported.client_ip,
                message_id=event.message_id if event else reported.message_id,
                event_id=event.id if event else None,
                report_queue_id=queue_id,
                evidence=reported.evidence,
            )
            complaint_id = add_complaint(conn, complaint)
        log.info("%s: complaint %d from <%s> (%s, weight %g) against sender=<%s> ip=%s "
                 "method=%s", queue_id, complaint_id, sanitize(reporter, 320),
                 "trusted" if trusted else "untrusted: " + why, complaint.weight,
                 sanitize(complaint.sender, 320), complaint.client_ip or "-", complaint.method)
        if trusted:
            self._opt_out(complaint_id, complaint, reported.feedback_type, reported.recipients,
                          message, settings)
            self._forward(complaint_id, complaint, settings)
        untrusted = "" if trusted else f" (untrusted reporter: weight {complaint.weight:g})"
        result = (f"complaint {complaint_id} against sender={complaint.sender or '-'} "
                  f"ip={complaint.client_ip or '-'} method={complaint.method}{untrusted}")
        return Intake(sanitize(result.encode("ascii", "backslashreplace").decode(), MAX_RESULT),
                      complaint, trusted)

    def _opt_out(self, complaint_id: int, complaint: Complaint, feedback_type: str,
                 recipients: tuple[str, ...], message: Message, settings: Settings) -> None:
        """The reporter gets no more mail from that sender (complaints.opt_out_blocks)."""
        if not settings.complaints.opt_out_blocks or not complaint.sender:
            return
        if complaint.kind == "user":
            who = [message.sender] if settings.local.is_local_address(message.sender) else []
        elif feedback_type in OPT_OUT_TYPES:
            who = [r for r in recipients if settings.local.is_local_address(r)]
        else:
            return
        for rcpt in who:
            try:
                entry = make_entry("block", "address", complaint.sender, recipient=rcpt,
                                   reason=f"reported as spam, complaint {complaint_id}",
                                   added_by="complaints")
            except EntryError:
                return  # a sender that is no address (a garbled report): nothing to block
            add_entry(self.engine, entry)
            log.info("%s: <%s> blocked for %s (complaint %d)", complaint.report_queue_id,
                     complaint.sender, rcpt, complaint_id)

    def forward_job(self, complaint_id: int, complaint: Complaint, reported_bytes: bytes | None,
                    settings: Settings, arrival: datetime | None = None) -> ForwardJob | None:
        reports = settings.reports
        if not reports.forward_to:
            return None
        sender = reports.forward_from or (
            f"postmaster@{settings.local.domains[0]}" if settings.local.domains
            else f"postmaster@{settings.local.authserv_id}")
        arf = build_arf(reported=reported_bytes, reported_headers=complaint.evidence,
                        source_ip=complaint.client_ip, original_mail_from=complaint.sender,
                        arrival_date=arrival, reported_domain=complaint.sender_domain,
                        reporter_note=f"complaint {complaint_id}", from_address=sender,
                        to_address=reports.forward_to)
        return ForwardJob(arf, sender, (reports.forward_to,), id=f"c{complaint_id}")

    def _forward(self, complaint_id: int, complaint: Complaint, settings: Settings) -> None:
        if self.forwarder is None:
            return
        job = self.forward_job(complaint_id, complaint, None, settings)
        if job is not None:
            self.forwarder.submit(job)
