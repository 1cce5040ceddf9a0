"""Per-recipient policies: the recipient's address, domain or parent-domain key picks the
policy; among several recipients the strictest applies; a policy's thresholds, scores and
switched-off checks change the verdict."""

from __future__ import annotations

from pathlib import Path

from tests.builders import make_message, make_settings

from thurac.policy.recipients import choose, judged_under, policy_of

POLICIES = {
    "legal@example.com": {"actions": {"quarantine": 6.0, "reject": 8.0}},
    "example.com": {"actions": {"add_header": 4.0}},
    ".lists.example.com": {"actions": {"mode": "tag-only"}, "disable": ["technology"],
                           "scores": {"SPF_FAIL": 0.5}},
}


def test_address_then_domain_then_parent_domains() -> None:
    settings = make_settings(policies=POLICIES)
    assert policy_of(settings, "Legal@Example.com") == "legal@example.com"
    assert policy_of(settings, "bob@example.com") == "example.com"
    assert policy_of(settings, "dev@lists.example.com") == ".lists.example.com"
    assert policy_of(settings, "dev@a.lists.example.com") == ".lists.example.com"
    assert policy_of(settings, "bob@sub.example.com") is None  # "example.com" is exact
    assert policy_of(settings, "x@other.example") is None


def test_the_strictest_policy_among_the_recipients_wins() -> None:
    settings = make_settings(policies=POLICIES)
    assert choose(settings, ["dev@lists.example.com", "legal@example.com"]) == (
        "legal@example.com")
    assert choose(settings, ["bob@example.com", "legal@example.com"]) == "legal@example.com"
    # tag-only is looser than the default: a recipient without a policy keeps it enforced.
    assert choose(settings, ["dev@lists.example.com", "x@other.example"]) is None
    assert choose(settings, ["dev@lists.example.com"]) == ".lists.example.com"
    assert choose(settings, []) is None


def test_a_policy_changes_thresholds_scores_and_checks() -> None:
    settings = make_settings(policies=POLICIES)
    legal = judged_under(settings, "legal@example.com")
    assert (legal.actions.quarantine, legal.actions.reject, legal.actions.add_header) == (
        6.0, 8.0, settings.actions.add_header)
    lists = judged_under(settings, ".lists.example.com")
    assert lists.actions.mode == "tag-only"
    assert lists.technology.enabled is False and lists.spf.enabled is True
    assert lists.score("SPF_FAIL") == 0.5 and lists.score("SPF_SOFTFAIL") == (
        settings.score("SPF_SOFTFAIL"))
    assert judged_under(settings, ".lists.example.com") is lists  # built once
    assert judged_under(settings, None) is settings


def test_scanner_judges_under_the_chosen_policy_and_names_it(tmp_path: Path) -> None:
    from thurac.dns import Resolver
    from thurac.scanner import Scanner
    from thurac.store.engine import make_engine, upgrade

    settings = make_settings(policies={"legal@example.com": {"actions": {"add_header": 0.1,
                                                                        "quarantine": 0.2,
                                                                        "reject": 0.3}}},
                             dns={"nameservers": ["127.0.0.1:9"], "timeout": 0.1,
                                  "budget": 0.2})
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    scanner = Scanner(settings, engine, Resolver(["127.0.0.1:9"], timeout=0.1), None)
    # No TLS: C22_TECH_NO_TLS (0.5) is enough for the strict policy's reject threshold.
    normal = scanner.scan(make_message(recipients=("bob@example.com",),
                                       tls_version=None)).verdict
    strict = scanner.scan(make_message(recipients=("bob@example.com", "legal@example.com"),
                                       tls_version=None)).verdict
    assert normal is not None and strict is not None
    assert normal.policy is None and normal.action != "reject"
    assert strict.policy == "legal@example.com"
    assert strict.action == "reject" and strict.score == normal.score
