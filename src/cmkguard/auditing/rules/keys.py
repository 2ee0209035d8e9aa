"""Rules about customer-managed keys: rotation, tags, sharing between applications, disuse."""

from __future__ import annotations

from collections.abc import Iterator

from cmkguard.auditing.context import AuditContext, key_label
from cmkguard.auditing.finding import Finding
from cmkguard.inventory.values import KmsKey

__all__ = [
    "check_key_usage",
    "check_rotation",
    "check_tags",
    "customer_keys",
    "rotation_applicable",
    "rotation_compliant",
]

# AWS's default automatic rotation period; moto (and older API versions) omit the period.
DEFAULT_ROTATION_DAYS = 365


def customer_keys(ctx: AuditContext) -> Iterator[KmsKey]:
    """The customer-managed keys of the inventory, in a stable order."""
    for arn in sorted(ctx.inventory.keys):
        key = ctx.inventory.keys[arn]
        if not key.is_aws_managed:
            yield key


def rotation_applicable(key: KmsKey) -> tuple[bool, str | None]:
    """Whether automatic rotation applies to the key, and why not when it does not."""
    if key.rotation is not None and not key.rotation.applicable:
        return False, key.rotation.reason or "automatic rotation is not supported for this key"
    if key.spec != "SYMMETRIC_DEFAULT":
        return False, f"key spec {key.spec} (only symmetric encryption keys rotate)"
    if key.origin != "AWS_KMS":
        return False, f"origin {key.origin} (imported or external material does not rotate)"
    return True, None


def rotation_compliant(key: KmsKey, max_days: int) -> bool | None:
    """True/False for a key whose rotation applies and is known; None otherwise."""
    applicable, _ = rotation_applicable(key)
    if not applicable or key.rotation is None or key.rotation.enabled is None:
        return None
    if not key.rotation.enabled:
        return False
    return (key.rotation.period_days or DEFAULT_ROTATION_DAYS) <= max_days


def check_rotation(ctx: AuditContext) -> Iterator[Finding]:
    """Rotation disabled, too long a period, or not applicable (info, not a failure)."""
    max_days = ctx.policy.max_rotation_days
    for key in customer_keys(ctx):
        if key.state == "PendingDeletion":
            continue  # rotation is moot for a key on its way out; the state rules cover it
        label = key_label(key, key.arn)
        applicable, why_not = rotation_applicable(key)
        if not applicable:
            yield ctx.finding(
                "key-rotation-not-applicable",
                f"Automatic rotation does not apply to {label}: {why_not}.",
                key=key,
                evidence={"spec": key.spec, "origin": key.origin, "reason": why_not},
            )
            continue
        rot = key.rotation
        if rot is None or rot.enabled is None:
            continue  # not read: the scan's errors are reported as inventory-incomplete
        if not rot.enabled:
            yield ctx.finding(
                "key-rotation-disabled",
                f"Automatic rotation is disabled on {label}.",
                key=key,
                evidence={"rotation_enabled": False},
            )
            continue
        period = rot.period_days or DEFAULT_ROTATION_DAYS
        if period > max_days:
            yield ctx.finding(
                "key-rotation-period-too-long",
                f"{label} rotates every {period} days; the policy maximum is {max_days}.",
                key=key,
                evidence={"period_days": period, "max_rotation_days": max_days},
            )


def check_tags(ctx: AuditContext) -> Iterator[Finding]:
    """Customer-managed keys missing a required tag (names compared case-insensitively)."""
    required = ctx.policy.required_tags
    if not required:
        return
    for key in customer_keys(ctx):
        if key.state == "PendingDeletion":
            continue
        present = {k.lower() for k, v in key.tags.items() if v.strip()}
        missing = [t for t in required if t.lower() not in present]
        if missing:
            yield ctx.finding(
                "key-missing-tags",
                f"{key_label(key, key.arn)} is missing required tags: {', '.join(missing)}.",
                key=key,
                evidence={"missing": missing, "present": sorted(key.tags)},
            )


def _app_tag(tags: dict[str, str], name: str) -> str | None:
    wanted = name.lower()
    for k, v in tags.items():
        if k.lower() == wanted and v.strip():
            return v.strip()
    return None


def check_key_usage(ctx: AuditContext) -> Iterator[Finding]:
    """One key for several applications; a key encrypting nothing; unused keys pending deletion."""
    inv = ctx.inventory
    for key in customer_keys(ctx):
        label = key_label(key, key.arn)
        users = ctx.inventory.resources_on_key(key.arn)
        if not users:
            if key.state == "PendingDeletion":
                when = key.deletion_date.isoformat() if key.deletion_date else "an unknown date"
                yield ctx.finding(
                    "key-pending-deletion",
                    f"{label} is scheduled for deletion on {when}; no scanned resource uses it.",
                    key=key,
                    evidence={"deletion_date": when},
                )
            elif key.spec == "SYMMETRIC_DEFAULT" and key.usage == "ENCRYPT_DECRYPT":
                yield ctx.finding(
                    "key-unused",
                    f"{label} encrypts none of the scanned resources "
                    f"({', '.join(inv.resource_types) or 'all scanned types'}).",
                    key=key,
                    evidence={"state": key.state, "scanned_types": list(inv.resource_types)},
                )
            continue
        apps: dict[str, list[str]] = {}
        for r in users:
            app = _app_tag(dict(r.tags), ctx.policy.application_tag)
            if app is not None:
                apps.setdefault(app, []).append(r.arn)
        if len(apps) >= 2:
            yield ctx.finding(
                "key-shared-across-applications",
                f"{label} encrypts resources of {len(apps)} applications: "
                f"{', '.join(sorted(apps))}.",
                key=key,
                evidence={"applications": {a: sorted(arns) for a, arns in sorted(apps.items())}},
            )
