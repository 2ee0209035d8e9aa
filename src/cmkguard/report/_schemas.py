"""The JSON Schemas shipped in `cmkguard/report/schemas/`, and `to_html`."""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cmkguard.auditing.report import AuditReport

__all__ = ["SCHEMAS", "schema", "to_html"]

SCHEMAS: tuple[str, ...] = ("report", "ocsf-detection-finding", "asff", "sarif-2.1.0")
"""Names of the shipped JSON Schemas (`sarif-2.1.0` is OASIS's SARIF 2.1.0 schema, errata 01)."""


def schema(name: str) -> dict[str, Any]:
    """The shipped JSON Schema `name` (one of `SCHEMAS`) as a dict."""
    if name not in SCHEMAS:
        raise ValueError(f"unknown schema {name!r} (choose from {', '.join(SCHEMAS)})")
    text = (
        resources.files("cmkguard.report")
        .joinpath(f"schemas/{name}.schema.json")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


def to_html(report: AuditReport) -> str:
    """The report as the HTML Jupyter shows (a standalone fragment, styles included)."""
    from cmkguard.report.html import report_html

    return report_html(report)
