"""The `cmkguard` command: a thin shell over the library (parsing, formats, exit codes).

Each sub-command lives in its own module exposing `register(subparsers)`; the module registers
its parser and sets `handler` (`Callable[[argparse.Namespace], int]`) as a default.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from cmkguard._version import __version__
from cmkguard.cli._common import EXIT_USAGE, OneLineParser, UsageError
from cmkguard.errors import CmkGuardError

__all__ = ["build_parser", "main"]

# Sub-command modules, in the order `--help` lists them.
_COMMAND_MODULES: tuple[str, ...] = (
    "scan",
    "audit",
    "policy",
    "migrate",
    "guardrails",
    "iac",
    "demo",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every sub-command registered."""
    # Sub-parsers inherit the class: every usage error anywhere is one line.
    parser = OneLineParser(
        prog="cmkguard",
        description="AWS encryption-key governance: inventory, key analysis, audit, migration.",
    )
    parser.add_argument("--version", action="version", version=f"cmkguard {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"cmkguard.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 gate failed, 2 bad input, 3 incomplete)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse exits on a usage error (after its one line) and after --help/--version;
        # a caller of main() gets the code back, the console script still exits with it.
        return _exit_status(exc.code)
    try:
        code: int = args.handler(args)
        # Flush here, not at interpreter exit, so a closed pipe is caught below.
        sys.stdout.flush()
    except (UsageError, CmkGuardError) as exc:
        print(f"cmkguard: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cmkguard: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`cmkguard scan --format json | head`): stop quietly, like
        # other Unix tools, with the shell's code for SIGPIPE.
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    return code


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else EXIT_USAGE


EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a command whose output pipe was closed."""


def _discard_stdout() -> None:
    # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until the process exits
