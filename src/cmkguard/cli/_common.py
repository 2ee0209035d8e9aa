"""Shared plumbing for the CLI: usage errors, output files, optional rich output."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "check_output",
    "load_document",
    "open_output",
    "read_text",
    "stderr_is_tty",
]

_T = TypeVar("_T")

EXIT_OK = 0
EXIT_FINDINGS = 1
"""A gate tripped: a public policy, a finding at or above ``--fail-on``."""
EXIT_USAGE = 2
"""Bad input: unknown region or type, malformed file, no credentials, unreachable endpoint."""


class UsageError(Exception):
    """Raised by a command for bad input; ``main`` prints it on one line and exits 2."""


def read_text(path: str, what: str) -> str:
    """The UTF-8 text of ``path``; :class:`UsageError` naming ``what`` when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read {what} {path}: not UTF-8 text ({exc.reason})") from None


def load_document(path: str, what: str, parse: Callable[[str], _T], *, kind: str = "") -> _T:
    """``parse`` the text of ``path``; any malformed content is one :class:`UsageError` line.

    ``what`` names the file in messages ("inventory"); ``kind`` is what a valid one is
    ("cmkguard inventory"). Hand-edited or foreign JSON makes parsers raise anything from
    ``ValueError`` to ``AttributeError``: all of it is bad input, never a traceback.
    """
    kind = kind or f"cmkguard {what}"
    text = read_text(path, what)
    try:
        return parse(text)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        if isinstance(exc, KeyError):
            reason = f"missing field {exc}"
        else:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        reason = reason.removeprefix(f"not a {kind}: ")
        raise UsageError(f"{path} is not a {kind}: {reason}") from None


def check_output(path: str | None) -> None:
    """Fail fast on an ``--output`` that cannot be written, before a long scan runs.

    Only what can be checked without creating the file: its directory exists and is writable,
    and the path is not a directory.
    """
    if path is None or path == "-":
        return
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"cannot write {path}: Is a directory")
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: No such file or directory")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(f"cannot write {path}: Permission denied")


@contextmanager
def open_output(path: str | None) -> Iterator[IO[str]]:
    """Yield the ``--output`` file opened for writing, or stdout when ``path`` is None/``-``.

    A write that fails (full disk, I/O error) is a :class:`UsageError`, not a traceback.
    """
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        handle = Path(path).open("w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with handle:
            yield handle
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def stderr_is_tty() -> bool:
    """Whether progress displays belong on stderr (a terminal, not a pipe or CI log)."""
    return sys.stderr.isatty()
