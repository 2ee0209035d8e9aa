"""pandas export (optional extra ``pandas``): findings and coverage as DataFrames."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cmkguard.errors import MissingExtraError
from cmkguard.report.csv import CSV_COLUMNS
from cmkguard.severity import Severity

if TYPE_CHECKING:
    import pandas as pd

    from cmkguard.auditing.kpis import Coverage, Kpis
    from cmkguard.auditing.report import AuditReport

__all__ = ["coverage_groups", "coverage_to_dataframe", "import_pandas", "report_to_dataframe"]

# The CSV export's columns, but for the nested evidence (JSON text in a CSV cell, awkward as a
# DataFrame column); one list, so the two exports cannot drift apart.
_COLUMNS = tuple(c for c in CSV_COLUMNS if c != "evidence")


def import_pandas() -> Any:
    """``pandas``, or :class:`~cmkguard.MissingExtraError` with the install hint."""
    try:
        import pandas
    except ImportError as exc:
        raise MissingExtraError("pandas", "pandas") from exc
    return pandas


def report_to_dataframe(report: AuditReport) -> pd.DataFrame:
    """One row per finding; ``severity`` is an ordered categorical (sorts info < ... < critical)."""
    pandas = import_pandas()
    dicts = (f.to_dict() for f in report.findings)
    rows = [{c: d[c] for c in _COLUMNS} for d in dicts]
    frame = pandas.DataFrame(rows, columns=list(_COLUMNS))
    frame["severity"] = pandas.Categorical(
        frame["severity"],
        categories=[s.value for s in Severity],  # ordered least to most severe
        ordered=True,
    )
    frame["first_seen"] = pandas.to_datetime(frame["first_seen"], utc=True)
    return frame


def coverage_to_dataframe(kpis: Kpis, by: str = "resource_type") -> pd.DataFrame:
    """CMK coverage per resource type, account or region: total, measured, on_cmk, percent."""
    pandas = import_pandas()
    groups = coverage_groups(kpis, by)
    rows = [{by: name, **cov.to_dict()} for name, cov in groups.items()]
    return pandas.DataFrame(rows, columns=[by, "total", "measured", "on_cmk", "percent"])


def coverage_groups(kpis: Kpis, by: str) -> Mapping[str, Coverage]:
    """The coverage groups of ``by`` (``resource_type``, ``account`` or ``region``)."""
    options = {
        "resource_type": kpis.coverage_by_resource_type,
        "account": kpis.coverage_by_account,
        "region": kpis.coverage_by_region,
    }
    if by not in options:
        raise ValueError(f"by must be one of {', '.join(options)}, not {by!r}")
    return options[by]
