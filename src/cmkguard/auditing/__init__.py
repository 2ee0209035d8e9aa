"""Audit an inventory: findings with stable ids, KPIs, suppressions, and diffs between audits.

`audit(inventory, policy)` runs every rule of the catalogue (`FINDING_CATALOGUE`) over an
`Inventory` and returns an `AuditReport`; `diff` compares two reports.
"""

from __future__ import annotations

from cmkguard.auditing.catalogue import AUDIT_RULES, FINDING_CATALOGUE, RULES, RuleSpec, catalogue
from cmkguard.auditing.config import DEFAULT_REQUIRED_TAGS, AuditPolicy, Suppression
from cmkguard.auditing.diff import AuditDiff, diff
from cmkguard.auditing.engine import audit
from cmkguard.auditing.finding import Finding, fingerprint
from cmkguard.auditing.kpis import Completeness, Coverage, Kpis
from cmkguard.auditing.report import REPORT_SCHEMA_VERSION, AuditReport, ScanSummary

__all__ = [
    "AUDIT_RULES",
    "DEFAULT_REQUIRED_TAGS",
    "FINDING_CATALOGUE",
    "REPORT_SCHEMA_VERSION",
    "RULES",
    "AuditDiff",
    "AuditPolicy",
    "AuditReport",
    "Completeness",
    "Coverage",
    "Finding",
    "Kpis",
    "RuleSpec",
    "ScanSummary",
    "Suppression",
    "audit",
    "catalogue",
    "diff",
    "fingerprint",
]
