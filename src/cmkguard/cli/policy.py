"""`cmkguard policy analyze`: analyse a key policy (and optionally its grants) from a file.

Exit codes: 0 not public, 1 public, 2 malformed input (a one-line message naming the location).
The policy file may be the policy document itself or `aws kms get-key-policy` output
(`{"Policy": "...", "PolicyName": "default"}`); the grants file a list of `ListGrants`
entries or `aws kms list-grants` output (`{"Grants": [...]}`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

from cmkguard.arn import is_account_id, is_org_id
from cmkguard.cli._common import EXIT_FINDINGS, EXIT_OK, UsageError, open_output, read_text
from cmkguard.cli._policy_grants import grant_analysis, render_grant_verdicts, render_grants
from cmkguard.errors import PolicyParseError
from cmkguard.policy import (
    GrantAnalysis,
    PolicyAnalysis,
    analyze_key_policy,
    parse_key_policy,
    witness_evidence,
)
from cmkguard.policy.compare import compare_key_policies

__all__ = ["FORMATS", "explain_dict", "register", "render_explanation", "render_table"]

FORMATS = ("table", "json")
"""Values of `--format`."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `cmkguard policy`."""
    parser = subparsers.add_parser(
        "policy",
        help="analyse a key policy: public? cross-account? who can decrypt? (offline)",
        description="Key-policy and grant analysis with full IAM semantics (docs/policy.md). "
        "Never calls AWS.",
    )
    sub = parser.add_subparsers(dest="policy_command", metavar="SUBCOMMAND")
    sub.required = True
    analyze = sub.add_parser(
        "analyze",
        help="analyse a key policy file",
        description="Print the findings with their explanations, then one line per statement. "
        "Exit 1 when the policy is public, 2 when the input is malformed.",
    )
    analyze.add_argument("file", metavar="FILE", help="key policy JSON file, or - for stdin")
    analyze.add_argument("--account", required=True, help="the key's 12-digit account id")
    analyze.add_argument("--org-id", help="the key account's organization id (o-...)")
    analyze.add_argument(
        "--trusted-account",
        action="append",
        default=[],
        metavar="ID",
        help="an external account (or org id) whose access is intended; repeatable",
    )
    analyze.add_argument("--key-arn", help="the key's ARN (lets Resource patterns match exactly)")
    analyze.add_argument("--grants", metavar="FILE", help="ListGrants JSON to analyse as well")
    analyze.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    analyze.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    analyze.set_defaults(handler=_run)
    _register_diff(sub)
    _register_explain(sub)


