"""SARIF 2.1.0 export: findings for code-scanning dashboards (GitHub, Azure DevOps)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmkguard.severity import Severity

if TYPE_CHECKING:
    from cmkguard.auditing.report import AuditReport

__all__ = ["report_to_sarif"]

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
    return {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "cmkguard",
                        "version": report.tool_version or "0",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
