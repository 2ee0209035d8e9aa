"""AWS Security Finding Format export (Security Hub `BatchImportFindings`).

Every finding carries the fields ASFF requires: `SchemaVersion`, `Id`, `ProductArn`,
`GeneratorId`, `AwsAccountId`, `Types`, `CreatedAt`, `UpdatedAt`, `Severity.Label`,
`Title`, `Description` and `Resources`. Without `product_arn` the default product of the
finding's account and region is used
(`arn:aws:securityhub:<region>:<account>:product/<account>/default`), which is what Security
Hub expects for findings an account imports about itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from cmkguard.auditing.context import as_utc
from cmkguard.report._common import ASFF_RESOURCE_TYPES, partition_of, primary_arn

if TYPE_CHECKING:
    from cmkguard.auditing.finding import Finding
    from cmkguard.auditing.kpis import Completeness
    from cmkguard.auditing.report import AuditReport

__all__ = ["ASFF_SCHEMA_VERSION", "finding_to_asff", "report_to_asff"]

ASFF_SCHEMA_VERSION = "2018-10-08"
_TYPES = ["Software and Configuration Checks/AWS Security Best Practices"]
_UNKNOWN_ACCOUNT = "000000000000"
_UNKNOWN_REGION = "us-east-1"
_PRODUCT_FIELD_MAX = 2048
"""ASFF caps a ProductFields value at 2048 characters."""


def _iso(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _resources(f: Finding) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if f.resource_arn:
        out.append(
            {
                "Type": ASFF_RESOURCE_TYPES.get(f.resource_type or "", "Other"),
                "Id": f.resource_arn,
                "Partition": partition_of(f.resource_arn),
                "Region": f.region or _UNKNOWN_REGION,
            }
        )
    if f.key_arn:
        parts = f.key_arn.split(":")
        out.append(
            {
                "Type": "AwsKmsKey",
                "Id": f.key_arn,
                "Partition": partition_of(f.key_arn),
                "Region": parts[3] if len(parts) > 3 and parts[3] else f.region or _UNKNOWN_REGION,
            }
        )
    if not out:  # e.g. inventory-incomplete: the finding is about the account itself
        out.append(
            {
                "Type": "AwsAccount",
                "Id": f"AWS::::Account:{f.account or _UNKNOWN_ACCOUNT}",
                "Partition": "aws",
                "Region": f.region or _UNKNOWN_REGION,
            }
        )
    return out


def finding_to_asff(
    f: Finding,
    *,
    updated_at: datetime,
    product_arn: str | None = None,
    completeness: Completeness | None = None,
) -> dict[str, Any]:
    """One finding in ASFF.

    With the audit's `completeness`, `ProductFields` carries `cmkguard/ScanComplete` (`true` or
    `false`) and, for a partial scan, `cmkguard/ScanGaps` (what was not read; ASFF caps a value
    at 2048 characters), so Security Hub shows which findings come from a partial scan.
    """
    account = f.account or _UNKNOWN_ACCOUNT
    region = f.region or _UNKNOWN_REGION
    partition = partition_of(primary_arn(f))
    product = (
        product_arn or f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default"
    )
    created = f.first_seen or updated_at
    return {
        "SchemaVersion": ASFF_SCHEMA_VERSION,
        "Id": f"cmkguard/{f.fingerprint}",
        "ProductArn": product,
        "ProductName": "cmkguard",
        "CompanyName": "cmkguard",
        "GeneratorId": f"cmkguard/{f.rule_id}",
        "AwsAccountId": account,
        "Region": region,
        "Types": list(_TYPES),
        "CreatedAt": _iso(created),
        "UpdatedAt": _iso(updated_at),
        "Severity": {
            "Label": "INFORMATIONAL" if f.severity.value == "info" else f.severity.value.upper()
        },
        "Title": f.title[:256],
        "Description": f.message[:1024],
        "Remediation": {"Recommendation": {"Text": f.remediation[:512]}},
        "Resources": _resources(f),
        "Workflow": {"Status": "SUPPRESSED" if f.suppressed else "NEW"},
        "RecordState": "ACTIVE",
        "ProductFields": {
            "cmkguard/RuleId": f.rule_id,
            "cmkguard/Fingerprint": f.fingerprint,
            **_completeness_fields(completeness),
        },
    }


def _completeness_fields(completeness: Completeness | None) -> dict[str, str]:
    if completeness is None:
        return {}
    fields = {"cmkguard/ScanComplete": str(completeness.complete).lower()}
    if not completeness.complete:
        fields["cmkguard/ScanGaps"] = completeness.summary()[:_PRODUCT_FIELD_MAX]
    return fields


def report_to_asff(report: AuditReport, *, product_arn: str | None = None) -> list[dict[str, Any]]:
    """Every finding of the report in ASFF (suppressed ones with Workflow.Status SUPPRESSED)."""
    return [
        finding_to_asff(
            f,
            updated_at=report.generated_at,
            product_arn=product_arn,
            completeness=report.kpis.completeness,
        )
        for f in report.findings
    ]
