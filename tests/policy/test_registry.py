"""The explicit POLICIES tuple: every policy file is registered, named after its file, and
as pure as the checks (no milter, no scanner, no store, no SQLAlchemy)."""

from __future__ import annotations

import pkgutil
from pathlib import Path

from tests.checks.test_layering import forbidden, imported_modules

import thurac.policy
from thurac.policy import POLICIES

# what a policy is; list matching (allow_block uses it); which settings judge a message
NOT_POLICIES = {"base", "lists", "recipients"}


def test_every_policy_file_is_registered_under_its_own_name() -> None:
    files = {m.name for m in pkgutil.iter_modules(thurac.policy.__path__)} - NOT_POLICIES
    assert sorted(p.name for p in POLICIES) == sorted(files)


def test_no_policy_file_imports_the_milter_the_scanner_the_store_or_sqlalchemy() -> None:
    folder = Path(thurac.policy.__file__).parent
    offenders = {path.name: sorted(m for m in imported_modules(path) if forbidden(m))
                 for path in sorted(folder.glob("*.py"))}
    assert {name: mods for name, mods in offenders.items() if mods} == {}
