"""Header From sanity: one From field, one address with a domain (RFC 5322 3.6, RFC 7489 6.6.1)."""

from __future__ import annotations

import pytest
from tests.builders import make_message, make_settings, only, run_check

from thurac.checks.base import CheckContext
from thurac.checks.from_header import FromHeader, from_problem
from thurac.dns import Resolver
from thurac.message import Message
from thurac.symbols import Symbol

CHECK = FromHeader()


def with_from(*values: str) -> Message:
    """A well-formed message whose From fields are exactly `values`."""
    return make_message(without=("From",), extra_headers=[("From", v) for v in values])


def run(message: Message) -> list[Symbol]:
    # The check asks no DNS: a resolver pointing nowhere proves it.
    ctx = CheckContext(make_settings(), Resolver(["127.0.0.1:9"], timeout=0.1).session(0.1))
    return run_check(CHECK, message, ctx)


@pytest.mark.parametrize(
    "value",
    ["Shop <news@shop.example>", "news@shop.example", '"Doe, Jane" <jane@shop.example>',
     "=?utf-8?q?C=C3=B4ng_ty?= <sales@shop.example>"],
)
def test_one_from_with_one_address_is_fine(value: str) -> None:
    assert run(with_from(value)) == []


def test_no_from_header_is_missing() -> None:
    found = only(run(with_from()), "FROM_MISSING")
    assert found.reason == "no From header"
    assert found.score == make_settings().score("FROM_MISSING")


@pytest.mark.parametrize("value", ["", "undisclosed-recipients:;", "Shop", "<>", "news@"])
def test_from_without_an_address_with_a_domain_is_missing(value: str) -> None:
    found = only(run(with_from(value)), "FROM_MISSING")
    assert found.reason.startswith("From header has no address with a domain")


def test_two_from_fields_are_multiple() -> None:
    found = only(run(with_from("a@shop.example", "a@shop.example")), "FROM_MULTIPLE")
    assert found.reason == "2 From header fields"


def test_two_addresses_in_one_from_are_multiple() -> None:
    found = only(run(with_from("a@shop.example, Bank <b@bank.example>")), "FROM_MULTIPLE")
    assert found.reason == "2 addresses in From: a@shop.example, b@bank.example"


def test_a_hostile_from_is_quoted_bounded_in_the_reason() -> None:
    found = only(run(with_from("x" * 5000)), "FROM_MISSING")
    assert len(found.reason) < 200


def test_from_problem_is_what_dmarc_sees() -> None:
    assert from_problem(with_from("a@shop.example")) is None
    assert from_problem(with_from()) == ("FROM_MISSING", "no From header")
    problem = from_problem(with_from("a@x.example", "b@y.example"))
    assert problem is not None and problem[0] == "FROM_MULTIPLE"
