"""The ``cmkguard`` command: a thin shell over the library (parsing, formats, exit codes).

Each sub-command lives in its own module exposing ``register(subparsers)``; the module registers
its parser and sets ``handler`` (``Callable[[argparse.Namespace], int]``) as a default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cmkguard import __version__
from cmkguard.cli._common import EXIT_USAGE, UsageError
from cmkguard.errors import CmkGuardError

__all__ = ["build_parser", "main"]

# Sub-command modules, in the order ``--help`` lists them.
_COMMAND_MODULES: tuple[str, ...] = ("scan", "audit", "policy", "migrate")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every sub-command registered."""
    parser = argparse.ArgumentParser(
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
    """Run the CLI; return the exit code (0 ok, 1 gate tripped, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except (UsageError, CmkGuardError) as exc:
        print(f"cmkguard: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cmkguard: interrupted", file=sys.stderr)
        return 130
    return code
