"""`python -m cmkguard`: the command-line interface."""

from cmkguard.cli import main

raise SystemExit(main())
