"""`diff()`: what changed between two audits - the raw material of a daily bot message.

Findings are matched by fingerprint, so a problem that persists keeps its identity (and its
`first_seen` date) however its message or severity was reworded. Suppressed findings count as
absent: suppressing a finding "resolves" it for the bot, and un-suppressing it makes it new.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import attrs

from cmkguard.auditing.context import as_utc
from cmkguard.auditing.finding import Finding
from cmkguard.auditing.report import AuditReport
from cmkguard.severity import Severity

__all__ = ["AuditDiff", "diff"]


def _findings(value: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(value)


@attrs.frozen
class AuditDiff:
    """New, resolved and persisting findings between two reports.

    `persisting` findings are the new report's, with `first_seen` carried from the old one.
    `resolved` findings are the old report's; they were resolved at `new_at`.
    """

    new: tuple[Finding, ...] = attrs.field(converter=_findings)
    resolved: tuple[Finding, ...] = attrs.field(converter=_findings)
    persisting: tuple[Finding, ...] = attrs.field(converter=_findings)
    old_at: datetime
    new_at: datetime

    @property
    def has_changes(self) -> bool:
        """Whether anything appeared or went away."""
        return bool(self.new or self.resolved)

    def time_to_remediate(self) -> dict[str, timedelta]:
        """For every resolved finding (by fingerprint): time from first seen to resolution."""
        out: dict[str, timedelta] = {}
        for f in self.resolved:
            start = as_utc(f.first_seen) if f.first_seen else as_utc(self.old_at)
            out[f.fingerprint] = as_utc(self.new_at) - start
        return out

    def mean_time_to_remediate(self) -> timedelta | None:
        """Mean of `time_to_remediate` (`None` when nothing was resolved)."""
        times = list(self.time_to_remediate().values())
        if not times:
            return None
        return sum(times, timedelta()) / len(times)

    def summary(self, *, min_severity: Severity = Severity.LOW) -> str:
        """A short plain-text message for a chat bot (findings below `min_severity` omitted)."""

        def lines(fs: Iterable[Finding], mark: str) -> list[str]:
            return [
                f"{mark} [{f.severity.value}] {f.rule_id}: {f.target}"
                for f in fs
                if f.severity >= min_severity
            ]

        head = (
            f"cmkguard: {len(self.new)} new, {len(self.resolved)} resolved, "
            f"{len(self.persisting)} persisting"
        )
        mttr = self.mean_time_to_remediate()
        if mttr is not None:
            head += f" (mean time to remediate {mttr.days}d {mttr.seconds // 3600}h)"
        body = lines(self.new, "+") + lines(self.resolved, "-")
        return "\n".join([head, *body])

    def _repr_html_(self) -> str:
        from cmkguard.report.html import diff_html

        return diff_html(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "old_at": self.old_at.isoformat(),
            "new_at": self.new_at.isoformat(),
            "new": [f.to_dict() for f in self.new],
            "resolved": [f.to_dict() for f in self.resolved],
            "persisting": [f.to_dict() for f in self.persisting],
        }


def diff(old_report: AuditReport, new_report: AuditReport) -> AuditDiff:
    """Compare two reports of the same estate by finding fingerprint.

    Example:
        >>> import cmkguard
        >>> old = cmkguard.audit(cmkguard.Inventory())
        >>> cmkguard.diff(old, old).has_changes
        False
    """
    old = {f.fingerprint: f for f in old_report.findings if not f.suppressed}
    new = {f.fingerprint: f for f in new_report.findings if not f.suppressed}
    persisting = []
    for fp, f in new.items():
        if fp not in old:
            continue
        firsts = [d for d in (old[fp].first_seen, f.first_seen) if d is not None]
        first = min(firsts, key=as_utc) if firsts else old_report.generated_at
        persisting.append(attrs.evolve(f, first_seen=first))
    return AuditDiff(
        new=[f for fp, f in new.items() if fp not in old],
        resolved=[f for fp, f in old.items() if fp not in new],
        persisting=persisting,
        old_at=old_report.generated_at,
        new_at=new_report.generated_at,
    )
