"""`make docs-example`: the example report in docs/examples/, made the same way every time.
A store of 20,000 generated events over November 2026 (bench/gen_store.py, fixed seed),
`thurac report --period 2026-11 --format html` on it, and headless Chromium's screenshot of
that page (tests/support/chromium.py): docs/examples/report.html and report.png."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gen_store import generate  # noqa: E402
from tests.support.chromium import render  # noqa: E402

from thurac.store.engine import make_engine  # noqa: E402

EVENTS, DAYS, SEED = 20_000, 30, 1
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)  # the store holds November 2026
PERIOD = "2026-11"
WINDOW = (1000, 1600)  # the whole page, nothing more
OUT = ROOT / "docs" / "examples"
PNG_LIMIT = 400_000  # bytes: the docs stay light


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="thurac-docs-example-") as tmp:
        url = f"sqlite:///{tmp}/thurac.db"
        engine = make_engine(url, readers=1)
        try:
            generate(engine, EVENTS, DAYS, SEED, UNTIL)
        finally:
            engine.dispose()
        config = Path(tmp) / "thurac.yaml"
        config.write_text(yaml.safe_dump({"database": {"url": url}}))
        page = OUT / "report.html"
        subprocess.run([sys.executable, "-m", "thurac", "report", "--period", PERIOD,
                        "--format", "html", "--output", str(page), "--config", str(config)],
                       check=True, cwd=ROOT, timeout=300)
    screenshot = OUT / "report.png"
    render(page, screenshot, *WINDOW)
    size = screenshot.stat().st_size
    print(f"{page.relative_to(ROOT)}, {screenshot.relative_to(ROOT)} ({size:,} bytes)")
    if size > PNG_LIMIT:
        print(f"the screenshot is over {PNG_LIMIT:,} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
