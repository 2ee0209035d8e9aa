"""`cmkguard iac check`: classify the keys of resources in Terraform plans and CloudFormation
templates before deploy, and gate a pull request on the findings.

Exit codes (the contract of every command): 0 complete and no finding at or above
`--fail-on`; 1 the gate failed; 2 bad input (an unreadable file, a file that is neither a plan
nor a template, nothing to check); 3 incomplete: a declared key could not be classified (known
only after apply, an unresolved parameter or import...), the gaps listed on stderr and in the
output, unless `--allow-incomplete`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import IO, TYPE_CHECKING, cast

from cmkguard.cli._common import EXIT_FINDINGS, EXIT_OK, UsageError, check_output, open_output
from cmkguard.iac import IacReport, check_iac, key_class_name
from cmkguard.severity import Severity

if TYPE_CHECKING:
    from cmkguard.auditing.report import AuditReport

__all__ = ["FORMATS", "register", "render_table"]

FORMATS = ("table", "json", "sarif", "csv", "ocsf")
"""Values of `--format`."""

EXIT_INCOMPLETE = 3
"""Results were produced but some keys could not be classified (the shared contract's 3)."""

_FAIL_ON = tuple(s.value for s in sorted(Severity, reverse=True))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `cmkguard iac` and its `check` sub-command."""
    parser = subparsers.add_parser(
        "iac",
        help="check Terraform plans and CloudFormation templates before deploy",
        description="Infrastructure-code checks: which key each declared database, snapshot, "
        "secret and KMS key will use once deployed (docs/iac.md).",
    )
    sub = parser.add_subparsers(dest="iac_command", metavar="SUBCOMMAND")
    sub.required = True
    check = sub.add_parser(
        "check",
        help="classify resources and report findings (SARIF for pull requests)",
        description="Read Terraform plans (`terraform show -json PLANFILE`) and CloudFormation "
        "templates (JSON or YAML); directories are searched for *.json, *.yaml, *.yml, "
        "*.template files that are either.",
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="file or directory")
    check.add_argument(
        "--fail-on",
        choices=_FAIL_ON,
        metavar="SEVERITY",
        help=f"exit 1 if a finding at or above SEVERITY exists ({', '.join(_FAIL_ON)})",
    )
    check.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    check.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    check.add_argument(
        "--account",
        metavar="ID",
        help="the deploying account: literal key ARNs of other accounts are cross-account",
    )
    check.add_argument(
        "--region", metavar="REGION", help="the stack's region (CloudFormation AWS::Region)"
    )
    check.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a CloudFormation parameter value (repeatable; otherwise its Default)",
    )
    check.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="exit 0 (or 1) even when some keys cannot be classified before deploy",
    )
    check.add_argument("--policy", metavar="FILE", help="audit policy (TOML or JSON)")
    check.add_argument(
        "--describe-keys",
        action="store_true",
        help="resolve literal key identifiers with kms:DescribeKey (needs credentials)",
    )
    check.add_argument("--profile", metavar="NAME", help="AWS profile for --describe-keys")
    check.add_argument(
        "--endpoint-url", metavar="URL", help="send --describe-keys requests to this endpoint"
    )
    check.set_defaults(handler=_run)


def _parameters(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--parameter expects NAME=VALUE, got {item!r}")
        out[name] = value
    return out


def _run(args: argparse.Namespace) -> int:
    from cmkguard.auditing.config import AuditPolicy

    check_output(args.output)
    if args.account is not None and not (len(args.account) == 12 and args.account.isdigit()):
        raise UsageError(f"--account expects a 12-digit account id, got {args.account!r}")
    if (args.profile or args.endpoint_url) and not args.describe_keys:
        raise UsageError("--profile and --endpoint-url are used only with --describe-keys")
    policy = AuditPolicy.from_file(args.policy) if args.policy else AuditPolicy()
    describe = None
    account = args.account
    if args.describe_keys:
        from cmkguard.aws.access import AwsAccess
        from cmkguard.aws.identity import caller_account, open_session
        from cmkguard.iac.aws_keys import describe_with

        session = open_session(args.profile, args.region, endpoint_url=args.endpoint_url)
        region = args.region or session.region_name or "us-east-1"
        account = account or caller_account(session, region)
        describe = describe_with(AwsAccess.from_session(session), region)
    report = check_iac(
        args.paths,
        account=account,
        region=args.region,
        parameters=_parameters(args.parameter),
        policy=policy,
        describe=describe,
    )
    if not report.files:
        raise UsageError(
            f"no Terraform plan or CloudFormation template found in {' '.join(args.paths)}"
        )
    with open_output(args.output) as out:
        _write(report, args.format, out)
    if args.fail_on:
        worst = report.at_or_above(Severity.parse(args.fail_on))
        if worst:
            print(
                f"cmkguard: {len(worst)} finding(s) at or above {args.fail_on}: failing "
                "(--fail-on)",
                file=sys.stderr,
            )
            return EXIT_FINDINGS
    if report.gaps and not args.allow_incomplete:
        print(
            f"cmkguard: incomplete: {len(report.gaps)} key(s) could not be classified "
            "before deploy (--allow-incomplete to accept):",
            file=sys.stderr,
        )
        for gap in report.gaps:
            print(f"  {gap}", file=sys.stderr)
        return EXIT_INCOMPLETE
    return EXIT_OK


def _write(report: IacReport, fmt: str, out: IO[str]) -> None:
    if fmt == "table":
        out.write(render_table(report))
    elif fmt == "json":
        out.write(report.to_json() + "\n")
    elif fmt == "sarif":
        from cmkguard.report.sarif import iac_to_sarif

        out.write(json.dumps(iac_to_sarif(report), indent=2) + "\n")
    elif fmt == "csv":
        from cmkguard.report.csv import report_to_csv

        # The CSV export reads only `.findings`, which an IacReport has too.
        out.write(report_to_csv(cast("AuditReport", report)))
    else:
        from datetime import UTC, datetime

        from cmkguard.report.ocsf import finding_to_ocsf

        now = datetime.now(UTC)
        events = [
            finding_to_ocsf(f, time=now, tool_version=report.tool_version) for f in report.findings
        ]
        out.write(json.dumps(events, indent=2) + "\n")


def render_table(report: IacReport) -> str:
    """Every resource checked, by file: its key class, then its findings most severe first."""
    lines: list[str] = []
    for file in report.files:
        lines.append(file)
        for r in (r for r in report.resources if r.file == file):
            where = f":{r.line}" if r.line else ""
            key = (
                f"  key {r.key_address or r.key_reference}"
                if (r.key_address or r.key_reference)
                else ""
            )
            lines.append(
                f"  {r.address}{where}  {r.resource_type}  {key_class_name(r.key_class)}{key}"
            )
            if r.reason:
                lines.append(f"      {r.reason}")
            for f in sorted(r.findings, key=lambda f: -f.severity.rank):
                lines.append(f"    {f.severity.value.upper()} {f.rule_id}: {f.message}")
        lines.append("")
    classes = ", ".join(f"{n} {c}" for c, n in report.key_class_counts().items())
    sev = Counter(f.severity.value for f in report.active_findings)
    counts = ", ".join(
        f"{s.value} {sev[s.value]}" for s in sorted(Severity, reverse=True) if sev[s.value]
    )
    lines.append(f"{len(report.resources)} resources checked ({classes or 'none'})")
    lines.append(f"{len(report.active_findings)} findings ({counts or 'none'})")
    if report.gaps:
        lines.append(f"incomplete: {len(report.gaps)} key(s) could not be classified before deploy")
    return "\n".join(lines) + "\n"