def _register_diff(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    diff = sub.add_parser(
        "diff",
        help="what a key-policy change does to access (a pull-request gate)",
        description="Who gains or loses each kms action, whether the key becomes public or "
        "gains an external account, findings added and removed, with witnesses. Exit 1 with "
        "--fail-on-new-access when the change adds access, 2 when an input is malformed.",
    )
    diff.add_argument("old", metavar="OLD", help="the current key policy (file, - for stdin)")
    diff.add_argument("new", metavar="NEW", help="the proposed key policy (file)")
    diff.add_argument("--account", required=True, help="the key's 12-digit account id")
    diff.add_argument("--org-id", help="the key account's organization id (o-...)")
    diff.add_argument(
        "--trusted-account",
        action="append",
        default=[],
        metavar="ID",
        help="an external account (or org id) whose access is intended; repeatable",
    )
    diff.add_argument("--key-arn", help="the key's ARN (lets Resource patterns match exactly)")
    diff.add_argument(
        "--fail-on-new-access", action="store_true", help="exit 1 when the change adds access"
    )
    diff.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    diff.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    diff.set_defaults(handler=_run_diff)


def _register_explain(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explain = sub.add_parser(
        "explain",
        help="show, per verdict, one request that gets in and the statements that decide it",
        description="For every verdict (public, each external entity, same-account and "
        "service grants) print a concrete request the policy allows, the Allow statement that "
        "admits it and why each Deny does not apply; then the grants Deny statements remove "
        "and which Denies remove them. Exit 1 when the policy is public, 2 on malformed input.",
    )
    explain.add_argument("file", metavar="FILE", help="key policy JSON file, or - for stdin")
    explain.add_argument("--account", required=True, help="the key's 12-digit account id")
    explain.add_argument("--org-id", help="the key account's organization id (o-...)")
    explain.add_argument(
        "--trusted-account",
        action="append",
        default=[],
        metavar="ID",
        help="an external account (or org id) whose access is intended; repeatable",
    )
    explain.add_argument("--key-arn", help="the key's ARN (lets Resource patterns match exactly)")
    explain.add_argument(
        "--grants",
        metavar="FILE",
        help="ListGrants JSON: also print, per grant verdict, the witness request",
    )
    explain.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    explain.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    explain.set_defaults(handler=_run_explain)


def _run_diff(args: argparse.Namespace) -> int:
    _check_ids(args)
    if args.old == "-" and args.new == "-":
        raise UsageError("only one of OLD and NEW can be read from stdin")
    policies = {}
    for label, path in (("old", args.old), ("new", args.new)):
        source = "<stdin>" if path == "-" else path
        try:
            # Parsed one by one so a malformed file is named in the message.
            policies[label] = parse_key_policy(_policy_input(_read(path, f"{label} key policy")))
        except PolicyParseError as exc:
            raise UsageError(f"{source}: malformed key policy: {exc}") from None
    change = compare_key_policies(
        policies["old"],
        policies["new"],
        key_account=args.account,
        org_id=args.org_id,
        trusted_accounts=args.trusted_account,
        key_arn=args.key_arn,
    )
    with open_output(args.output) as out:
        if args.format == "json":
            json.dump(change.to_dict(), out, indent=2)
            out.write("\n")
        else:
            out.write(str(change) + "\n")
    return EXIT_FINDINGS if args.fail_on_new_access and change.has_new_access else EXIT_OK


def _read(path: str, what: str) -> str:
    """`-` is standard input; anything else a UTF-8 file (a one-line error if unreadable)."""
    return sys.stdin.read() if path == "-" else read_text(path, what)


def _policy_input(text: str) -> str | dict[str, Any]:
    """The policy document, unwrapping `get-key-policy` output when that is what was given."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return text  # let the strict parser report the located error
    if isinstance(doc, dict) and "Policy" in doc and set(doc) <= {"Policy", "PolicyName"}:
        inner = doc["Policy"]
        return inner if isinstance(inner, str) else text
    return text


def _check_ids(args: argparse.Namespace) -> None:
    if not is_account_id(args.account):
        raise UsageError(f"--account {args.account!r} is not a 12-digit account id")
    if args.org_id is not None and not is_org_id(args.org_id):
        raise UsageError(f"--org-id {args.org_id!r} is not an organization id (o-...)")
    for trusted in args.trusted_account:
        if not (is_account_id(trusted) or is_org_id(trusted)):
            raise UsageError(f"--trusted-account {trusted!r} is not an account or org id")


def _analysis(args: argparse.Namespace) -> PolicyAnalysis:
    _check_ids(args)
    source = "<stdin>" if args.file == "-" else args.file
    text = _read(args.file, "key policy")
    try:
        return analyze_key_policy(
            _policy_input(text),
            key_account=args.account,
            org_id=args.org_id,
            trusted_accounts=args.trusted_account,
            key_arn=args.key_arn,
        )
    except PolicyParseError as exc:
        raise UsageError(f"{source}: malformed key policy: {exc}") from None


def _run(args: argparse.Namespace) -> int:
    analysis = _analysis(args)
    grants = grant_analysis(args, analysis)
    with open_output(args.output) as out:
        if args.format == "json":
            data: dict[str, Any] = {"policy": analysis.to_dict()}
            if grants is not None:
                data["grants"] = grants.to_dict()
            json.dump(data, out, indent=2)
            out.write("\n")
        else:
            render_table(analysis, grants, out)
    return EXIT_FINDINGS if analysis.is_public else EXIT_OK


def render_table(analysis: PolicyAnalysis, grants: GrantAnalysis | None, out: IO[str]) -> None:
    """Plain-text report: verdict, findings with explanations, statements, grants."""
    verdict = "PUBLIC" if analysis.is_public else "not public"
    out.write(f"Key policy of account {analysis.key_account}: {verdict}\n")
    external = ", ".join(sorted(analysis.external_access)) or "none"
    out.write(f"External access: {external}\n")
    decrypters = ", ".join(sorted(analysis.principals_allowed("kms:Decrypt"))) or "nobody"
    out.write(f"kms:Decrypt allowed to: {decrypters}\n\n")
    findings = list(analysis.findings) + (list(grants.findings) if grants else [])
    out.write(f"Findings ({len(findings)}):\n")
    if not findings:
        out.write("  none\n")
    for f in findings:
        where = (
            f"Statement[{f.statement_index}]"
            if f.statement_index is not None
            else (f"grant {f.grant_id}" if f.grant_id else "policy")
        )
        flag = " (downgraded)" if f.downgraded else ""
        out.write(f"  {f.severity.value.upper():<8} {f.id:<32} {where}{flag}\n")
        out.write(f"           {f.explanation}\n")
    out.write("\nStatements:\n")
    for s in analysis.statements:
        sid = f" {s.sid!r}" if s.sid else ""
        out.write(f"  [{s.index}]{sid} {s.effect} -> {s.verdict}: {s.reason}\n")
    if grants is not None:
        render_grants(grants, out)


def _run_explain(args: argparse.Namespace) -> int:
    analysis = _analysis(args)
    grants = grant_analysis(args, analysis)
    with open_output(args.output) as out:
        if args.format == "json":
            data = explain_dict(analysis)
            if grants is not None:
                data["grants"] = grants.to_dict()
            json.dump(data, out, indent=2)
            out.write("\n")
        else:
            render_explanation(analysis, out)
            if grants is not None:
                render_grant_verdicts(grants, out, lambda i: _statement_label(analysis, i))
    return EXIT_FINDINGS if analysis.is_public else EXIT_OK


def explain_dict(analysis: PolicyAnalysis) -> dict[str, Any]:
    """The JSON form of `cmkguard policy explain`: verdicts, witnesses and denials."""
    return {
        "key_account": analysis.key_account,
        "org_id": analysis.org_id,
        "is_public": analysis.is_public,
        "exact": analysis.exact,
        "external_access": sorted(analysis.external_access),
        "witnesses": [witness_evidence(w) for w in analysis.witnesses],
        "denials": [d.to_dict() for d in analysis.denials],
    }


def _statement_label(analysis: PolicyAnalysis, index: int) -> str:
    statements = analysis.policy.statements
    sid = statements[index].sid if 0 <= index < len(statements) else None
    return f"Statement[{index}]" + (f" {sid!r}" if sid else "")


def render_explanation(analysis: PolicyAnalysis, out: IO[str]) -> None:
    """Plain text: per verdict the witness request, the Allow that admits it and why each
    Deny does not apply; then the grants Deny statements remove entirely."""
    verdict = "PUBLIC" if analysis.is_public else "not public"
    out.write(f"Key policy of account {analysis.key_account}: {verdict}\n")
    external = ", ".join(sorted(analysis.external_access)) or "none"
    out.write(f"External access: {external}\n")
    if not analysis.exact:
        out.write(
            "Not exact: the analysis reached its work bound; the verdicts marked 'not checked' "
            "assume access (the safe side)\n"
        )
    out.write("\n")
    witnesses = analysis.witnesses
    out.write(f"Verdicts ({len(witnesses)}):\n")
    if not witnesses:
        out.write("  none: no request gets any kms action\n")
    for w in witnesses:
        out.write(f"  {w.verdict.upper()} {w.entity}\n")
        out.write(f"    request:    {w.describe()}\n")
        out.write(f"    allowed by: {_statement_label(analysis, w.allowed_by)}\n")
        if not w.checked:
            out.write("    not checked: past the work bound, the Denies were not all checked\n")
        for escape in w.deny_escapes:
            label = _statement_label(analysis, escape.statement_index)
            out.write(f"    not denied by {label}: {escape.reason}\n")
    denials = analysis.denials
    if denials:
        out.write(f"\nRemoved by Deny ({len(denials)}):\n")
    for d in denials:
        by = ", ".join(_statement_label(analysis, i) for i in d.denied_by)
        allow = _statement_label(analysis, d.statement_index)
        out.write(f"  {allow} gives {d.action} to {d.principal}: removed by {by}\n")
