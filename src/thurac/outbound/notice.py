"""The mail that tells the postmaster (`outbound.notify`) an account was suspended."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from thurac.config import Settings
from thurac.feedback.forwarder import ForwardJob
from thurac.store.accounts import AccountState
from thurac.text import sanitize


def notice_sender(settings: Settings) -> str:
    outbound = settings.outbound
    return outbound.notify_from or f"thurac@{settings.local.authserv_id}"


def suspension_notice(state: AccountState, settings: Settings) -> ForwardJob:
    """A plain-text mail: which account, why, which message, and how to lift it."""
    sender = notice_sender(settings)
    account = sanitize(state.account, 320)
    until = (f"until {state.until.isoformat(timespec='seconds')}" if state.until
             else "until an operator releases it")
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = settings.outbound.notify
    mail["Subject"] = sanitize(f"thurac: account {account} suspended", 200)
    mail["Date"] = format_datetime(state.suspended_at)
    mail["Message-ID"] = make_msgid(domain=settings.local.authserv_id)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    mail.set_content(
        f"The outbound account {account} was suspended at "
        f"{state.suspended_at.isoformat(timespec='seconds')} by {sanitize(state.suspended_by, 100)}"
        f", {until}.\n\n"
        f"Why: {sanitize(state.reason, 500)}\n"
        f"Message that tripped the limit: queue id {sanitize(state.queue_id or '-', 64)}\n"
        f"Its further mail gets: {settings.outbound.suspend_answer}\n\n"
        f"To see it:  thurac account show {account}\n"
        f"To lift it: thurac account release {account} --reason '...'\n")
    return ForwardJob(bytes(mail), sender, (settings.outbound.notify,))
