"""pandas export (optional extra `pandas`): findings, resources, keys, plans and KPIs as frames.

Dtypes are the same whatever the data: text columns are pandas' `string` dtype (missing values
are `<NA>`, never a mix of `None` and `NaN`), flags are `boolean`, counts `Int64`, dates
timezone-aware `datetime64[ns, UTC]`, severity an ordered categorical (`info < ... < critical`)
and key class a categorical. An empty input gives an empty frame with the same columns and dtypes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cmkguard.errors import MissingExtraError
from cmkguard.report._common import key_users
from cmkguard.severity import Severity

if TYPE_CHECKING:
    import pandas as pd

    from cmkguard.auditing.kpis import Coverage, Kpis
    from cmkguard.auditing.report import AuditReport
    from cmkguard.inventory.values import Inventory
    from cmkguard.migrate.model import MigrationPlan

__all__ = [
    "FINDING_COLUMNS",
    "KEY_COLUMNS",
    "PLAN_COLUMNS",
    "RESOURCE_COLUMNS",
    "coverage_groups",
    "coverage_to_dataframe",
    "import_pandas",
    "inventory_to_dataframe",
    "keys_to_dataframe",
    "plan_to_dataframe",
    "report_to_dataframe",
    "typed_frame",
]

FINDING_COLUMNS: Mapping[str, str] = {
    "fingerprint": "string",
    "rule_id": "string",
    "severity": "severity",
    "title": "string",
    "target": "string",
    "name": "string",
    "account": "string",
    "region": "string",
    "resource_type": "string",
    "resource_arn": "string",
    "key_arn": "string",
    "message": "string",
    "remediation": "string",
    "suppressed": "boolean",
    "suppression_reason": "string",
    "first_seen": "datetime",
}
"""`AuditReport.to_dataframe()`'s columns and their kinds. `target` is the ARN the finding is
about (resource, else key, else account/region); `name` the name people know it by."""

RESOURCE_COLUMNS: Mapping[str, str] = {
    "arn": "string",
    "name": "string",
    "resource_type": "string",
    "account": "string",
    "region": "string",
    "key_class": "key_class",
    "key_arn": "string",
    "key_alias": "string",
    "key_account": "string",
    "key_state": "string",
    "reason": "string",
    "tags": "object",
}
"""`Inventory.to_dataframe()`'s columns: one row per resource with its key. `tags` holds a dict
per row; add one column per tag key with `frame.join(pd.json_normalize(frame.tags))`."""

KEY_COLUMNS: Mapping[str, str] = {
    "arn": "string",
    "alias": "string",
    "aliases": "object",
    "key_id": "string",
    "account": "string",
    "region": "string",
    "manager": "string",
    "state": "string",
    "spec": "string",
    "rotation": "string",
    "rotation_period_days": "Int64",
    "last_rotation": "datetime",
    "resources": "Int64",
    "created": "datetime",
    "deletion_date": "datetime",
    "tags": "object",
}
"""`Inventory.keys_dataframe()`'s columns: one row per key of the scanned accounts. `rotation`
is `on`, `off`, `n/a` (cannot rotate automatically) or `unknown` (status not read)."""

PLAN_COLUMNS: Mapping[str, str] = {
    "step": "string",
    "phase": "string",
    "kind": "string",
    "service": "string",
    "region": "string",
    "operation": "string",
    "resource_arn": "string",
    "description": "string",
    "destructive": "boolean",
    "depends_on": "string",
}
"""`MigrationPlan.to_dataframe()`'s columns: one row per step, in execution order."""


def import_pandas() -> Any:
    """`pandas`, or `MissingExtraError` with the install hint."""
    try:
        import pandas
    except ImportError as exc:
        raise MissingExtraError("pandas", "pandas") from exc
    return pandas


