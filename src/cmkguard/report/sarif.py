"""SARIF 2.1.0 export: findings for code-scanning dashboards (GitHub, Azure DevOps)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmkguard.severity import Severity

if TYPE_CHECKING:
    from cmkguard.auditing.report import AuditReport
    from cmkguard.iac.values import IacReport

__all__ = ["iac_to_sarif", "report_to_sarif", "sarif_rule"]

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def report_to_sarif(report: AuditReport) -> dict[str, Any]:
    """The report as a SARIF log with one run; rules from the catalogue, results per finding."""
    from cmkguard.auditing.catalogue import catalogue

    cat = catalogue()
    used = sorted({f.rule_id for f in report.findings})
    rules = []
    for rid in used:
        spec = cat.get(rid)
        rules.append(
            {
                "id": rid,
                "shortDescription": {"text": spec.title if spec else rid},
                "fullDescription": {"text": spec.rationale if spec else rid},
                "help": {"text": spec.remediation if spec else ""},
                "defaultConfiguration": {"level": _LEVEL[spec.severity] if spec else "warning"},
            }
        )
    index = {rid: i for i, rid in enumerate(used)}
    results = []
    for f in report.findings:
        result: dict[str, Any] = {
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "level": _LEVEL[f.severity],
            "message": {"text": f.message},
            "partialFingerprints": {"cmkguard/v1": f.fingerprint},
            "locations": [
                {"logicalLocations": [{"fullyQualifiedName": f.target, "kind": "resource"}]}
            ],
            "properties": {"severity": f.severity.value, "remediation": f.remediation},
        }
        if f.suppressed:
            result["suppressions"] = [
                {"kind": "external", "justification": f.suppression_reason or ""}
            ]
        results.append(result)
    return _sarif_log(report.tool_version, rules, results)


# -- infrastructure code (cmkguard iac check) --------------------------------------------------
# Shared by every SARIF log cmkguard writes: one rule descriptor per catalogue id, with the
# numeric `security-severity` GitHub code scanning sorts and colours alerts by.

_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def sarif_rule(rule_id: str) -> dict[str, Any]:
    """The SARIF `reportingDescriptor` of a catalogue rule (title, rationale, remediation)."""
    from cmkguard.auditing.catalogue import catalogue

    spec = catalogue().get(rule_id)
    if spec is None:
        return {"id": rule_id, "shortDescription": {"text": rule_id}}
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.split("-")),
        "shortDescription": {"text": spec.title},
        "fullDescription": {"text": spec.rationale},
        "help": {"text": spec.remediation, "markdown": spec.remediation},
        "defaultConfiguration": {"level": _LEVEL[spec.severity]},
        "properties": {
            "tags": ["security", "kms", "encryption"],
            "security-severity": _SECURITY_SEVERITY[spec.severity],
        },
    }


def _artifact_uri(path: str) -> str:
    """A file path as a SARIF URI relative to the working directory (the repository root in CI)."""
    from pathlib import Path, PurePosixPath

    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            return p.as_uri()
    return str(PurePosixPath(*p.parts)) if p.parts else path


def iac_to_sarif(report: IacReport) -> dict[str, Any]:
    """An infrastructure-code check as a SARIF 2.1.0 log for pull-request annotations.

    Each finding has a physical location (the file, relative to the working directory, and the
    line of the resource's declaration: in a plan JSON, the line of its `resource_changes`
    entry) and a logical one (the Terraform address or CloudFormation logical id).
    """
    used = sorted({f.rule_id for f in report.findings})
    index = {rid: i for i, rid in enumerate(used)}
    results: list[dict[str, Any]] = []
    for resource in report.resources:
        for f in resource.findings:
            result: dict[str, Any] = {
                "ruleId": f.rule_id,
                "ruleIndex": index[f.rule_id],
                "level": _LEVEL[f.severity],
                "message": {"text": f.message},
                "partialFingerprints": {"cmkguard/v1": f.fingerprint},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {
                                "uri": _artifact_uri(resource.file),
                                "uriBaseId": "%SRCROOT%",
                            },
                            "region": {"startLine": resource.line or 1},
                        },
                        "logicalLocations": [
                            {
                                "fullyQualifiedName": resource.address,
                                "name": resource.address.rsplit(".", 1)[-1],
                                "kind": "resource",
                            }
                        ],
                    }
                ],
                "properties": {
                    "severity": f.severity.value,
                    "remediation": f.remediation,
                    "resource_type": resource.resource_type,
                    "key_class": resource.key_class.name.lower(),
                },
            }
            if f.suppressed:
                result["suppressions"] = [
                    {"kind": "external", "justification": f.suppression_reason or ""}
                ]
            results.append(result)
    return _sarif_log(report.tool_version, [sarif_rule(rid) for rid in used], results)


def _sarif_log(
    tool_version: str | None, rules: list[dict[str, Any]], results: list[dict[str, Any]]
) -> dict[str, Any]:
    """The SARIF 2.1.0 envelope every cmkguard log shares: one run of the cmkguard driver."""
    return {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [
            {
                "tool": {
                    "driver": {"name": "cmkguard", "version": tool_version or "0", "rules": rules}
                },
                "results": results,
            }
        ],
    }
