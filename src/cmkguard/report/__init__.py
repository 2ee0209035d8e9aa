"""Exports of audit reports and inventories: CSV, OCSF, ASFF, SARIF, pandas, HTML, SVG charts.

Each format is a function over an :class:`cmkguard.AuditReport` in its own module; the report's
methods (``to_csv``, ``to_ocsf``...) call them. JSON Schemas for the report and the exported
OCSF/ASFF documents ship in ``cmkguard/report/schemas/`` (:func:`schema` loads one).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["SCHEMAS", "schema"]

SCHEMAS: tuple[str, ...] = ("report", "ocsf-detection-finding", "asff")
"""Names of the shipped JSON Schemas."""


def schema(name: str) -> dict[str, Any]:
    """The shipped JSON Schema ``name`` (one of :data:`SCHEMAS`) as a dict."""
    if name not in SCHEMAS:
        raise ValueError(f"unknown schema {name!r} (choose from {', '.join(SCHEMAS)})")
    text = (
        resources.files("cmkguard.report")
        .joinpath(f"schemas/{name}.schema.json")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data