def typed_frame(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    """A DataFrame of `rows` with exactly `columns`, each cast to its kind (see the module)."""
    pandas = import_pandas()
    data: dict[str, Any] = {}
    for name, kind in columns.items():
        values = [row.get(name) for row in rows]
        data[name] = _column(pandas, values, kind)
    return pandas.DataFrame(data, columns=list(columns))


def _column(pandas: Any, values: list[Any], kind: str) -> Any:
    if kind == "string":
        return pandas.array([None if v is None else str(v) for v in values], dtype="string")
    if kind == "boolean":
        return pandas.array(values, dtype="boolean")
    if kind == "Int64":
        return pandas.array(values, dtype="Int64")
    if kind == "datetime":
        return pandas.to_datetime(pandas.Series(values, dtype=object), utc=True).astype(
            "datetime64[ns, UTC]"
        )
    if kind == "severity":
        # ordered least to most severe, so `frame.severity >= "high"` works
        return pandas.Categorical(values, categories=[s.value for s in Severity], ordered=True)
    if kind == "key_class":
        from cmkguard.inventory.values import KeyClass

        return pandas.Categorical(values, categories=[k.value for k in KeyClass])
    return pandas.Series(values, dtype=object)


def report_to_dataframe(report: AuditReport) -> pd.DataFrame:
    """One row per finding (suppressed ones included, flagged); columns `FINDING_COLUMNS`."""
    rows = []
    for f in report.findings:
        row = f.to_dict()
        row["target"] = f.target
        rows.append(row)
    return typed_frame(rows, FINDING_COLUMNS)


def _alias(aliases: Iterable[str]) -> str | None:
    names = [a.removeprefix("alias/") for a in aliases]
    return names[0] if names else None


def inventory_to_dataframe(inventory: Inventory) -> pd.DataFrame:
    """One row per resource with its key's alias, class, account and state."""
    keys = {**inventory.external_keys, **inventory.keys}
    rows = []
    for r in inventory.resources:
        key = keys.get(r.key_arn) if r.key_arn else None
        rows.append(
            {
                "arn": r.arn,
                "name": r.name,
                "resource_type": r.resource_type,
                "account": r.account,
                "region": r.region,
                "key_class": r.key_class.value,
                "key_arn": r.key_arn,
                "key_alias": _alias(key.aliases) if key else None,
                "key_account": key.account if key else _arn_account(r.key_arn),
                "key_state": key.state if key else None,
                "reason": r.reason,
                "tags": dict(r.tags),
            }
        )
    return typed_frame(rows, RESOURCE_COLUMNS)


def _arn_account(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def rotation_label(rotation: Any) -> str:
    """`on`, `off`, `n/a` (cannot rotate automatically) or `unknown` (not read)."""
    if rotation is None or (rotation.applicable and rotation.enabled is None):
        return "unknown"
    if not rotation.applicable:
        return "n/a"
    return "on" if rotation.enabled else "off"


def keys_to_dataframe(inventory: Inventory) -> pd.DataFrame:
    """One row per key of the scanned accounts, with how many resources use it."""
    users = key_users(inventory)
    rows = []
    for k in inventory.keys.values():
        rotation = k.rotation
        rows.append(
            {
                "arn": k.arn,
                "alias": _alias(k.aliases),
                "aliases": list(k.aliases),
                "key_id": k.key_id,
                "account": k.account,
                "region": k.region,
                "manager": k.manager,
                "state": k.state,
                "spec": k.spec,
                "rotation": rotation_label(rotation),
                "rotation_period_days": rotation.period_days if rotation else None,
                "last_rotation": rotation.last_rotation if rotation else None,
                "resources": users.get(k.arn, 0),
                "created": k.creation_date,
                "deletion_date": k.deletion_date,
                "tags": dict(k.tags),
            }
        )
    return typed_frame(rows, KEY_COLUMNS)


def _text(value: Any) -> str:
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def plan_to_dataframe(plan: MigrationPlan) -> pd.DataFrame:
    """One row per step of the plan, in order (`depends_on`: comma-separated step ids)."""
    rows = [
        {
            "step": s.id,
            "phase": _text(s.phase),
            "kind": _text(s.kind),
            "service": s.service,
            "region": s.region,
            "operation": s.operation,
            "resource_arn": s.resource_arn or None,
            "description": s.description or None,
            "destructive": bool(s.destructive),
            "depends_on": ", ".join(s.depends_on) or None,
        }
        for s in plan.steps
    ]
    return typed_frame(rows, PLAN_COLUMNS)


def coverage_to_dataframe(kpis: Kpis, by: str = "resource_type") -> pd.DataFrame:
    """CMK coverage per resource type, account or region: total, measured, on_cmk, percent."""
    pandas = import_pandas()
    groups = coverage_groups(kpis, by)
    rows = [{by: name, **cov.to_dict()} for name, cov in groups.items()]
    frame = pandas.DataFrame(rows, columns=[by, "total", "measured", "on_cmk", "percent"])
    frame[by] = frame[by].astype("string")
    return frame.astype({"percent": "float64"})


def coverage_groups(kpis: Kpis, by: str) -> Mapping[str, Coverage]:
    """The coverage groups of `by` (`resource_type`, `account` or `region`)."""
    options = {
        "resource_type": kpis.coverage_by_resource_type,
        "account": kpis.coverage_by_account,
        "region": kpis.coverage_by_region,
    }
    if by not in options:
        raise ValueError(f"by must be one of {', '.join(options)}, not {by!r}")
    return options[by]
