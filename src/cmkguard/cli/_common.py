"""Shared plumbing for the CLI: usage errors, output files, optional rich output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "UsageError", "open_output", "stderr_is_tty"]

EXIT_OK = 0
EXIT_FINDINGS = 1
"""A gate tripped: a public policy, a finding at or above ``--fail-on``."""
EXIT_USAGE = 2
"""Bad input: unknown region or type, malformed file, no credentials, unreachable endpoint."""


class UsageError(Exception):
    """Raised by a command for bad input; ``main`` prints it on one line and exits 2."""


@contextmanager
def open_output(path: str | None) -> Iterator[IO[str]]:
    """Yield the ``--output`` file opened for writing, or stdout when ``path`` is None/``-``."""
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        handle = Path(path).open("w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
    with handle:
        yield handle


def stderr_is_tty() -> bool:
    """Whether progress displays belong on stderr (a terminal, not a pipe or CI log)."""
    return sys.stderr.isatty()
