"""The explicit CHECKS tuple: every check file is registered, and every symbol is in the catalogue.

A check file left out of CHECKS would never run, silently; a symbol missing from the catalogue
would have no score in YAML and no line in the docs.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import Counter
from types import ModuleType

import pytest

import thurac.checks
from thurac.checks import CHECKS
from thurac.outbound.checks import OUTBOUND_CHECKS
from thurac.outbound.decision import DECISION_SYMBOLS
from thurac.policy import POLICIES
from thurac.symbols import CATALOGUE

NOT_CHECKS = {"base", "dkim_dns", "spf_dns"}  # the protocol; library adapters beside checks
PIPELINE_GROUP = "thurac"  # symbols the pipeline emits about itself, not about the mail


def check_modules() -> list[ModuleType]:
    found = pkgutil.iter_modules(thurac.checks.__path__)
    return [importlib.import_module(f"thurac.checks.{m.name}")
            for m in found if m.name not in NOT_CHECKS]


def defined_checks(module: ModuleType) -> list[type]:
    return [
        obj for obj in vars(module).values()
        if inspect.isclass(obj) and obj.__module__ == module.__name__
        and callable(getattr(obj, "check", None)) and hasattr(obj, "symbols")
    ]


def test_checks_package_has_check_modules() -> None:
    assert {m.__name__.rsplit(".", 1)[1] for m in check_modules()} >= {
        "frequency", "one_way_source", "unrelated_recipients", "technology",
    }


@pytest.mark.parametrize("module", check_modules(), ids=lambda m: m.__name__)
def test_every_check_file_defines_a_check_that_is_registered(module: ModuleType) -> None:
    classes = defined_checks(module)
    assert classes, f"{module.__name__} defines no check class"
    registered = {type(check) for check in CHECKS}
    for cls in classes:
        assert cls in registered, f"{cls.__name__} ({module.__name__}) is not in CHECKS"


def test_a_check_is_named_after_its_file_so_an_error_symbol_leads_to_it() -> None:
    for check in CHECKS:
        assert type(check).__module__ == f"thurac.checks.{check.name}"


def test_each_check_is_registered_once() -> None:
    counts = Counter(check.name for check in CHECKS)
    assert [name for name, n in counts.items() if n > 1] == []


def test_dmarc_runs_after_the_results_it_reads() -> None:
    order = [check.name for check in CHECKS]
    for before in ("spf", "dkim", "arc", "from_header"):
        assert order.index(before) < order.index("dmarc")


def test_every_declared_symbol_is_in_the_catalogue() -> None:
    for check in CHECKS:
        unknown = set(check.symbols) - set(CATALOGUE)
        assert not unknown, f"{check.name} declares symbols missing from the catalogue: {unknown}"


def test_no_symbol_is_declared_by_two_checks() -> None:
    counts = Counter(symbol for check in CHECKS for symbol in check.symbols)
    assert [symbol for symbol, n in counts.items() if n > 1] == []


def test_checks_never_declare_the_pipelines_own_symbols() -> None:
    for check in CHECKS:
        own = [s for s in check.symbols if CATALOGUE[s].group == PIPELINE_GROUP]
        assert own == [], f"{check.name} declares {own}"


def _groups() -> list[str]:
    return sorted({info.group for info in CATALOGUE.values()} - {PIPELINE_GROUP})


@pytest.mark.parametrize("group", _groups())
def test_every_catalogue_symbol_is_declared_by_some_check(group: str) -> None:
    # Otherwise docs and YAML offer a score for something nothing ever emits.
    declared = {symbol for check in CHECKS for symbol in check.symbols}
    declared |= {symbol for policy in POLICIES for symbol in policy.symbols}
    declared |= {symbol for check in OUTBOUND_CHECKS for symbol in check.symbols}
    declared |= set(DECISION_SYMBOLS)
    in_group = {name for name, info in CATALOGUE.items() if info.group == group}
    if not in_group & declared and not group.startswith("c22_"):
        pytest.skip(f"no check declares any {group} symbol yet (its check is still a stub)")
    assert in_group - declared == set()
