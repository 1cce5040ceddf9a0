"""Checks judge values: they never reach the milter, the scanner, the store or SQLAlchemy
(DESIGN.md, "Layout"). A check that opened a database session or talked to the MTA could not
be tested without them, and would not run offline in `thurac check` or a replay."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import thurac.checks

FORBIDDEN = ("sqlalchemy", "alembic", "Milter", "thurac.milter", "thurac.scanner",
             "thurac.server", "thurac.store")
CHECKS_DIR = Path(thurac.checks.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def forbidden(module: str) -> bool:
    return any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN)


def test_no_check_file_imports_the_milter_the_scanner_the_store_or_sqlalchemy() -> None:
    offenders = {path.name: sorted(m for m in imported_modules(path) if forbidden(m))
                 for path in sorted(CHECKS_DIR.glob("*.py"))}
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_importing_the_checks_loads_none_of_them_indirectly() -> None:
    probe = ("import sys, thurac.checks; print('\\n'.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=60).stdout.split()
    assert [m for m in loaded if forbidden(m)] == []
