"""`python -m thurac` runs the operator's command line."""

from thurac.cli import main

raise SystemExit(main())
