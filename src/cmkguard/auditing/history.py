"""A history of audits: saved JSON reports read back in time order, bad files reported as data.

A history is what `cmkguard.trend` turns into KPIs over time. The usual store is a directory of
reports written by `cmkguard audit --format json -o DIR/<date>.json`; any other store (a bucket,
a database) only needs a `load()` method returning an `AuditHistory` (the `AuditStore`
protocol).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

import attrs

from cmkguard.auditing.report import AuditReport
from cmkguard.errors import CmkGuardError

__all__ = [
    "AuditHistory",
    "AuditStore",
    "DirectoryStore",
    "HistoryError",
    "HistoryProblem",
    "audit_history",
    "observed_at",
]


class HistoryError(CmkGuardError):
    """The history cannot be read at all: no such directory, or not one readable report in it."""


@attrs.frozen
class HistoryProblem:
    """A file of the history that was skipped, and why (reported, never silently dropped)."""

    source: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-able dict."""
        return {"source": self.source, "reason": self.reason}


def observed_at(report: AuditReport) -> datetime:
    """When the audited state was observed: the scan's time if the report has it, else the
    audit's."""
    return report.scan.scanned_at or report.generated_at


def _in_time_order(reports: Iterable[AuditReport]) -> tuple[AuditReport, ...]:
    return tuple(sorted(reports, key=observed_at))


def _problems(value: Iterable[HistoryProblem]) -> tuple[HistoryProblem, ...]:
    return tuple(value)


@attrs.frozen
class AuditHistory:
    """Audit reports of one estate, oldest first, and the files that could not be read."""

    reports: tuple[AuditReport, ...] = attrs.field(converter=_in_time_order)
    problems: tuple[HistoryProblem, ...] = attrs.field(default=(), converter=_problems)

    @property
    def complete(self) -> bool:
        """True when every file of the store was read."""
        return not self.problems

    def __len__(self) -> int:
        return len(self.reports)


@runtime_checkable
class AuditStore(Protocol):
    """Anything that can hand back the saved audits of an estate."""

    def load(self) -> AuditHistory:
        """Every saved report, with the entries that could not be read as `problems`."""
        ...


@attrs.frozen
class DirectoryStore:
    """A directory of JSON audit reports (`*.json`, not recursive)."""

    path: Path = attrs.field(converter=Path)
    pattern: str = "*.json"

    def load(self) -> AuditHistory:
        """Read every matching file; a file that is not a cmkguard report becomes a problem."""
        if not self.path.exists():
            raise HistoryError(f"audit history {self.path}: no such directory")
        if not self.path.is_dir():
            raise HistoryError(f"audit history {self.path}: not a directory")
        reports: list[AuditReport] = []
        problems: list[HistoryProblem] = []
        for file in sorted(self.path.glob(self.pattern)):
            try:
                reports.append(AuditReport.from_json(file.read_bytes()))
            except (OSError, CmkGuardError) as exc:
                problems.append(HistoryProblem(str(file), str(exc)))
        return AuditHistory(reports, problems)


def audit_history(
    source: str | os.PathLike[str] | AuditStore | Iterable[AuditReport],
) -> AuditHistory:
    """The audit history in `source`: a directory of JSON reports, an `AuditStore`, or reports.

    Raises `HistoryError` when the directory is missing or holds no readable report (files that
    cannot be read are listed in `problems` of the result otherwise).

    Example:
        >>> import cmkguard
        >>> history = cmkguard.audit_history([cmkguard.audit(cmkguard.Inventory())])
        >>> len(history)
        1
    """
    if isinstance(source, str | os.PathLike):
        history = DirectoryStore(Path(source)).load()
        where = f"audit history {os.fspath(source)}"
    elif isinstance(source, AuditStore):
        history = source.load()
        where = f"audit history {source!r}"
    else:
        history = AuditHistory(tuple(source))
        where = "audit history"
    if not history.reports:
        detail = ""
        if history.problems:
            first = history.problems[0]
            detail = f" ({len(history.problems)} unreadable file(s); {first.reason})"
        raise HistoryError(f"{where}: no cmkguard audit report found{detail}")
    return history
