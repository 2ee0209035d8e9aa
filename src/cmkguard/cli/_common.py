"""Shared plumbing for the CLI: usage errors, output files, optional rich output."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NoReturn, Protocol, TypeVar

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_INCOMPLETE",
    "EXIT_OK",
    "EXIT_USAGE",
    "OneLineParser",
    "UsageError",
    "add_allow_incomplete",
    "check_output",
    "incomplete_exit",
    "load_document",
    "open_output",
    "read_text",
    "stderr_is_tty",
]

_T = TypeVar("_T")

EXIT_OK = 0
EXIT_FINDINGS = 1
"""A gate tripped: a public policy, a finding at or above `--fail-on`."""
EXIT_USAGE = 2
"""Bad input: unknown region or type, malformed file, no credentials, unreachable endpoint."""
EXIT_INCOMPLETE = 3
"""Results were produced but something could not be read (listed on stderr and in the output);
`--allow-incomplete` turns it into 0 (or 1 when a gate failed)."""

_GAPS_SHOWN = 10


def add_allow_incomplete(parser: argparse._ActionsContainer) -> None:
    """Add `--allow-incomplete` (accept a result with gaps: exit 0 instead of 3)."""
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="exit 0 even when something could not be read (default: exit 3, gaps on stderr)",
    )


def incomplete_exit(args: argparse.Namespace, gaps: Sequence[object], what: str) -> int:
    """The exit code of a result with `gaps` (`ScanError`s...): listed on stderr, then 3, or
    0 with `--allow-incomplete`. No gaps: 0."""
    if not gaps:
        return EXIT_OK
    allowed = bool(getattr(args, "allow_incomplete", False))
    verdict = (
        "accepted (--allow-incomplete)" if allowed else "exit 3 (--allow-incomplete accepts it)"
    )
    print(
        f"cmkguard: incomplete {what}: {len(gaps)} thing(s) could not be read; {verdict}",
        file=sys.stderr,
    )
    for gap in gaps[:_GAPS_SHOWN]:
        print(f"  {gap}", file=sys.stderr)
    if len(gaps) > _GAPS_SHOWN:
        print(f"  ... and {len(gaps) - _GAPS_SHOWN} more (in the output)", file=sys.stderr)
    return EXIT_OK if allowed else EXIT_INCOMPLETE


class OneLineParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose usage errors are one line on stderr (exit 2), like every
    other bad input: the usage block is for `--help`, not for scripts' logs."""

    def error(self, message: str) -> NoReturn:
        """Print `prog: error: message (see prog --help)` and exit 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class UsageError(Exception):
    """Raised by a command for bad input; `main` prints it on one line and exits 2."""


def read_text(path: str, what: str) -> str:
    """The UTF-8 text of `path`; `UsageError` naming `what` when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read {what} {path}: not UTF-8 text ({exc.reason})") from None


def load_document(path: str, what: str, parse: Callable[[str], _T], *, kind: str = "") -> _T:
    """`parse` the text of `path`; any malformed content is one `UsageError` line.

    `what` names the file in messages ("inventory"); `kind` is what a valid one is
    ("cmkguard inventory"). Hand-edited or foreign JSON makes parsers raise anything from
    `ValueError` to `AttributeError`: all of it is bad input, never a traceback.
    """
    kind = kind or f"cmkguard {what}"
    text = read_text(path, what)
    try:
        return parse(text)
    except RecursionError:
        raise UsageError(f"{path} is not a {kind}: JSON nested too deeply") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        if isinstance(exc, KeyError):
            reason = f"missing field {exc}"
        else:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        reason = reason.removeprefix(f"not a {kind}: ")
        raise UsageError(f"{path} is not a {kind}: {reason}") from None


def check_output(path: str | None) -> None:
    """Fail fast on an `--output` that cannot be written, before a long scan runs.

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
    """Yield the `--output` file opened for writing, or stdout when `path` is None/`-`.

    A write that fails (full disk, I/O error) is a `UsageError`, not a traceback.
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


class _Plan(Protocol):
    def to_json(self) -> str: ...


def write_plan(plan: _Plan, output: str | None, *, next_step: str = "") -> None:
    """Print a plan for review and write its JSON to `--output` (`-`: the JSON on stdout and
    the review on stderr, so the JSON can be piped)."""
    if output and output != "-":
        with open_output(output) as out:
            out.write(plan.to_json())
            out.write("\n")
        print(plan)
        print(f"\nplan written to {output}{next_step}")
    elif output == "-":
        print(plan.to_json())
        print(plan, file=sys.stderr)
    else:
        print(plan)
