"""The two commands: `make run` installs what thurac needs to run and nothing more (no test
tools in the runtime venv); `make test` installs the test extra too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def planned(target: str) -> str:
    """What `make TARGET` would run from scratch (make -n -B: printed, not run)."""
    return subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_installs_no_test_tools_and_make_test_does() -> None:
    run = planned("run")
    assert "pip install -q -e ." in run and "[test]" not in run
    assert "thurac run --config" in run
    assert "'.[test]'" in planned("test")
