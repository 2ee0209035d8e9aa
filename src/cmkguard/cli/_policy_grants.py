"""The `--grants` part of `cmkguard policy analyze` and `policy explain`: read, analyse, print.

The grants are analysed with the key policy given on the command line, so its explicit Deny
statements override grants as KMS does (docs/policy.md, "Grants").
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

from cmkguard.cli._common import UsageError, read_text
from cmkguard.errors import PolicyParseError
from cmkguard.policy import DECRYPT_OPERATIONS, GrantAnalysis, PolicyAnalysis, analyze_grants

__all__ = ["grant_analysis", "render_grant_verdicts", "render_grants"]


def _grants_input(text: str, path: str) -> list[Any]:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{path}: invalid JSON: {exc}") from None
    if isinstance(doc, dict) and isinstance(doc.get("Grants"), list):
        doc = doc["Grants"]
    if not isinstance(doc, list):
        raise UsageError(f"{path}: expected a list of grants or ListGrants output")
    return doc


def grant_analysis(args: argparse.Namespace, policy: PolicyAnalysis) -> GrantAnalysis | None:
    """The grants of `--grants FILE` analysed with the key policy (`None` without the flag)."""
    if not args.grants:
        return None
    path = args.grants
    if path == "-" and args.file == "-":
        raise UsageError("only one of FILE and --grants can be read from stdin")
    text = sys.stdin.read() if path == "-" else read_text(path, "grants")
    try:
        return analyze_grants(
            _grants_input(text, path),
            key_account=args.account,
            org_id=args.org_id,
            trusted_accounts=args.trusted_account,
            key_policy=policy.policy,
            key_arn=args.key_arn,
        )
    except PolicyParseError as exc:
        raise UsageError(f"{path}: malformed grants: {exc}") from None


def render_grants(grants: GrantAnalysis, out: IO[str]) -> None:
    """One line per grant (grantee, operations, constraint in words), then who can decrypt."""
    out.write(f"\nGrants ({len(grants.grants)}):\n")
    for g in grants.grants:
        out.write(f"  {g.grant_id}: {g.grantee} <- {', '.join(g.operations)}\n")
        out.write(f"      {g.constraint.describe()}\n")
    decrypters = ", ".join(sorted(grants.decrypters())) or "nobody"
    out.write(f"Decrypt through grants ({', '.join(DECRYPT_OPERATIONS)}): {decrypters}\n")


def render_grant_verdicts(
    grants: GrantAnalysis, out: IO[str], label: Any = lambda i: f"Statement[{i}]"
) -> None:
    """Per grant verdict the witness request and the key-policy Denies it escapes; then the
    grant operations the key policy's Denies remove."""
    out.write(f"\nGrant verdicts ({len(grants.accesses)}):\n")
    if not grants.accesses:
        out.write("  none: no grant lets any request through\n")
    for a in grants.accesses:
        who = "ANY PRINCIPAL" if a.principal == "*" else a.principal
        out.write(f"  {a.operation.upper()} {who} (grant {a.grant_id}, {a.via})\n")
        out.write(f"    request:    {a.describe()}\n")
        out.write(f"    constraint: {a.constraint}\n")
        if not a.checked:
            out.write("    not checked: the key policy's Denies were not all decided\n")
        for escape in a.deny_escapes:
            out.write(f"    not denied by {label(escape.statement_index)}: {escape.reason}\n")
    if grants.denials:
        out.write(f"\nGrant operations removed by the key policy ({len(grants.denials)}):\n")
    for d in grants.denials:
        who = "any principal" if d.principal == "*" else d.principal
        by = ", ".join(label(i) for i in d.denied_by) or "the key policy"
        out.write(f"  grant {d.grant_id} gives {d.operation} to {who}: removed by {by}\n")
