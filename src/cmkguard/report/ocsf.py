"""OCSF export: each finding as a Detection Finding event (class_uid 2004, OCSF 1.3).

Security data lakes (Amazon Security Lake, Splunk, ...) ingest OCSF. The events carry every
attribute OCSF requires of a Detection Finding (`activity_id`, `category_uid`, `class_uid`,
`finding_info.uid`/`title`, `metadata.product`/`version`, `severity_id`, `time`,
`type_uid`) plus the cloud profile (`cloud.provider`, account, region) and `resources`.
The shipped schema `ocsf-detection-finding.schema.json` checks them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from cmkguard.auditing.context import as_utc
from cmkguard.report._common import partition_of
from cmkguard.severity import Severity

if TYPE_CHECKING:
    from cmkguard.auditing.finding import Finding
    from cmkguard.auditing.kpis import Completeness
    from cmkguard.auditing.report import AuditReport

__all__ = ["OCSF_VERSION", "finding_to_ocsf", "report_to_ocsf"]

OCSF_VERSION = "1.3.0"
"""The OCSF schema version the events declare."""

_CLASS_UID = 2004
_ACTIVITY_CREATE = 1
_SEVERITY_ID = {
    Severity.INFO: (1, "Informational"),
    Severity.LOW: (2, "Low"),
    Severity.MEDIUM: (3, "Medium"),
    Severity.HIGH: (4, "High"),
    Severity.CRITICAL: (5, "Critical"),
}


def _ms(value: datetime) -> int:
    return int(as_utc(value).timestamp() * 1000)


def finding_to_ocsf(
    f: Finding, *, time: datetime, tool_version: str, completeness: Completeness | None = None
) -> dict[str, Any]:
    """One finding as an OCSF Detection Finding event.

    With the audit's `completeness`, `unmapped.scan_completeness` says whether the scan read
    everything (`complete`, `scan_errors`, `unread`...), so an event stored alone in a data lake
    still tells a partial scan from a complete one.
    """
    sev_id, sev_name = _SEVERITY_ID[f.severity]
    resources: list[dict[str, Any]] = []
    if f.resource_arn:
        resources.append(
            {
                "uid": f.resource_arn,
                "type": f.resource_type or "unknown",
                "region": f.region,
                "cloud_partition": partition_of(f.resource_arn),
                "owner": {"account": {"uid": f.account, "type": "AWS Account", "type_id": 10}},
            }
        )
    if f.key_arn:
        resources.append(
            {
                "uid": f.key_arn,
                "type": "kms:key",
                "cloud_partition": partition_of(f.key_arn),
                "region": f.key_arn.split(":")[3] if f.key_arn.count(":") >= 5 else f.region,
            }
        )
    first_seen = f.first_seen or time
    return {
        "activity_id": _ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": _CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": _CLASS_UID * 100 + _ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "time": _ms(time),
        "severity_id": sev_id,
        "severity": sev_name,
        "status_id": 3 if f.suppressed else 1,
        "status": "Suppressed" if f.suppressed else "New",
        "message": f.message,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "cmkguard", "vendor_name": "cmkguard", "version": tool_version},
            "profiles": ["cloud"],
        },
        "finding_info": {
            "uid": f.fingerprint,
            "title": f.title,
            "desc": f.message,
            "types": [f.rule_id],
            "analytic": {"uid": f.rule_id, "name": f.rule_id, "type": "Rule", "type_id": 1},
            "first_seen_time": _ms(first_seen),
            "created_time": _ms(first_seen),
            "last_seen_time": _ms(time),
        },
        "cloud": {
            "provider": "AWS",
            "region": f.region,
            "account": {"uid": f.account, "type": "AWS Account", "type_id": 10},
        },
        "resources": resources,
        "remediation": {"desc": f.remediation},
        "unmapped": {
            "rule_id": f.rule_id,
            "evidence": dict(f.evidence),
            "suppression_reason": f.suppression_reason,
            **({"scan_completeness": completeness.to_dict()} if completeness else {}),
        },
    }


def report_to_ocsf(report: AuditReport) -> list[dict[str, Any]]:
    """Every finding of the report as an OCSF event (suppressed ones with status Suppressed)."""
    return [
        finding_to_ocsf(
            f,
            time=report.generated_at,
            tool_version=report.tool_version,
            completeness=report.kpis.completeness,
        )
        for f in report.findings
    ]
