"""Audit an inventory: findings with stable ids, KPIs, suppressions, and diffs between audits.

`audit(inventory, policy)` runs every rule of the catalogue (`FINDING_CATALOGUE`) over an
`Inventory` and returns an `AuditReport`; `diff` compares two reports.
"""

from __future__ import annotations

from typing import Any

from cmkguard.auditing.catalogue import FINDING_CATALOGUE, RuleSpec
from cmkguard.auditing.changes import AuditDiff, diff
from cmkguard.auditing.config import DEFAULT_REQUIRED_TAGS, AuditPolicy, Suppression
from cmkguard.auditing.engine import audit
from cmkguard.auditing.finding import Finding, fingerprint
from cmkguard.auditing.kpis import Completeness, Coverage, Kpis
from cmkguard.auditing.report import REPORT_SCHEMA_VERSION, AuditReport, ScanSummary

__all__ = [
    "DEFAULT_REQUIRED_TAGS",
    "FINDING_CATALOGUE",
    "REPORT_SCHEMA_VERSION",
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
    "diff",
    "fingerprint",
]


def __getattr__(name: str) -> Any:
    """`AUDIT_RULES` and `RULES`, deprecated for one release: use `FINDING_CATALOGUE`."""
    if name in ("AUDIT_RULES", "RULES"):
        from cmkguard.auditing.catalogue import _deprecated

        return _deprecated(name, stacklevel=3)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
