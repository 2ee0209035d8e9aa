"""Findings for declared resources, with the audit's catalogue ids.

The same rules as the audit of a deployed estate (`resource-unencrypted`,
`rds-instance-aws-managed-key`, `key-rotation-disabled`, the key-policy analyser's ids...), so a
finding in a pull request and the same problem found after deploy share a rule id. Each finding's
evidence carries the file, line and address.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from cmkguard.auditing.catalogue import AWS_MANAGED_RULE_BY_TYPE, FINDING_CATALOGUE
from cmkguard.auditing.config import AuditPolicy
from cmkguard.auditing.finding import Finding
from cmkguard.errors import CmkGuardError
from cmkguard.iac._decl import Decl, Known, Unknown
from cmkguard.iac.classify import Verdict
from cmkguard.iac.cloudformation import SELF_ACCOUNT
from cmkguard.inventory.values import KeyClass
from cmkguard.severity import Severity
from cmkguard.types import Region, ResourceArn

__all__ = ["DEFAULT_MIN_DELETION_WINDOW_DAYS", "resource_findings"]

DEFAULT_MIN_DELETION_WINDOW_DAYS = 30
"""The shortest acceptable key deletion waiting period (AWS allows 7-30 days, default 30)."""

_PHRASE = {
    KeyClass.AWS_MANAGED: "an AWS-managed key",
    KeyClass.AWS_OWNED: "an AWS owned key",
    KeyClass.CUSTOMER_MANAGED: "a customer-managed key",
    KeyClass.CROSS_ACCOUNT: "another account's key",
    KeyClass.UNENCRYPTED: "no key (unencrypted)",
    KeyClass.UNKNOWN: "an unknown key",
}


class _Emitter:
    """Builds findings for one declaration: catalogue severity, overrides, location evidence."""

    def __init__(self, decl: Decl, policy: AuditPolicy) -> None:
        self.decl = decl
        self.policy = policy
        self.rules = FINDING_CATALOGUE
        self.target = ResourceArn(f"{decl.file}#{decl.address}")

    def __call__(
        self,
        rule_id: str,
        message: str,
        evidence: Mapping[str, Any] | None = None,
        discriminator: str = "",
        severity: Severity | None = None,
    ) -> Finding:
        spec = self.rules[rule_id]
        sev = self.policy.severity_overrides.get(rule_id, severity or spec.severity)
        where = {
            "file": self.decl.file,
            "line": self.decl.line,
            "address": self.decl.address,
            "iac_type": self.decl.resource_type,
        }
        return Finding(
            rule_id=rule_id,
            severity=sev,
            title=spec.title,
            message=message,
            remediation=spec.remediation,
            region=Region(self.decl.region) if self.decl.region else None,
            resource_type=self.decl.kind,
            resource_arn=self.target,
            evidence=where | dict(evidence or {}),
            discriminator=discriminator,
        )


def resource_findings(
    decl: Decl,
    verdict: Verdict,
    secondary: list[tuple[str, str | None, Verdict]],
    policy: AuditPolicy,
    account: str | None,
    min_deletion_window_days: int = DEFAULT_MIN_DELETION_WINDOW_DAYS,
) -> list[Finding]:
    """Every finding of one declared resource."""
    emit = _Emitter(decl, policy)
    if decl.kind == "kms:key":
        return list(_key_findings(emit, decl, policy, account, min_deletion_window_days))
    if decl.kind == "kms:alias":
        return []
    out = list(_class_findings(emit, decl, verdict, policy))
    out += _state_findings(emit, decl, "", verdict)
    for purpose, region, use in secondary:
        disc = f"{purpose}@{region or '?'}"
        out += _state_findings(emit, decl, disc, use)
        ev = {
            "purpose": purpose,
            "secondary_region": region,
            "secondary_key_class": use.key_class.value,
        }
        if purpose == "performance-insights" and use.key_class is KeyClass.AWS_MANAGED:
            out.append(
                emit(
                    "rds-performance-insights-aws-managed-key",
                    f"Performance Insights of {decl.address} will be encrypted with the "
                    f"AWS-managed key {use.reference or 'aws/rds'}.",
                    ev,
                    disc,
                )
            )
        elif (
            purpose == "replica"
            and use.key_class is not verdict.key_class
            and KeyClass.UNKNOWN not in (use.key_class, verdict.key_class)
        ):
            out.append(
                emit(
                    "secret-replica-key-class-mismatch",
                    f"The replica of {decl.address} in {region or '?'} will be on "
                    f"{_PHRASE[use.key_class]}; the primary on {_PHRASE[verdict.key_class]}.",
                    ev,
                    disc,
                )
            )
    return out


def _class_findings(
    emit: _Emitter, decl: Decl, verdict: Verdict, policy: AuditPolicy
) -> Iterator[Finding]:
    ev: dict[str, Any] = {"key_class": verdict.key_class.value}
    if verdict.reference:
        ev["key_reference"] = verdict.reference
    if verdict.reason:
        ev["reason"] = verdict.reason
    name = decl.address
    if verdict.key_class is KeyClass.AWS_MANAGED:
        rule = AWS_MANAGED_RULE_BY_TYPE.get(decl.kind, "resource-aws-managed-key")
        yield emit(
            rule, f"{name} will be encrypted with the AWS-managed key {verdict.reference}.", ev
        )
    elif verdict.key_class is KeyClass.AWS_OWNED:
        yield emit(
            "resource-aws-owned-key",
            f"{name} will be encrypted with an AWS owned key: {verdict.reason}.",
            ev,
        )
    elif verdict.key_class is KeyClass.UNENCRYPTED:
        tail = f" ({verdict.reason})" if verdict.reason else ""
        yield emit("resource-unencrypted", f"{name} will not be encrypted at rest{tail}.", ev)
    elif verdict.key_class is KeyClass.CROSS_ACCOUNT:
        owner = (verdict.reference or "").split(":")[4:5]
        if owner and owner[0] in policy.trusted_accounts:
            return
        ev["key_account"] = owner[0] if owner else None
        yield emit(
            "resource-cross-account-key",
            f"{name} will be encrypted with {verdict.reference}, a key of another account.",
            ev,
        )
    elif verdict.key_class is KeyClass.UNKNOWN:
        yield emit(
            "resource-key-unknown",
            f"The key of {name} cannot be known before deploy: {verdict.reason or 'no reason'}.",
            ev,
        )


def _state_findings(emit: _Emitter, decl: Decl, disc: str, verdict: Verdict) -> list[Finding]:
    what = decl.address + (f" ({disc.replace('@', ' in ')})" if disc else "")
    ev = {"key_state": verdict.key_state, "key_purpose": disc or "storage"}
    if verdict.key_state == "Disabled":
        label = verdict.key_address or verdict.reference
        return [
            emit(
                "resource-key-disabled", f"{what} will be on {label}, which is disabled.", ev, disc
            )
        ]
    if verdict.key_state == "PendingDeletion":
        return [
            emit(
                "resource-key-pending-deletion",
                f"{what} will be on {verdict.reference}, which is scheduled for deletion.",
                ev,
                disc,
            )
        ]
    if verdict.key_state not in (None, "Enabled", "Creating", "Updating"):
        return [
            emit(
                "resource-key-unavailable",
                f"{what} will be on {verdict.reference}, which is in state {verdict.key_state}.",
                ev,
                disc,
            )
        ]
    return []


def _rotation_applicable(decl: Decl) -> str | None:
    """Why automatic rotation does not apply to a declared key (`None`: it applies)."""
    spec = decl.known("spec", "SYMMETRIC_DEFAULT")
    usage = decl.known("usage", "ENCRYPT_DECRYPT")
    origin = decl.known("origin", "AWS_KMS")
    if decl.get("custom_key_store") is not None:
        return "a key in a custom key store"
    if isinstance(spec, str) and spec != "SYMMETRIC_DEFAULT":
        return f"a {spec} key"
    if isinstance(usage, str) and usage != "ENCRYPT_DECRYPT":
        return f"a {usage} key"
    if isinstance(origin, str) and origin != "AWS_KMS":
        return f"a key with {origin} material"
    return None


def _key_findings(
    emit: _Emitter, decl: Decl, policy: AuditPolicy, account: str | None, min_window: int
) -> Iterator[Finding]:
    name = decl.address
    not_applicable = _rotation_applicable(decl)
    rotation = decl.get("rotation")
    if not_applicable is not None:
        yield emit(
            "key-rotation-not-applicable",
            f"{name} is {not_applicable}: automatic rotation does not apply.",
        )
    elif isinstance(rotation, Unknown):
        pass  # the class of the value is reported nowhere else; nothing to claim
    elif not (isinstance(rotation, Known) and _truthy(rotation.value)):
        yield emit("key-rotation-disabled", f"{name} is declared without automatic rotation.")
    else:
        period = decl.known("rotation_period", 365)
        numeric = isinstance(period, (int, float, str)) and str(period).isdigit()
        if numeric and int(period) > policy.max_rotation_days:
            yield emit(
                "key-rotation-period-too-long",
                f"{name} rotates every {int(period)} days (policy maximum "
                f"{policy.max_rotation_days}).",
                {"rotation_period_days": int(period)},
            )
    window = decl.known("deletion_window", 30)
    if isinstance(window, (int, float, str)) and str(window).isdigit() and int(window) < min_window:
        yield emit(
            "key-deletion-window-short",
            f"{name} has a deletion waiting period of {int(window)} days (minimum {min_window}).",
            {"deletion_window_days": int(window)},
        )
    yield from _tag_findings(emit, decl, policy)
    yield from _policy_findings(emit, decl, policy, account)


def _tag_findings(emit: _Emitter, decl: Decl, policy: AuditPolicy) -> Iterator[Finding]:
    tags = decl.get("tags")
    if isinstance(tags, Unknown) or not policy.required_tags:
        return
    present = _tag_names(tags.value if isinstance(tags, Known) else None)
    missing = [t for t in policy.required_tags if t not in present]
    if missing:
        yield emit(
            "key-missing-tags",
            f"{decl.address} is declared without the tags {', '.join(missing)}.",
            {"missing_tags": missing},
        )


def _tag_names(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value}
    if isinstance(value, list):  # CloudFormation: [{Key, Value}]
        return {str(t.get("Key")) for t in value if isinstance(t, dict)}
    return set()


def _policy_findings(
    emit: _Emitter, decl: Decl, policy: AuditPolicy, account: str | None
) -> Iterator[Finding]:
    from cmkguard.policy import analyze_key_policy

    value = decl.get("policy")
    if not isinstance(value, Known):
        return  # absent: the default key policy (the account only); unknown: nothing to analyse
    document = value.value
    text = document if isinstance(document, str) else json.dumps(document)
    key_account = account or SELF_ACCOUNT
    try:
        analysis = analyze_key_policy(
            text,
            key_account=key_account,
            org_id=policy.org_id,
            trusted_accounts=policy.trusted_accounts,
        )
    except (CmkGuardError, ValueError) as exc:
        yield emit(
            "key-policy-unparseable",
            f"The policy of {decl.address} could not be analysed: {exc}",
            {"error": str(exc)},
        )
        return
    for pf in analysis.findings:
        rule_id = str(pf.id)
        if rule_id not in emit.rules:
            continue
        principal = getattr(pf, "principal", None)
        disc = (
            "|".join(
                str(getattr(pf, attr, "") or "") for attr in ("statement_index", "sid", "action")
            )
            + f"|{principal or ''}"
        )
        yield emit(
            rule_id,
            f"{decl.address}: {getattr(pf, 'explanation', '') or rule_id}",
            {
                "statement_index": getattr(pf, "statement_index", None),
                "sid": getattr(pf, "sid", None),
                "principal": str(principal) if principal is not None else None,
                "action": str(getattr(pf, "action", None) or "") or None,
                "key_account": key_account,
            },
            disc,
            severity=pf.severity,
        )


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)
