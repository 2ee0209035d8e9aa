"""`cmkguard audit`: scan (or read a saved inventory), audit it, print or export the findings.

`--fail-on SEVERITY` turns it into a CI gate: exit 1 when an unsuppressed finding at or above
that severity exists. Bad input (unreadable files, bad policy, unknown region...) exits 2.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import IO

from cmkguard import report as export
from cmkguard.auditing import AuditPolicy, AuditReport, audit
from cmkguard.auditing.org import organization_view
from cmkguard.cli._audit_view import plain_lines, print_rich
from cmkguard.cli._common import (
    EXIT_FINDINGS,
    UsageError,
    check_output,
    incomplete_exit,
    load_document,
    open_output,
)
from cmkguard.cli._org_view import org_view_lines
from cmkguard.cli._scan_options import add_scan_arguments, scan_from_args, terminal_progress
from cmkguard.inventory.values import Inventory
from cmkguard.severity import Severity

__all__ = ["FORMATS", "register", "render_table"]

FORMATS = ("table", "json", "csv", "ocsf", "asff", "sarif")
"""Values of `--format`."""

_FAIL_ON = tuple(s.value for s in sorted(Severity, reverse=True))  # critical ... info


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `cmkguard audit`."""
    parser = subparsers.add_parser(
        "audit",
        help="audit keys and encrypted resources: findings, KPIs, exports, CI gate",
        description="Scan (or read a saved inventory) and report every finding of the catalogue "
        "(docs/findings.md) with its remediation; export JSON, CSV, OCSF, ASFF or SARIF.",
    )
    add_scan_arguments(parser)
    src = parser.add_argument_group("audit")
    src.add_argument(
        "--from-inventory",
        metavar="FILE",
        help="audit an inventory saved by `cmkguard scan --format json` instead of scanning",
    )
    src.add_argument("--policy", metavar="FILE", help="audit policy (TOML or JSON)")
    src.add_argument(
        "--tenant-tag",
        metavar="TAG",
        help="tag naming each resource's tenant: check crypto-shredding readiness per tenant",
    )
    src.add_argument(
        "--previous",
        metavar="REPORT",
        help="an earlier `--format json` report: findings keep their first-seen dates",
    )
    src.add_argument(
        "--fail-on",
        choices=_FAIL_ON,
        metavar="SEVERITY",
        help="exit 1 if an unsuppressed finding at or above SEVERITY exists "
        f"({', '.join(_FAIL_ON)})",
    )
    out = parser.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    out.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    out.add_argument(
        "--report-json",
        metavar="FILE",
        help="also save the full JSON report here; SARIF results then point at its lines "
        "(commit or upload it with the SARIF: it is the artifact code scanning shows)",
    )
    out.add_argument(
        "--org-view",
        metavar="FILE",
        help="also write the organisation view as JSON (coverage by account/OU, kill switch, "
        "outside access, accounts not read); needs an organisation's inventory",
    )
    parser.set_defaults(handler=_run)


def _load_inventory(path: str) -> Inventory:
    return load_document(path, "inventory", Inventory.from_json)


def _load_previous(path: str) -> AuditReport:
    return load_document(path, "report", AuditReport.from_json, kind="cmkguard audit report")


def _scan_options_given(args: argparse.Namespace) -> bool:
    return bool(
        args.demo
        or args.profile
        or args.regions
        or args.types
        or args.endpoint_url
        or args.organization
    )


def _run(args: argparse.Namespace) -> int:
    check_output(args.output)
    check_output(args.org_view)
    check_output(args.report_json)
    policy = AuditPolicy.from_file(args.policy) if args.policy else AuditPolicy()
    previous = _load_previous(args.previous) if args.previous else None
    if args.from_inventory:
        if _scan_options_given(args) or args.role_arns:
            raise UsageError("--from-inventory audits a saved scan: drop the scan options")
        inventory = _load_inventory(args.from_inventory)
    else:
        with terminal_progress() as progress:
            inventory = scan_from_args(args, progress=progress)
    report = audit(inventory, policy, previous=previous, tenant_tag=args.tenant_tag)
    view = organization_view(inventory) if inventory.organization is not None else None
    if args.org_view and view is None:
        raise UsageError("--org-view needs an organisation's inventory (scan --organization)")
    report_json = report.to_json()
    if args.report_json:
        with open_output(args.report_json) as out:
            out.write(report_json + "\n")
    with open_output(args.output) as out:
        _write(report, args.format, out, _sarif_artifact(args), report_json, _pointer(args))
        if view is not None and args.format == "table":
            out.write("\n" + "\n".join(org_view_lines(view)) + "\n")
    if args.org_view and view is not None:
        with open_output(args.org_view) as out:
            out.write(json.dumps(view.to_dict(), indent=2) + "\n")
    # Gaps are listed whatever the gate says; a failed gate (1) wins over incomplete (3): what
    # was read already fails it, and what was not read can only add findings.
    incomplete = incomplete_exit(args, inventory.errors, "inventory")
    worst = report.at_or_above(Severity.parse(args.fail_on)) if args.fail_on else ()
    if worst:
        print(
            f"cmkguard: {len(worst)} finding(s) at or above {args.fail_on}: failing (--fail-on)",
            file=sys.stderr,
        )
        return EXIT_FINDINGS
    return incomplete


