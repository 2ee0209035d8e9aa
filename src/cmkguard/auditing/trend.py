"""KPIs over time from a history of audits: coverage, mean time to remediate, new findings,
key rotations and pass rates per control.

Pure: it reads `AuditReport` values (see `cmkguard.audit_history`) and never calls AWS.

How the figures are defined (each one is conservative so that a gap never looks like progress):

- **Coverage over time**: each audit's CMK coverage, overall, per resource type and per
  account, as the audit's KPIs computed it; an audit over a partial scan is flagged
  (`complete` false) and never hidden.
- **Mean time to remediate** per rule: a finding (by fingerprint, suppressed ones left out) is
  open from its `first_seen` date (or the first audit that has it) until the first later audit
  over a *complete* scan that no longer has it. A finding missing from an audit over a partial
  scan is not counted as fixed (the gap may have hidden it). A finding that comes back opens a
  new episode. The time is an upper bound: the fix happened at most then.
- **New findings per week**: episodes by the ISO week (`2026-W49`) they were first seen in.
- **Automatic rotations per quarter**: the distinct (key, date) automatic rotations the saved
  reports list (`kpis.automatic_rotations`, from KMS `ListKeyRotations`), by calendar quarter.
- **Pass rate per control**: for every rule, the share of audits with no active finding of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from cmkguard.auditing.history import AuditHistory, HistoryProblem, observed_at
from cmkguard.auditing.kpis import Coverage
from cmkguard.auditing.report import AuditReport

__all__ = ["ControlPassRate", "RemediationTime", "Trend", "TrendPoint", "trend"]


def _cov_map(value: Mapping[str, Coverage]) -> Mapping[str, Coverage]:
    return dict(value)


def _int_map(value: Mapping[str, int]) -> Mapping[str, int]:
    return dict(value)


@attrs.frozen
class TrendPoint:
    """One audit of the history: when, its coverage, and how many findings were active."""

    observed_at: datetime
    coverage: Coverage
    coverage_by_resource_type: Mapping[str, Coverage] = attrs.field(converter=_cov_map, hash=False)
    coverage_by_account: Mapping[str, Coverage] = attrs.field(converter=_cov_map, hash=False)
    active_findings: int
    complete: bool
    """False when the audited scan had gaps (its figures undercount what is really there)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "observed_at": self.observed_at.isoformat(),
            "cmk_coverage": self.coverage.to_dict(),
            "cmk_coverage_by_resource_type": {
                k: v.to_dict() for k, v in self.coverage_by_resource_type.items()
            },
            "cmk_coverage_by_account": {
                k: v.to_dict() for k, v in self.coverage_by_account.items()
            },
            "active_findings": self.active_findings,
            "complete": self.complete,
        }


@attrs.frozen
class RemediationTime:
    """Mean time to remediate one rule's findings over the history."""

    rule_id: str
    remediated: int
    """Findings seen and then gone from a later audit over a complete scan."""
    still_open: int
    """Findings active in the latest audit (or last seen before a partial scan)."""
    mean_days: float | None
    """Mean days from first seen to gone over the remediated ones (`None` if none was)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "rule_id": self.rule_id,
            "remediated": self.remediated,
            "still_open": self.still_open,
            "mean_days": self.mean_days,
        }


@attrs.frozen
class ControlPassRate:
    """How many audits of the history passed one control (no active finding of the rule)."""

    rule_id: str
    passed: int
    failed: int

    @property
    def pass_rate(self) -> float | None:
        """Passing audits in percent (`None` without any audit)."""
        total = self.passed + self.failed
        return None if total == 0 else round(100.0 * self.passed / total, 2)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "rule_id": self.rule_id,
            "passed": self.passed,
            "failed": self.failed,
            "pass_rate_percent": self.pass_rate,
        }


def _points(value: Iterable[TrendPoint]) -> tuple[TrendPoint, ...]:
    return tuple(value)


def _mttrs(value: Iterable[RemediationTime]) -> tuple[RemediationTime, ...]:
    return tuple(value)


def _controls(value: Iterable[ControlPassRate]) -> tuple[ControlPassRate, ...]:
    return tuple(value)


def _problems(value: Iterable[HistoryProblem]) -> tuple[HistoryProblem, ...]:
    return tuple(value)


@attrs.frozen
class Trend:
    """KPIs over time of one estate (see the module docs for how each figure is defined).

    Rendered by `cmkguard.trend_html` (a page with an SVG chart), `cmkguard.trend_chart`,
    `cmkguard.trend_dataframe` and `cmkguard.trend_table`; shown as HTML in a notebook.
    """

    points: tuple[TrendPoint, ...] = attrs.field(converter=_points)
    remediation: tuple[RemediationTime, ...] = attrs.field(converter=_mttrs)
    new_findings_per_week: Mapping[str, int] = attrs.field(converter=_int_map, hash=False)
    automatic_rotations_per_quarter: Mapping[str, int] = attrs.field(converter=_int_map, hash=False)
    controls: tuple[ControlPassRate, ...] = attrs.field(converter=_controls)
    problems: tuple[HistoryProblem, ...] = attrs.field(default=(), converter=_problems)
    """Files of the history that could not be read (the trend is then built without them)."""

    @property
    def complete(self) -> bool:
        """True when every audit was read and every audited scan was complete."""
        return not self.problems and all(p.complete for p in self.points)

    def mttr(self, rule_id: str) -> RemediationTime | None:
        """The remediation figures of one rule (`None` if it never had a finding)."""
        return next((m for m in self.remediation if m.rule_id == rule_id), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (what `cmkguard report trend --format json` prints)."""
        return {
            "audits": len(self.points),
            "complete": self.complete,
            "points": [p.to_dict() for p in self.points],
            "mean_time_to_remediate": [m.to_dict() for m in self.remediation],
            "new_findings_per_week": dict(self.new_findings_per_week),
            "automatic_rotations_per_quarter": dict(self.automatic_rotations_per_quarter),
            "controls": [c.to_dict() for c in self.controls],
            "problems": [p.to_dict() for p in self.problems],
        }

    def _repr_html_(self) -> str:
        from cmkguard.report.trend import trend_html

        return trend_html(self, fragment=True)


