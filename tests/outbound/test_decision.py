"""Our own accounts' mail, judged per account (Decree 91/2020 art. 10.4): with the shipped
limits, more than 50 recipients the account never wrote to in 10 minutes holds its mail,
more than 100 suspends it; mail to its correspondents is never touched; a suspended account
gets outbound.suspend_answer; a recipient who complained has the account's mail held."""

from __future__ import annotations

from typing import Any

from tests.builders import make_message, names, only
from tests.conftest import ContextFactory

from thurac.history import ACCOUNT, History, WindowCount
from thurac.message import Message
from thurac.outbound.account import account_of
from thurac.outbound.answer import hold_reason, outbound_reply
from thurac.outbound.checks import OUTBOUND_CHECKS
from thurac.outbound.decision import outbound_verdict, suspended_verdict, trips_suspension
from thurac.pipeline import run_checks
from thurac.store.accounts import AccountState
from thurac.verdict import Verdict

USER = "alice@example.com"
NOW = make_message().received_at


def fresh(count: int, prefix: str = "r") -> tuple[str, ...]:
    return tuple(f"{prefix}{i}@remote.example" for i in range(count))


def outbound(recipients: tuple[str, ...], **kw: Any) -> Message:
    kw.setdefault("auth_user", USER)
    kw.setdefault("to", recipients[:1])  # the others in Cc/Bcc: neither open list nor bulk
    return make_message(USER, recipients, direction="outbound", **kw)


def seen(messages: int = 0, recipients: int = 0, unrelated: int = 0, seconds: int = 600,
         **fields: Any) -> History:
    return History(windows={(ACCOUNT, seconds): WindowCount(messages, recipients, unrelated)},
                   **fields)


def judge(message: Message, history: History, context: ContextFactory,
          **sections: Any) -> Verdict:
    ctx = context(**sections)
    return outbound_verdict(run_checks(message, history, ctx, OUTBOUND_CHECKS), ctx.settings)


def test_the_account_is_the_login_then_the_sender_then_the_client_ip() -> None:
    assert account_of(outbound(fresh(1), auth_user="Alice")) == "alice"
    assert account_of(outbound(fresh(1), auth_user=None)) == USER
    anonymous = make_message("", fresh(1), direction="outbound", client_ip="10.1.2.3")
    assert account_of(anonymous) == "10.1.2.3"


def test_fifty_fresh_recipients_in_ten_minutes_pass(context: ContextFactory) -> None:
    verdict = judge(outbound(fresh(20)), seen(2, 30, 30), context)
    assert (verdict.action, names(verdict.symbols)) == ("accept", [])


def test_more_than_fifty_fresh_recipients_hold_the_mail(context: ContextFactory) -> None:
    verdict = judge(outbound(fresh(20)), seen(2, 40, 40), context)
    assert verdict.action == "quarantine"
    symbol = only(list(verdict.symbols), "OUT_UNRELATED")
    assert symbol.reason == "account alice@example.com: 60 unrelated rcpts/10min > 50"
    assert symbol.score == 12.0  # 10 × 60/50
    assert hold_reason(verdict) == "thurac outbound score 12.0: OUT_UNRELATED"
    assert trips_suspension(verdict, context().settings) is None


def test_more_than_a_hundred_suspend_the_account(context: ContextFactory) -> None:
    ctx_settings = context().settings
    verdict = judge(outbound(fresh(20)), seen(5, 100, 100), context)
    assert verdict.action == "reject"
    limit = trips_suspension(verdict, ctx_settings)
    assert limit is not None
    assert limit.reason == "account alice@example.com: 120 unrelated rcpts/10min > 100"
    reply = outbound_reply(verdict, "4TQ1D2", ctx_settings)
    assert reply is not None and (reply.code, reply.dsn) == ("550", "5.7.1")
    assert reply.text == ("Your account is suspended for sending suspected spam (120 new "
                          "recipients/10min > 100); please contact support [queue id 4TQ1D2]")


def test_tag_only_mode_holds_and_suspends_nothing(context: ContextFactory) -> None:
    verdict = judge(outbound(fresh(20)), seen(5, 100, 100), context,
                    actions={"mode": "tag-only"})
    assert (verdict.action, verdict.intended) == ("add_header", "reject")
    assert trips_suspension(verdict, context(actions={"mode": "tag-only"}).settings) is None


