"""The result of an audit: findings, KPIs, and its JSON form.

`AuditReport` is a frozen value. Its JSON form (`AuditReport.to_json`) is versioned
(`REPORT_SCHEMA_VERSION`), described by the JSON Schema shipped at
`cmkguard/report/schemas/report.schema.json`, and read back by `AuditReport.from_json` so that
`cmkguard.diff` can compare saved reports. The other exports (CSV, OCSF, ASFF, SARIF, HTML) are
functions of `cmkguard.report`; `to_dataframe()` and Jupyter's HTML call them lazily (the one
presentation seam: values do not import their renderers otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from cmkguard._json import load_document_json
from cmkguard.auditing.config import AuditPolicy, Suppression
from cmkguard.auditing.finding import Finding
from cmkguard.auditing.kpis import Kpis
from cmkguard.errors import CmkGuardError, DocumentError
from cmkguard.severity import Severity

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["REPORT_SCHEMA_VERSION", "AuditReport", "ScanSummary"]

REPORT_SCHEMA_VERSION = 1
"""Version of the JSON document written by `AuditReport.to_json`."""


def _findings(value: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(value)


def _strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _suppressions(value: Iterable[Suppression]) -> tuple[Suppression, ...]:
    return tuple(value)


@attrs.frozen
class ScanSummary:
    """What the audited inventory covered (the report does not embed the inventory itself)."""

    scanned_at: datetime | None = None
    accounts: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    regions: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    resource_types: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    resources: int = 0
    keys: int = 0
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "scanned_at": self.scanned_at.isoformat() if self.scanned_at else None,
            "accounts": list(self.accounts),
            "regions": list(self.regions),
            "resource_types": list(self.resource_types),
            "resources": self.resources,
            "keys": self.keys,
            "errors": self.errors,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScanSummary:
        """Rebuild from `to_dict` output."""
        at = data.get("scanned_at")
        return cls(
            scanned_at=datetime.fromisoformat(at) if at else None,
            accounts=data.get("accounts", ()),
            regions=data.get("regions", ()),
            resource_types=data.get("resource_types", ()),
            resources=data.get("resources", 0),
            keys=data.get("keys", 0),
            errors=data.get("errors", 0),
        )


@attrs.frozen
class AuditReport:
    """Findings and KPIs of one audit, with exports for notebooks, bots, SIEMs and CI.

    `findings` are sorted most severe first and include suppressed ones (flagged);
    `expired_suppressions` lists suppressions whose expiry date has passed (they no longer
    suppress anything); `unused_suppressions` those that matched no finding. `filters` is
    empty for a whole audit and lists what `where` kept otherwise.
    """

    findings: tuple[Finding, ...] = attrs.field(converter=_findings)
    kpis: Kpis
    generated_at: datetime
    scan: ScanSummary = attrs.field(factory=ScanSummary)
    policy: AuditPolicy = attrs.field(factory=AuditPolicy)
    expired_suppressions: tuple[Suppression, ...] = attrs.field(default=(), converter=_suppressions)
    unused_suppressions: tuple[Suppression, ...] = attrs.field(default=(), converter=_suppressions)
    tool_version: str = ""
    filters: tuple[str, ...] = attrs.field(default=(), converter=_strs)

    @property
    def active_findings(self) -> tuple[Finding, ...]:
        """The findings that are not suppressed."""
        return tuple(f for f in self.findings if not f.suppressed)

    def at_or_above(self, severity: Severity | str) -> tuple[Finding, ...]:
        """Unsuppressed findings at or above `severity` (what a CI gate fails on)."""
        level = severity if isinstance(severity, Severity) else Severity.parse(severity)
        return tuple(f for f in self.active_findings if f.severity >= level)

    def by_rule(self, rule_id: str) -> tuple[Finding, ...]:
        """Every finding (suppressed included) of one rule."""
        return tuple(f for f in self.findings if f.rule_id == rule_id)

    def where(
        self,
        *,
        severity: Severity | str | None = None,
        rule: str | Iterable[str] | None = None,
        account: str | Iterable[str] | None = None,
        region: str | Iterable[str] | None = None,
        resource_type: str | Iterable[str] | None = None,
        target: str | None = None,
        suppressed: bool | None = None,
    ) -> AuditReport:
        """The same report with only the findings that match every filter given.

        `severity` is a level (`"high"`: exactly high) or a comparison (`">=high"`, `">low"`,
        `"<=medium"`, `"<medium"`, `"==info"`). `rule` is a rule id or a glob
        (`"rds-*"`), or several; `account`, `region` and `resource_type` match exactly, one
        value or several; `target` is a glob over the resource or key ARN and the name;
        `suppressed` keeps only suppressed (`True`) or unsuppressed (`False`) findings.
        Filters chain (`report.where(account=a).where(severity=">=high")`); the KPIs stay
        those of the whole estate, except the finding counts, which count what is left.
        `filters` records what was applied, for display.

        Raises:
            ConfigurationError: an unknown severity or a malformed comparison.

        Example:
            >>> import cmkguard
            >>> report = cmkguard.audit(cmkguard.Inventory())
            >>> report.where(severity=">=high").findings
            ()
        """
        from cmkguard.auditing.filters import FindingFilter

        chosen = FindingFilter.build(
            severity=severity,
            rule=rule,
            account=account,
            region=region,
            resource_type=resource_type,
            target=target,
            suppressed=suppressed,
        )
        kept = tuple(f for f in self.findings if chosen.matches(f))
        return attrs.evolve(
            self,
            findings=kept,
            kpis=self.kpis.with_finding_counts(kept),
            filters=(*self.filters, *chosen.describe()),
        )

    # -- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-able dict (schema: `report.schema.json`)."""
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "generator": {"name": "cmkguard", "version": self.tool_version},
            "generated_at": self.generated_at.isoformat(),
            "scan": self.scan.to_dict(),
            "policy": self.policy.to_dict(),
            "kpis": self.kpis.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            "expired_suppressions": [s.to_dict() for s in self.expired_suppressions],
            "unused_suppressions": [s.to_dict() for s in self.unused_suppressions],
            **({"filters": list(self.filters)} if self.filters else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditReport:
        """Rebuild from `to_dict` output; `ValueError` on an unknown schema version."""
        version = data.get("schema_version")
        if version != REPORT_SCHEMA_VERSION:
            raise ValueError(
                f"unsupported report schema_version {version!r} "
                f"(this cmkguard reads {REPORT_SCHEMA_VERSION})"
            )
        policy = AuditPolicy.from_dict(data.get("policy") or {})
        return cls(
            findings=[Finding.from_dict(f) for f in data.get("findings", ())],
            kpis=Kpis.from_dict(data["kpis"]),
            generated_at=datetime.fromisoformat(data["generated_at"]),
            scan=ScanSummary.from_dict(data.get("scan") or {}),
            policy=policy,
            expired_suppressions=AuditPolicy.from_dict(
                {"suppressions": data.get("expired_suppressions", [])}
            ).suppressions,
            unused_suppressions=AuditPolicy.from_dict(
                {"suppressions": data.get("unused_suppressions", [])}
            ).suppressions,
            tool_version=(data.get("generator") or {}).get("version", ""),
            filters=data.get("filters", ()),
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON text (versioned; see `REPORT_SCHEMA_VERSION`)."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditReport:
        """Read a report written by `to_json`; `DocumentError` for anything else."""
        data = load_document_json(text, "cmkguard audit report")
        try:
            return cls.from_dict(data)
        except CmkGuardError:
            raise
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise DocumentError("cmkguard audit report", detail) from None

    # -- presentation seam: pandas and Jupyter (cmkguard.report, imported lazily) --------
    def to_dataframe(self) -> pd.DataFrame:
        """The findings as a pandas DataFrame (needs the `pandas` extra)."""
        from cmkguard.report.frames import report_to_dataframe

        return report_to_dataframe(self)

    def coverage_chart(self, by: str = "resource_type") -> Any:
        """A `cmkguard.report.BarChart` (SVG, no plotting library needed) of CMK coverage by
        `resource_type`, `account` or `region`; Jupyter shows it as an image.

        (Typed `Any`: the chart class lives with the renderers, above this value's layer.)
        """
        from cmkguard.report.charts import coverage_chart

        return coverage_chart(self.kpis, by=by)

    def _repr_html_(self) -> str:
        from cmkguard.report.html import report_html

        return report_html(self)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.kpis.findings_by_severity.items() if v)
        cov = self.kpis.cmk_coverage
        cov_text = "n/a" if cov is None else f"{cov:.1f}%"
        n = len(self.findings)
        return f"<AuditReport {n} findings ({counts or 'none'}), CMK coverage {cov_text}>"