# -- computation ------------------------------------------------------------------------------


def _active(report: AuditReport) -> dict[str, tuple[str, datetime]]:
    """fingerprint -> (rule id, first seen) of the report's unsuppressed findings."""
    at = observed_at(report)
    out: dict[str, tuple[str, datetime]] = {}
    for f in report.active_findings:
        seen = f.first_seen if f.first_seen is not None and f.first_seen <= at else at
        out[f.fingerprint] = (f.rule_id, seen)
    return out


@attrs.define
class _Episodes:
    """Open and closed finding episodes while walking the history in time order."""

    open: dict[str, tuple[str, datetime]] = attrs.field(factory=dict)
    closed: list[tuple[str, datetime, datetime]] = attrs.field(factory=list)
    started: list[datetime] = attrs.field(factory=list)

    def step(self, report: AuditReport) -> None:
        active = _active(report)
        for fp, (rule, seen) in active.items():
            if fp not in self.open:
                self.open[fp] = (rule, seen)
                self.started.append(seen)
        if not report.kpis.completeness.complete:
            return  # an absence in a partial scan proves nothing
        at = observed_at(report)
        for fp in [fp for fp in self.open if fp not in active]:
            rule, seen = self.open.pop(fp)
            self.closed.append((rule, seen, at))


def _remediation(episodes: _Episodes) -> list[RemediationTime]:
    rules = {rule for rule, _, _ in episodes.closed} | {rule for rule, _ in episodes.open.values()}
    out = []
    for rule in sorted(rules):
        days = [
            (gone - seen).total_seconds() / 86400 for r, seen, gone in episodes.closed if r == rule
        ]
        still = sum(1 for r, _ in episodes.open.values() if r == rule)
        mean = round(sum(days) / len(days), 4) if days else None
        out.append(RemediationTime(rule, len(days), still, mean))
    return out


def _week(at: datetime) -> str:
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


def _quarter(at: datetime) -> str:
    return f"{at.year}-Q{(at.month - 1) // 3 + 1}"


def _counted(labels: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for label in sorted(labels):
        out[label] = out.get(label, 0) + 1
    return out


def _rotations(reports: Iterable[AuditReport]) -> dict[str, int]:
    seen = {(key, at) for r in reports for key, at in r.kpis.automatic_rotations}
    return _counted(_quarter(at) for _, at in seen)


def _controls_of(reports: tuple[AuditReport, ...]) -> list[ControlPassRate]:
    from cmkguard.auditing.catalogue import FINDING_CATALOGUE

    failing = [{f.rule_id for f in r.active_findings} for r in reports]
    rules = set(FINDING_CATALOGUE) | set().union(*failing)
    return [
        ControlPassRate(rule, sum(rule not in f for f in failing), sum(rule in f for f in failing))
        for rule in sorted(rules)
    ]


def _point(report: AuditReport) -> TrendPoint:
    k = report.kpis
    return TrendPoint(
        observed_at=observed_at(report),
        coverage=k.coverage,
        coverage_by_resource_type=k.coverage_by_resource_type,
        coverage_by_account=k.coverage_by_account,
        active_findings=len(report.active_findings),
        complete=k.completeness.complete,
    )


def trend(history: AuditHistory | Iterable[AuditReport]) -> Trend:
    """KPIs over time of an audit history (see `cmkguard.audit_history`).

    Example:
        >>> import cmkguard
        >>> t = cmkguard.trend([cmkguard.audit(cmkguard.Inventory())])
        >>> len(t.points), t.remediation
        (1, ())
    """
    if not isinstance(history, AuditHistory):
        history = AuditHistory(tuple(history))
    episodes = _Episodes()
    for report in history.reports:
        episodes.step(report)
    return Trend(
        points=[_point(r) for r in history.reports],
        remediation=_remediation(episodes),
        new_findings_per_week=_counted(_week(at) for at in episodes.started),
        automatic_rotations_per_quarter=_rotations(history.reports),
        controls=_controls_of(history.reports),
        problems=history.problems,
    )
