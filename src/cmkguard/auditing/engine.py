"""`audit()`: run every rule over an inventory, apply the policy, compute the KPIs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import attrs

from cmkguard._version import __version__
from cmkguard.auditing.catalogue import FINDING_CATALOGUE
from cmkguard.auditing.config import AuditPolicy, Suppression
from cmkguard.auditing.context import AuditContext, as_utc
from cmkguard.auditing.finding import Finding
from cmkguard.auditing.kpis import compute_kpis
from cmkguard.auditing.org import organization_policy
from cmkguard.auditing.report import AuditReport, ScanSummary
from cmkguard.auditing.rules import ALL_RULES
from cmkguard.inventory.values import Inventory

__all__ = ["audit"]


def _names(inventory: Inventory) -> dict[str, str]:
    """ARN -> the name people know: DB identifier / secret name, or the key's first alias."""
    names: dict[str, str] = {r.arn: r.name for r in inventory.resources if r.name}
    for arn, key in inventory.keys.items():
        if key.aliases:
            names[arn] = key.aliases[0].removeprefix("alias/")
    return names


def _suppress(
    findings: Iterable[Finding], suppressions: tuple[Suppression, ...], today: datetime
) -> tuple[list[Finding], set[int]]:
    """Apply suppressions; return the findings and the indexes of suppressions that matched."""
    used: set[int] = set()
    out: list[Finding] = []
    for f in findings:
        arns = (f.resource_arn, f.key_arn, f.target)
        active: Suppression | None = None
        expired: Suppression | None = None
        for i, s in enumerate(suppressions):
            if not s.matches(f.rule_id, arns):
                continue
            used.add(i)
            if s.is_expired(today.date()):
                expired = expired or s
            else:
                active = s
                break
        if active is not None:
            f = attrs.evolve(f, suppressed=True, suppression_reason=active.reason)
        elif expired is not None:
            until = expired.expires.isoformat() if expired.expires else "?"
            # An expired suppression stops suppressing, and the finding says so.
            f = attrs.evolve(
                f,
                suppression_expired=True,
                suppression_reason=f"suppression expired on {until}: {expired.reason}",
            )
        out.append(f)
    return out, used


def audit(
    inventory: Inventory,
    policy: AuditPolicy | None = None,
    *,
    previous: AuditReport | None = None,
    now: datetime | None = None,
    tenant_tag: str | None = None,
) -> AuditReport:
    """Audit an inventory against a policy: findings (with fingerprints) and KPIs.

    Args:
        inventory: what `cmkguard.scan` found (or `Inventory.from_json` read back).
        policy: the expectations to check against; the defaults of `AuditPolicy` if None.
        previous: an earlier report of the same estate; findings it already had keep their
            `first_seen` date (for ages and mean-time-to-remediate).
        now: the audit's clock (defaults to the current UTC time); deletion countdowns and
            suppression expiry are computed against it.
        tenant_tag: the tag naming each resource's tenant (overrides the policy's
            `tenant_tag`): turns on the crypto-shredding readiness rules.

    Returns:
        An `AuditReport`, findings sorted most severe first.

    Example:
        >>> import cmkguard
        >>> report = cmkguard.audit(cmkguard.Inventory())
        >>> report.findings
        ()
    """
    policy = policy if policy is not None else AuditPolicy()
    if tenant_tag is not None:
        policy = attrs.evolve(policy, tenant_tag=tenant_tag)
    policy = organization_policy(policy, inventory)
    clock = as_utc(now) if now is not None else datetime.now(UTC)
    ctx = AuditContext(inventory=inventory, policy=policy, now=clock, rules=FINDING_CATALOGUE)
    seen: dict[str, Finding] = {}
    for rule in ALL_RULES:
        for f in rule(ctx):
            seen.setdefault(f.fingerprint, f)  # a rule may reach one problem twice: keep one
    findings, used = _suppress(seen.values(), policy.suppressions, clock)
    first_seen = {f.fingerprint: f.first_seen for f in previous.findings} if previous else {}
    names = _names(inventory)
    findings = [
        attrs.evolve(
            f,
            first_seen=first_seen.get(f.fingerprint) or clock,
            name=f.name or names.get(f.resource_arn or f.key_arn or ""),
        )
        for f in findings
    ]
    findings.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.target, f.fingerprint))
    today = clock.date()
    return AuditReport(
        findings=findings,
        kpis=compute_kpis(inventory, findings, policy.max_rotation_days),
        generated_at=clock,
        scan=ScanSummary(
            scanned_at=inventory.scanned_at,
            accounts=inventory.accounts,
            regions=inventory.regions,
            resource_types=inventory.resource_types,
            resources=len(inventory.resources),
            keys=len(inventory.keys),
            errors=len(inventory.errors),
        ),
        policy=policy,
        expired_suppressions=[s for s in policy.suppressions if s.is_expired(today)],
        unused_suppressions=[
            s
            for i, s in enumerate(policy.suppressions)
            if i not in used and not s.is_expired(today)
        ],
        tool_version=__version__,
    )