def _sarif_artifact(args: argparse.Namespace) -> tuple[str, bool]:
    """The file every SARIF result points at (the saved report, else the inventory read), and
    whether it is the report (results then point at their finding's line)."""
    if args.format != "sarif":
        return "", False
    if args.report_json:
        try:
            return export.sarif.artifact_path(args.report_json), True
        except ValueError as exc:
            raise UsageError(f"--report-json: {exc}; run from the repository root") from None
    if args.from_inventory:
        try:
            return export.sarif.artifact_path(args.from_inventory), False
        except ValueError:
            name = Path(args.from_inventory).name
            print(
                f"cmkguard: note: {args.from_inventory} is outside the working directory; "
                f"SARIF results point at {name!r} (pass --report-json to choose the artifact)",
                file=sys.stderr,
            )
            return name, False
    return "cmkguard-report.json", True


def _write(
    report: AuditReport,
    fmt: str,
    out: IO[str],
    artifact: tuple[str, bool] = ("cmkguard-report.json", True),
    report_json: str = "",
    pointer: str = "",
) -> None:
    if fmt == "table":
        _write_table(report, out, pointer)
    elif fmt == "json":
        out.write(report.to_json() + "\n")
    elif fmt == "csv":
        out.write(export.to_csv(report))
    elif fmt == "ocsf":
        out.write(json.dumps(export.to_ocsf(report), indent=2) + "\n")
    elif fmt == "asff":
        out.write(json.dumps(export.to_asff(report), indent=2) + "\n")
    else:
        # Lines point into the saved report; an inventory as artifact puts them all on line 1.
        uri, is_report = artifact
        text = (report_json or report.to_json()) if is_report else ""
        log = export.to_sarif(report, artifact_uri=uri, report_json=text)
        out.write(json.dumps(log, indent=2) + "\n")


def _pointer(args: argparse.Namespace) -> str:
    """The table's last line: where the full report went, or how to get it."""
    if args.report_json:
        return f"Full report (JSON, every field): {args.report_json}"
    return (
        "Full report: add --report-json FILE (or --format json, csv, ocsf, asff or sarif -o FILE)"
    )


def _write_table(report: AuditReport, out: IO[str], pointer: str) -> None:
    """Colour and tables on a terminal (rich, the `cli` extra); plain lines otherwise."""
    if out is sys.stdout and out.isatty():
        try:
            from rich.console import Console
        except ImportError:
            out.write(
                render_table(report, width=shutil.get_terminal_size().columns, pointer=pointer)
            )
            return
        # Names and messages come from AWS: never read as rich markup or emoji codes
        # (a secret named "[red]x" or "secretsmanager:secret:" must print as written).
        console = Console(file=out, markup=False, emoji=False, highlight=False)
        print_rich(report, console, pointer or _DEFAULT_POINTER)
        return
    out.write(render_table(report, pointer=pointer))


_DEFAULT_POINTER = "Full report: add --report-json FILE"


def render_table(report: AuditReport, width: int | None = None, *, pointer: str = "") -> str:
    """The audit as plain text: the summary by severity and by rule first, then each rule
    (worst first) with its fix once and one line per finding (name, account and region, what is
    wrong), the coverage by resource type, and `pointer` (where the full report is).

    `width` is the terminal's width: long lines are wrapped under their indent instead of the
    terminal folding them at column 0. Files and pipes get one line per item (`width=None`).
    """
    lines = plain_lines(report, pointer or _DEFAULT_POINTER)
    if width is not None:
        lines = [wrapped for line in lines for wrapped in _fit(line, width - 1)]
    return "\n".join(lines) + "\n"


def _fit(line: str, width: int) -> list[str]:
    """`line` wrapped to `width` with a hanging indent; ARNs (no spaces) are never split."""
    if len(line) <= width:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    return textwrap.wrap(
        line,
        width=max(width, 20),
        initial_indent="",
        subsequent_indent=indent + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )
