"""Key performance indicators of an audit: CMK coverage, rotation compliance, finding counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from cmkguard.auditing.finding import Finding
from cmkguard.inventory.values import EncryptedResource, Inventory, KeyClass, KmsKey, ScanError
from cmkguard.severity import Severity

__all__ = ["Completeness", "Coverage", "Kpis", "compute_kpis", "coverage_of"]


@attrs.frozen
class Coverage:
    """How many resources of a group sit on a customer-managed key of their own account (or,
    in an organisation's inventory, of an account of the organisation).

    `measured` excludes resources whose key class is unknown; `percent` is `None` when
    nothing was measured.
    """

    total: int
    measured: int
    on_cmk: int

    @property
    def percent(self) -> float | None:
        """Percentage of measured resources on a CMK (`None` when none were measured)."""
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
        """Rebuild from `to_dict` output."""
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
    """The CMK coverage of `resources`; keys of the `members` accounts (an organisation's)
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


def _rotation_events(
    value: Iterable[tuple[str, datetime]],
) -> tuple[tuple[str, datetime], ...]:
    return tuple(sorted((str(key), at) for key, at in value))


def _strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Completeness:
    """Whether the KPIs measured everything, and if not, what they could not see.

    A KPI over a partial inventory is not a KPI of the estate: 100 % coverage "of 1" with a
    region unread says nothing about that region. `complete` is false as soon as the scan
    reported any error. `unread` names each listing that failed (`"rds:db-instance in
    111122223333/eu-west-1 (AccessDenied)"`), whose resources are in no count at all;
    `unknown_resources` counts resources that were listed but whose key class is unknown
    (in `Coverage.total`, not in `measured`). `partial_accounts`, `partial_regions` and
    `partial_resource_types` are the groups of the coverage breakdowns a gap touches.
    """

    scan_errors: int = 0
    unread: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    unknown_resources: int = 0
    partial_accounts: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    partial_regions: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    partial_resource_types: tuple[str, ...] = attrs.field(default=(), converter=_strs)

    @property
    def complete(self) -> bool:
        """Whether nothing was left unread (no scan error at all)."""
        return self.scan_errors == 0

    def summary(self) -> str:
        """One line for people: `"complete"` or what is missing."""
        if self.complete:
            return "complete"
        parts = [f"{self.scan_errors} scan error(s)"]
        if self.unread:
            parts.append(f"not listed: {'; '.join(self.unread)}")
        if self.unknown_resources:
            parts.append(f"{self.unknown_resources} resource(s) of unknown key class")
        return "INCOMPLETE: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the report's `kpis.completeness`)."""
        return {
            "complete": self.complete,
            "scan_errors": self.scan_errors,
            "unread": list(self.unread),
            "unknown_resources": self.unknown_resources,
            "partial_accounts": list(self.partial_accounts),
            "partial_regions": list(self.partial_regions),
            "partial_resource_types": list(self.partial_resource_types),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Completeness:
        """Rebuild from `to_dict` output."""
        return cls(
            scan_errors=int(data.get("scan_errors", 0)),
            unread=tuple(data.get("unread", ())),
            unknown_resources=int(data.get("unknown_resources", 0)),
            partial_accounts=tuple(data.get("partial_accounts", ())),
            partial_regions=tuple(data.get("partial_regions", ())),
            partial_resource_types=tuple(data.get("partial_resource_types", ())),
        )

    @classmethod
    def of(cls, inventory: Inventory) -> Completeness:
        """What `inventory` could not see (its errors and its unknown key classes)."""
        unread = [_unread(e) for e in inventory.errors if _is_listing(e)]
        unknown = [r for r in inventory.resources if r.key_class is KeyClass.UNKNOWN]
        errors = inventory.errors
        types = {e.resource_type for e in errors if e.resource_type} | {
            r.resource_type for r in unknown
        }
        return cls(
            scan_errors=len(errors),
            unread=tuple(dict.fromkeys(unread)),
            unknown_resources=len(unknown),
            partial_accounts=sorted({e.account for e in errors} | {r.account for r in unknown}),
            partial_regions=sorted({e.region for e in errors} | {r.region for r in unknown}),
            partial_resource_types=sorted(types),
        )


def _is_listing(error: ScanError) -> bool:
    """A failed listing of a resource type: every resource it would have listed is missing."""
    return error.resource_type is not None and error.target is None


def _unread(error: ScanError) -> str:
    code = f" ({error.error_code})" if error.error_code else ""
    return f"{error.resource_type} in {error.account}/{error.region}{code}"


@attrs.frozen
class Kpis:
    """The numbers a dashboard tracks over time.

    Rotation figures count customer-managed keys that are not pending deletion and to which
    automatic rotation applies; `rotation_compliance` is the percentage of them rotating at
    most every `max_rotation_days`. Finding counts leave suppressed findings out.
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
    completeness: Completeness = attrs.field(factory=Completeness)
    """What the figures could not see: check `completeness.complete` before trusting them."""
    automatic_rotations: tuple[tuple[str, datetime], ...] = attrs.field(
        default=(), converter=_rotation_events
    )
    """(key ARN, date) of every completed automatic rotation the scanned customer-managed keys
    report (KMS `ListKeyRotations`): what `cmkguard.trend` counts per quarter."""

    @property
    def cmk_coverage(self) -> float | None:
        """Overall CMK coverage in percent (`None` when nothing was measured)."""
        return self.coverage.percent

    @property
    def rotation_compliance(self) -> float | None:
        """Percentage of rotatable CMKs with compliant rotation (`None` without any)."""
        if self.rotation_applicable == 0:
            return None
        return round(100.0 * self.rotation_compliant / self.rotation_applicable, 2)

    def with_finding_counts(self, findings: Iterable[Finding]) -> Kpis:
        """The same KPIs with the finding counts of `findings` (for a filtered report)."""
        counts, suppressed = _finding_counts(findings)
        return attrs.evolve(self, findings_by_severity=counts, suppressed_findings=suppressed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the report's `kpis`)."""
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
            "completeness": self.completeness.to_dict(),
            "automatic_rotations": [
                {"key_arn": key, "rotation_date": at.isoformat()}
                for key, at in self.automatic_rotations
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Kpis:
        """Rebuild from `to_dict` output."""

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
            completeness=_completeness(data),
            automatic_rotations=[
                (e["key_arn"], datetime.fromisoformat(e["rotation_date"]))
                for e in data.get("automatic_rotations", ())
            ],
        )


def _finding_counts(findings: Iterable[Finding]) -> tuple[dict[str, int], int]:
    """Unsuppressed findings per severity (most severe first), and the suppressed count."""
    counts = {s.value: 0 for s in sorted(Severity, reverse=True)}
    suppressed = 0
    for f in findings:
        if f.suppressed:
            suppressed += 1
        else:
            counts[f.severity.value] += 1
    return counts, suppressed


def compute_kpis(inventory: Inventory, findings: Iterable[Finding], max_rotation_days: int) -> Kpis:
    """The KPIs of `inventory` and its `findings` under a rotation maximum."""
    from cmkguard.auditing.rules.keys import rotation_compliant

    resources = inventory.resources
    members = inventory.organization.member_accounts if inventory.organization else frozenset()
    cmks: list[KmsKey] = [
        k for k in inventory.keys.values() if not k.is_aws_managed and k.state != "PendingDeletion"
    ]
    verdicts = [rotation_compliant(k, max_rotation_days) for k in cmks]
    counts, suppressed = _finding_counts(findings)
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
        completeness=Completeness.of(inventory),
        automatic_rotations=[
            (k.arn, at) for k in cmks if k.rotation for at in k.rotation.automatic_rotations
        ],
    )


def _completeness(data: Mapping[str, Any]) -> Completeness:
    """The `completeness` of a saved report; one saved before it existed knows only a count
    (its gaps are then unnamed, never called complete)."""
    saved = data.get("completeness")
    if isinstance(saved, Mapping):
        return Completeness.from_dict(saved)
    return Completeness(scan_errors=int(data.get("scan_errors", 0)))
