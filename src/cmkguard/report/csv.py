"""CSV export: one row per finding, stable column order (spreadsheets, data lakes)."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cmkguard.auditing.report import AuditReport

__all__ = ["CSV_COLUMNS", "report_to_csv"]

CSV_COLUMNS: tuple[str, ...] = (
    "fingerprint",
    "rule_id",
    "severity",
    "title",
    "account",
    "region",
    "resource_type",
    "resource_arn",
    "key_arn",
    "message",
    "remediation",
    "suppressed",
    "suppression_reason",
    "first_seen",
    "evidence",
    "target",
    "name",
    "scan_complete",
    "scan_gaps",
)
"""The CSV header, in order (columns are only ever appended). `scan_complete` (`true`/`false`)
and `scan_gaps` (what the scan could not read) repeat the report's completeness on every row, so
a spreadsheet or data lake filtering rows still knows the findings come from a partial scan
(both empty for an IaC check, which scans nothing)."""


def report_to_csv(report: AuditReport) -> str:
    """Every finding as a CSV row; `evidence` is a compact JSON string."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    # An IaC report (cmkguard iac check --format csv) has findings but no scan, so no KPIs.
    completeness = getattr(getattr(report, "kpis", None), "completeness", None)
    scan_complete = "" if completeness is None else str(completeness.complete).lower()
    scan_gaps = "" if completeness is None or completeness.complete else completeness.summary()
    for f in report.findings:
        row = f.to_dict()
        row["evidence"] = json.dumps(row["evidence"], sort_keys=True, separators=(",", ":"))
        row["suppressed"] = "true" if f.suppressed else "false"
        row["target"] = f.target
        row["scan_complete"] = scan_complete
        row["scan_gaps"] = scan_gaps
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return buf.getvalue()