def test_a_suspension_can_answer_tempfail_or_hold(context: ContextFactory) -> None:
    for answer, action in (("tempfail", "tempfail"), ("hold", "quarantine")):
        verdict = judge(outbound(fresh(20)), seen(5, 100, 100), context,
                        outbound={"suspend_answer": answer})
        assert verdict.action == action


def test_mail_to_correspondents_is_never_touched_however_much(context: ContextFactory) -> None:
    friends = fresh(50, "friend")
    history = seen(900, 2900, 0, related_recipients=frozenset(friends))
    verdict = judge(outbound(friends), history, context)
    assert (verdict.action, names(verdict.symbols)) == ("accept", [])


def test_a_busy_account_writing_to_strangers_is_tagged_not_held(context: ContextFactory) -> None:
    history = seen(120, 120, 0, related_recipients=frozenset(fresh(1)))
    verdict = judge(outbound(fresh(2)), history, context)
    assert names(verdict.symbols) == ["OUT_FREQ_MESSAGES"]
    assert only(list(verdict.symbols), "OUT_FREQ_MESSAGES").reason == \
        "account alice@example.com: 121 msgs/10min > 100"
    assert verdict.action == "add_header"  # no header unless outbound.add_headers


def test_without_history_nothing_is_held(context: ContextFactory) -> None:
    verdict = judge(outbound(fresh(200)), History.unknown(), context)
    assert verdict.action == "accept"
    assert names(verdict.symbols) == ["THURAC_HISTORY_UNAVAILABLE"]


def test_a_recipient_who_complained_has_the_accounts_mail_held(
        context: ContextFactory) -> None:
    history = seen(suppressed=frozenset({"carol@remote.example"}))
    verdict = judge(outbound(("carol@remote.example", "dave@remote.example")), history,
                    context)
    assert verdict.action == "quarantine"
    assert verdict.overrides[0].source == "suppression"
    assert hold_reason(verdict).startswith("thurac outbound suppression: 1 recipient(s) "
                                           "complained about alice@example.com's mail")
    off = judge(outbound(("carol@remote.example",)), history, context,
                outbound={"suppression": False})
    assert off.action == "accept"


def test_complaints_and_bulk_technology_raise_the_score(context: ContextFactory) -> None:
    bcc = outbound(fresh(12), to=["undisclosed-recipients:;"])
    history = seen(complaints={ACCOUNT: 2.0},
                   related_recipients=frozenset(fresh(12)))
    verdict = judge(bcc, history, context)
    assert set(names(verdict.symbols)) == {"OUT_TECH_BCC_BULK", "OUT_COMPLAINTS"}
    assert only(list(verdict.symbols), "OUT_COMPLAINTS").score == 6.0


def test_a_suspended_account_gets_the_answer_without_any_check(
        context: ContextFactory) -> None:
    state = AccountState(USER, True, NOW, "ops", "phished password")
    ctx = context()
    verdict = suspended_verdict(state, ctx)
    assert (verdict.action, names(verdict.symbols)) == ("reject", ["OUT_SUSPENDED"])
    reply = outbound_reply(verdict, "Q1", ctx.settings)
    assert reply is not None
    assert reply.text == ("Your account is suspended for sending suspected spam (account "
                          f"suspended since {NOW.isoformat(timespec='seconds')}); please "
                          "contact support [queue id Q1]")
    assert "phished" not in reply.text  # the operator's words are for colleagues


def test_a_tempfail_band_defers_with_the_outbound_text(context: ContextFactory) -> None:
    verdict = judge(outbound(fresh(20)), seen(2, 40, 40), context,
                    outbound={"actions": {"tag": 5, "tempfail": 8, "hold": 20}})
    assert verdict.action == "tempfail"
    reply = outbound_reply(verdict, "Q2", context().settings)
    assert reply is not None and (reply.code, reply.dsn) == ("451", "4.7.1")
    assert reply.text.startswith("Your message was not sent (Circular 22/2021 art. 4.3b, "
                                 "recipients with no prior exchange: 60 new recipients/10min "
                                 "> 50); try again later")


def test_bounces_from_an_internal_host_are_never_fresh_recipients(
        context: ContextFactory) -> None:
    bounce = make_message("", fresh(20), direction="outbound", client_ip="10.1.2.3",
                          to=fresh(1))
    verdict = judge(bounce, seen(5, 200, 0), context)
    assert "OUT_UNRELATED" not in names(verdict.symbols)
    assert "OUT_LIMIT" not in names(verdict.symbols)
