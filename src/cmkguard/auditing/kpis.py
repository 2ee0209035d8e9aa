"""Key performance indicators of an audit: CMK coverage, rotation compliance, finding counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from cmkguard.auditing.finding import Finding
from cmkguard.inventory.values import EncryptedResource, Inventory, KeyClass, KmsKey
from cmkguard.severity import Severity

__all__ = ["Coverage", "Kpis", "compute_kpis", "coverage_of"]


@attrs.frozen
class Coverage:
    """How many resources of a group sit on a customer-managed key of their own account (or,
    in an organisation's inventory, of an account of the organisation).

    ``measured`` excludes resources whose key class is unknown; ``percent`` is ``None`` when
    nothing was measured.
    """

    total: int
    measured: int
    on_cmk: int

    @property
    def percent(self) -> float | None:
        """Percentage of measured resources on a CMK (``None`` when none were measured)."""
        return None if self.measured == 0 else round(100.0 * self.on_cmk / self.measured, 2)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "total": self.total,
            "measured": self.measured,
            "on_cmk": self.on_cmk,
            "percent": self.percent,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Coverage:
        """Rebuild from :meth:`to_dict` output."""
        return cls(total=data["total"], measured=data["measured"], on_cmk=data["on_cmk"])


def _on_cmk(r: EncryptedResource, members: frozenset[str]) -> bool:
    if r.key_class is KeyClass.CUSTOMER_MANAGED:
        return True
    # Another account's key is always a CMK (AWS-managed keys cannot be shared): one of the
    # organisation's accounts' keys is a customer-managed key of ours.
    if r.key_class is not KeyClass.CROSS_ACCOUNT or not members or not r.key_arn:
        return False
    parts = r.key_arn.split(":")
    return len(parts) > 4 and parts[4] in members


def coverage_of(
    resources: Iterable[EncryptedResource], members: frozenset[str] = frozenset()
) -> Coverage:
    """The CMK coverage of ``resources``; keys of the ``members`` accounts (an organisation's)
    count as customer-managed keys too."""
    total = measured = on_cmk = 0
    for r in resources:
        total += 1
        if r.key_class is not KeyClass.UNKNOWN:
            measured += 1
            on_cmk += _on_cmk(r, members)
    return Coverage(total, measured, on_cmk)


def _grouped(
    resources: Iterable[EncryptedResource], attr: str, members: frozenset[str] = frozenset()
) -> dict[str, Coverage]:
    groups: dict[str, list[EncryptedResource]] = {}
    for r in resources:
        groups.setdefault(str(getattr(r, attr)), []).append(r)
    return {name: coverage_of(rs, members) for name, rs in sorted(groups.items())}


def _cov_map(value: Mapping[str, Coverage]) -> Mapping[str, Coverage]:
    return dict(value)


def _int_map(value: Mapping[str, int]) -> Mapping[str, int]:
    return dict(value)


@attrs.frozen
class Kpis:
    """The numbers a dashboard tracks over time.

    Rotation figures count customer-managed keys that are not pending deletion and to which
    automatic rotation applies; ``rotation_compliance`` is the percentage of them rotating at
    most every ``max_rotation_days``. Finding counts leave suppressed findings out.
    """

    resources: int
    resources_by_key_class: Mapping[str, int] = attrs.field(converter=_int_map, hash=False)
    coverage: Coverage
    coverage_by_resource_type: Mapping[str, Coverage] = attrs.field(converter=_cov_map, hash=False)
    coverage_by_account: Mapping[str, Coverage] = attrs.field(converter=_cov_map, hash=False)
    coverage_by_region: Mapping[str, Coverage] = attrs.field(converter=_cov_map, hash=False)
    customer_keys: int
    rotation_applicable: int
    rotation_compliant: int
    findings_by_severity: Mapping[str, int] = attrs.field(converter=_int_map, hash=False)
    suppressed_findings: int = 0
    scan_errors: int = 0

    @property
    def cmk_coverage(self) -> float | None:
        """Overall CMK coverage in percent (``None`` when nothing was measured)."""
        return self.coverage.percent

    @property
    def rotation_compliance(self) -> float | None:
        """Percentage of rotatable CMKs with compliant rotation (``None`` without any)."""
        if self.rotation_applicable == 0:
            return None
        return round(100.0 * self.rotation_compliant / self.rotation_applicable, 2)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the report's ``kpis``)."""
        return {
            "resources": self.resources,
            "resources_by_key_class": dict(self.resources_by_key_class),
            "cmk_coverage": self.coverage.to_dict(),
            "cmk_coverage_by_resource_type": {
                k: v.to_dict() for k, v in self.coverage_by_resource_type.items()
            },
            "cmk_coverage_by_account": {
                k: v.to_dict() for k, v in self.coverage_by_account.items()
            },
            "cmk_coverage_by_region": {k: v.to_dict() for k, v in self.coverage_by_region.items()},
            "customer_keys": self.customer_keys,
            "rotation_applicable": self.rotation_applicable,
            "rotation_compliant": self.rotation_compliant,
            "rotation_compliance_percent": self.rotation_compliance,
            "findings_by_severity": dict(self.findings_by_severity),
            "suppressed_findings": self.suppressed_findings,
            "scan_errors": self.scan_errors,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Kpis:
        """Rebuild from :meth:`to_dict` output."""

        def covs(name: str) -> dict[str, Coverage]:
            return {k: Coverage.from_dict(v) for k, v in data[name].items()}

        return cls(
            resources=data["resources"],
            resources_by_key_class=data["resources_by_key_class"],
            coverage=Coverage.from_dict(data["cmk_coverage"]),
            coverage_by_resource_type=covs("cmk_coverage_by_resource_type"),
            coverage_by_account=covs("cmk_coverage_by_account"),
            coverage_by_region=covs("cmk_coverage_by_region"),
            customer_keys=data["customer_keys"],
            rotation_applicable=data["rotation_applicable"],
            rotation_compliant=data["rotation_compliant"],
            findings_by_severity=data["findings_by_severity"],
            suppressed_findings=data.get("suppressed_findings", 0),
            scan_errors=data.get("scan_errors", 0),
        )


def compute_kpis(inventory: Inventory, findings: Iterable[Finding], max_rotation_days: int) -> Kpis:
    """The KPIs of ``inventory`` and its ``findings`` under a rotation maximum."""
    from cmkguard.auditing.rules.keys import rotation_compliant

    resources = inventory.resources
    members = inventory.organization.member_accounts if inventory.organization else frozenset()
    cmks: list[KmsKey] = [
        k for k in inventory.keys.values() if not k.is_aws_managed and k.state != "PendingDeletion"
    ]
    verdicts = [rotation_compliant(k, max_rotation_days) for k in cmks]
    counts = {s.value: 0 for s in sorted(Severity, reverse=True)}
    suppressed = 0
    for f in findings:
        if f.suppressed:
            suppressed += 1
        else:
            counts[f.severity.value] += 1
    return Kpis(
        resources=len(resources),
        resources_by_key_class={k.value: v for k, v in inventory.counts_by_class().items()},
        coverage=coverage_of(resources, members),
        coverage_by_resource_type=_grouped(resources, "resource_type", members),
        coverage_by_account=_grouped(resources, "account", members),
        coverage_by_region=_grouped(resources, "region", members),
        customer_keys=len(cmks),
        rotation_applicable=sum(v is not None for v in verdicts),
        rotation_compliant=sum(v is True for v in verdicts),
        findings_by_severity=counts,
        suppressed_findings=suppressed,
        scan_errors=len(inventory.errors),
    )
