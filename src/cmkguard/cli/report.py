"""`cmkguard report trend DIR`: KPIs over time from a directory of saved audit reports.

Exit codes (the contract of every command): 0 every file read and every audit over a complete
scan; 2 bad input (no such directory, not one readable report in it); 3 incomplete: a file of
the history could not be read or an audit ran over a partial scan (listed on stderr and in the
output), unless `--allow-incomplete`.
"""

from __future__ import annotations

import argparse
import json

from cmkguard.auditing.history import audit_history
from cmkguard.auditing.trend import Trend, trend
from cmkguard.cli._common import add_allow_incomplete, check_output, incomplete_exit, open_output
from cmkguard.report.trend import trend_html, trend_table

__all__ = ["FORMATS", "register"]

FORMATS = ("table", "json", "html")
"""Values of `--format`."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `cmkguard report` and its `trend` sub-command."""
    parser = subparsers.add_parser(
        "report",
        help="reports over saved audits (KPIs over time)",
        description="Reports built from saved audit reports (docs/audit.md).",
    )
    sub = parser.add_subparsers(dest="report_command", metavar="SUBCOMMAND")
    sub.required = True
    cmd = sub.add_parser(
        "trend",
        help="CMK coverage, mean time to remediate, new findings and rotations over time",
        description="Read every *.json audit report in DIR (as written by `cmkguard audit "
        "--format json -o DIR/<date>.json`) and show the KPIs over time.",
    )
    cmd.add_argument("directory", metavar="DIR", help="directory of JSON audit reports")
    cmd.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    cmd.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    add_allow_incomplete(cmd)
    cmd.set_defaults(handler=_trend)


def _render(result: Trend, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2) + "\n"
    if fmt == "html":
        return trend_html(result) + "\n"
    return trend_table(result)


def _gaps(result: Trend) -> list[str]:
    gaps = [f"not read: {p.source}: {p.reason}" for p in result.problems]
    gaps += [
        f"audit of {p.observed_at.isoformat(timespec='seconds')} ran over a partial scan"
        for p in result.points
        if not p.complete
    ]
    return gaps


def _trend(args: argparse.Namespace) -> int:
    check_output(args.output)
    result = trend(audit_history(args.directory))
    with open_output(args.output) as out:
        out.write(_render(result, args.format))
    return incomplete_exit(args, _gaps(result), "audit history")
