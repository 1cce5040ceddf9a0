"""feedback/ is a pure library (DESIGN.md, "Layout"): it reads a report's bytes and returns
values; the milter, the store and the CLI call it, never the reverse."""

from __future__ import annotations

from pathlib import Path

from tests.checks.test_layering import forbidden, imported_modules

import thurac.feedback

FEEDBACK_DIR = Path(thurac.feedback.__file__).parent


def test_no_feedback_file_imports_the_milter_the_scanner_the_store_or_sqlalchemy() -> None:
    offenders = {path.name: sorted(m for m in imported_modules(path)
                                   if forbidden(m) or m.startswith("thurac.cli"))
                 for path in sorted(FEEDBACK_DIR.glob("*.py"))}
    assert {name: mods for name, mods in offenders.items() if mods} == {}
