"""The explicit OUTBOUND_CHECKS tuple: every file in outbound/checks/ is registered, named
after its file, and emits only catalogued OUT_ symbols no inbound check declares."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import Counter
from types import ModuleType

import pytest

import thurac.outbound.checks
from thurac.checks import CHECKS
from thurac.outbound.checks import OUTBOUND_CHECKS
from thurac.outbound.decision import DECISION_SYMBOLS
from thurac.symbols import CATALOGUE


def check_modules() -> list[ModuleType]:
    return [importlib.import_module(f"thurac.outbound.checks.{m.name}")
            for m in pkgutil.iter_modules(thurac.outbound.checks.__path__)]


@pytest.mark.parametrize("module", check_modules(), ids=lambda m: m.__name__)
def test_every_outbound_check_file_defines_a_registered_check(module: ModuleType) -> None:
    classes = [obj for obj in vars(module).values()
               if inspect.isclass(obj) and obj.__module__ == module.__name__
               and callable(getattr(obj, "check", None)) and hasattr(obj, "symbols")]
    assert classes, f"{module.__name__} defines no check class"
    registered = {type(check) for check in OUTBOUND_CHECKS}
    assert set(classes) <= registered


def test_an_outbound_check_is_named_after_its_file() -> None:
    for check in OUTBOUND_CHECKS:
        module = type(check).__module__.rsplit(".", 1)[1]
        assert check.name == f"outbound_{module}"


def test_outbound_symbols_are_catalogued_out_symbols_declared_once() -> None:
    declared = [s for check in OUTBOUND_CHECKS for s in check.symbols]
    assert [s for s, n in Counter(declared).items() if n > 1] == []
    assert set(declared) <= set(CATALOGUE)
    assert all(s.startswith("OUT_") for s in declared)
    inbound = {s for check in CHECKS for s in check.symbols}
    assert not inbound & set(declared)
    # Every OUT_ symbol is emitted by an outbound check, or by the decision itself.
    out = {name for name in CATALOGUE if name.startswith("OUT_")}
    assert out - set(declared) == set(DECISION_SYMBOLS)
