"""Where tests leave files for a person to look at (a browser's screenshot of a report):
$THURAC_ARTIFACTS, or .artifacts/ at the top of the checkout (git ignores it)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.thurac import ROOT

ENV = "THURAC_ARTIFACTS"


def artifacts_dir() -> Path:
    """The artefact folder, made if missing."""
    folder = Path(os.environ.get(ENV) or ROOT / ".artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
