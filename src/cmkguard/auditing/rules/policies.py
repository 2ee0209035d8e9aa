"""Key-policy and grant findings of the analyser, on the key and on every resource it protects.

The analyser (`cmkguard.policy`) says what is wrong with a key's policy and grants; this rule
turns each of its findings into an audit finding on the key and, as *blast radius*, on every
resource whose storage or secondary key it is (a public key exposes those databases and secrets).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cmkguard.auditing.context import AuditContext, key_label
from cmkguard.auditing.finding import Finding
from cmkguard.auditing.rules.keys import customer_keys
from cmkguard.errors import CmkGuardError
from cmkguard.inventory.values import KmsKey
from cmkguard.severity import Severity

__all__ = ["check_policies"]

_MAX_LISTED = 50


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, frozenset, set)):
        return ",".join(sorted(str(v) for v in value))
    return str(value)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Severity):
        return value.value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    return str(value)


def _analyses(
    ctx: AuditContext, key: KmsKey, evidence: dict[str | None, Any]
) -> tuple[list[tuple[str, Any]], str | None]:
    """(source, finding) pairs for the key's policy and grants, and a parse error if any;
    `evidence` receives each grant's witnesses, by grant id."""
    import cmkguard.policy as policy_mod

    trusted = ctx.policy.trusted_accounts
    org = ctx.policy.org_id
    out: list[tuple[str, Any]] = []
    error: str | None = None
    if key.policy is not None:
        try:
            if not trusted and org is None:
                analysis = key.policy_analysis  # cached on the key
            else:
                analysis = policy_mod.analyze_key_policy(
                    key.policy, key_account=key.account, org_id=org, trusted_accounts=trusted
                )
            if analysis is not None:
                out += [("policy", f) for f in analysis.findings]
        except (CmkGuardError, ValueError) as exc:
            error = str(exc)
    if key.grants:
        try:
            grants = _grant_analysis(key, org, trusted)
            out += [("grant", f) for f in grants.findings]
            evidence.update({f.grant_id: grants.evidence(f.grant_id) for f in grants.findings})
        except (CmkGuardError, ValueError) as exc:
            error = error or f"grants: {exc}"
    return out, error


def _grant_analysis(key: KmsKey, org: str | None, trusted: Any) -> Any:
    """The key's grants, with its key policy's Denies when the policy parses (a Deny there
    overrides a grant) and the audit's organization and trusted accounts."""
    if org is None and not trusted:
        return key.grant_analysis  # cached on the key
    return key.analyze_grants(org_id=org, trusted_accounts=trusted)


def check_policies(ctx: AuditContext) -> Iterator[Finding]:
    """Every policy and grant finding on each customer-managed key, plus its blast radius."""
    min_sev = ctx.policy.blast_radius_min_severity
    for key in customer_keys(ctx):
        label = key_label(key, key.arn)
        grant_evidence: dict[str | None, Any] = {}
        found, error = _analyses(ctx, key, grant_evidence)
        if error is not None:
            yield ctx.finding(
                "key-policy-unparseable",
                f"The policy of {label} could not be analysed: {error}",
                key=key,
                evidence={"error": error},
            )
        protected = ctx.inventory.resources_on_key(key.arn)
        for source, pf in found:
            rule_id = str(pf.id)
            disc = "|".join(
                (
                    source,
                    _text(getattr(pf, "statement_index", None)),
                    _text(getattr(pf, "sid", None)),
                    _text(getattr(pf, "principal", None)),
                    _text(getattr(pf, "action", None)),
                    _text(getattr(pf, "grant_id", None)),
                )
            )
            evidence = {
                "source": source,
                "statement_index": _jsonable(getattr(pf, "statement_index", None)),
                "sid": _jsonable(getattr(pf, "sid", None)),
                "principal": _jsonable(getattr(pf, "principal", None)),
                "action": _jsonable(getattr(pf, "action", None)),
                "condition": _jsonable(getattr(pf, "condition", None)),
                "downgraded": _jsonable(getattr(pf, "downgraded", False)),
                # Capped so that a key protecting thousands of resources keeps a small finding;
                # every one of them gets its own blast-radius finding anyway.
                "protected_resources": [r.arn for r in protected[:_MAX_LISTED]],
                "protected_count": len(protected),
            }
            if source == "grant":
                # The grant's constraint in words and its witness requests (who gets in, with
                # which encryption context), so a reviewer can check the verdict.
                evidence["grant"] = grant_evidence.get(getattr(pf, "grant_id", None))
            explanation = str(getattr(pf, "explanation", "") or rule_id)
            key_finding = ctx.finding(
                rule_id,
                f"{label}: {explanation}",
                key=key,
                evidence=evidence,
                discriminator=disc,
                severity=pf.severity,
            )
            yield key_finding
            if key_finding.severity < min_sev:
                continue
            for r in protected:
                yield ctx.finding(
                    rule_id,
                    f"{r.name} is encrypted with {label}, whose {source}: {explanation}",
                    resource=r,
                    key=key,
                    evidence={
                        "source": source,
                        "key_finding": key_finding.fingerprint,
                        "principal": evidence["principal"],
                        "action": evidence["action"],
                    },
                    discriminator=disc,
                    severity=pf.severity,
                )
