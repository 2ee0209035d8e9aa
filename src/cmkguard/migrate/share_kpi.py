"""The KPI "cross-account snapshot sharing operations enabled by CMKs", from execution logs.

Every real run of a share plan (`plan_snapshot_share`) or a revocation (`plan_share_revocation`)
appends its steps to the execution log next to its journal (`JsonFileJournal.log_path`). The
sharing step is a `Modify{DB,DBCluster}SnapshotAttribute` on `restore` with `ValuesToAdd`, the
revocation the same with `ValuesToRemove`, and the key-policy statement that lets the account
use the key carries the share's expiry (`aws:CurrentTime`). `share_activity` reads those logs
(and, for what is planned but not run yet, the plans) and counts shares planned, completed,
revoked, expired and still active, reading the records of all logs in time order. The logs are
the source because they are append-only and name who ran each step and when; a journal only
knows its own plan's progress.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from cmkguard.errors import ConfigurationError, JournalFormatError
from cmkguard.migrate.journal import Journal, JsonFileJournal, MemoryJournal
from cmkguard.migrate.model import MigrationPlan
from cmkguard.migrate.share import share_sid_prefix

__all__ = ["ShareActivity", "SnapshotShare", "share_activity"]

_ATTRIBUTE_OPS = frozenset({"ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"})
_DONE = frozenset({"done", "adopted"})

LogSource = str | os.PathLike[str] | Journal | Iterable[Mapping[str, Any]]
"""A log file, a journal (file or object: its log is read), a directory of logs, or records."""


@attrs.frozen
class SnapshotShare:
    """One snapshot shared with one account: when, by whom, until when, and whether revoked.

    `status` is `"active"`, `"expired"` (the key-policy statement's time bound has passed: the
    account can no longer use the key, though the snapshot still lists it until revoked),
    `"revoked"` or `"planned"` (in a plan given to `share_activity`, not run yet).
    """

    snapshot: str
    account: str
    region: str
    cluster: bool = False
    shared_at: datetime | None = None
    shared_by: str | None = None
    expires: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def status(self, now: datetime | None = None) -> str:
        """`planned`, `active`, `expired` or `revoked` at `now` (default: the current time)."""
        if self.shared_at is None:
            return "planned"
        if self.revoked_at is not None and self.revoked_at >= self.shared_at:
            return "revoked"
        if self.expires is not None and self.expires <= (now or datetime.now(UTC)):
            return "expired"
        return "active"

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-able dict (times as ISO 8601 text)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "snapshot": self.snapshot,
            "account": self.account,
            "region": self.region,
            "cluster": self.cluster,
            "status": self.status(now),
            "shared_at": iso(self.shared_at),
            "shared_by": self.shared_by,
            "expires": iso(self.expires),
            "revoked_at": iso(self.revoked_at),
            "revoked_by": self.revoked_by,
        }


@attrs.frozen
class ShareActivity:
    """What `share_activity` found: every share and the counts a dashboard tracks.

    `completed` counts share operations that ran (each snapshot and account once, however often
    a plan was resumed); `revoked`, `expired` and `active` split them by their state at `now`;
    `planned` counts shares in the given plans that have not run yet.
    """

    shares: tuple[SnapshotShare, ...]
    now: datetime
    operations: int = 0
    """Share steps that ran, each once however often its plan was resumed; a snapshot shared,
    revoked and shared again counts twice here and once in `completed`."""

    def _count(self, status: str) -> int:
        return sum(1 for s in self.shares if s.status(self.now) == status)

    @property
    def planned(self) -> int:
        """Shares planned (in the plans given) but not run yet."""
        return self._count("planned")

    @property
    def completed(self) -> int:
        """Shares that ran: the KPI "cross-account sharing operations enabled by CMKs"."""
        return sum(1 for s in self.shares if s.shared_at is not None)

    @property
    def revoked(self) -> int:
        """Completed shares revoked since."""
        return self._count("revoked")

    @property
    def expired(self) -> int:
        """Completed shares whose key-policy time bound has passed (not revoked)."""
        return self._count("expired")

    @property
    def active(self) -> int:
        """Completed shares the account can still use."""
        return self._count("active")

    def summary(self) -> str:
        """One line of counts."""
        return (
            f"snapshot shares: {self.completed} completed ({self.active} active, "
            f"{self.expired} expired, {self.revoked} revoked), {self.planned} planned"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: the counts and every share."""
        return {
            "as_of": self.now.isoformat(),
            "planned": self.planned,
            "completed": self.completed,
            "active": self.active,
            "expired": self.expired,
            "revoked": self.revoked,
            "operations": self.operations,
            "shares": [s.to_dict(self.now) for s in self.shares],
        }


def _log_files(source: str | os.PathLike[str]) -> list[Path]:
    path = Path(source)
    if path.is_dir():
        return sorted(path.rglob("*.log.jsonl"))
    if path.suffix == ".json" and not path.name.endswith(".log.jsonl"):
        # A journal: its execution log sits next to it (`JsonFileJournal.log_path`).
        log = path.with_name(path.stem + ".log.jsonl")
        if not path.exists() and not log.exists():
            raise JournalFormatError(f"{source}: no such journal or execution log")
        return [log] if log.exists() else []
    if not path.exists():
        raise JournalFormatError(f"{source}: no such execution log")
    return [path]


def _read_log(path: Path) -> Iterator[Mapping[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise JournalFormatError(f"{path}: cannot be read as an execution log ({exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                return  # a crash mid-append leaves a torn last line: the rest is sound
            raise JournalFormatError(f"{path}:{number}: not a JSON line") from None
        if not isinstance(record, Mapping) or "event" not in record:
            raise JournalFormatError(f"{path}:{number}: not an execution-log record")
        yield record


def _records(sources: Iterable[LogSource]) -> Iterator[Mapping[str, Any]]:
    for source in sources:
        if isinstance(source, str | os.PathLike):
            for path in _log_files(source):
                yield from _read_log(path)
        elif isinstance(source, JsonFileJournal):
            if source.log_path.exists():
                yield from _read_log(source.log_path)
        elif isinstance(source, MemoryJournal):
            yield from source.log_records
        elif isinstance(source, Journal):
            raise ConfigurationError(
                f"{source!r}: cmkguard cannot read this journal's execution log back; pass "
                "the log's records instead"
            )
        else:
            yield from source


def _time(value: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _attribute_change(request: Mapping[str, Any]) -> tuple[str, bool, bool, list[str]] | None:
    """(snapshot, cluster, added, accounts) of a `restore` attribute change, else `None`."""
    operation = request.get("operation")
    params = request.get("params") or {}
    if operation not in _ATTRIBUTE_OPS or params.get("AttributeName") != "restore":
        return None
    cluster = operation == "ModifyDBClusterSnapshotAttribute"
    snapshot = params.get("DBClusterSnapshotIdentifier" if cluster else "DBSnapshotIdentifier")
    added = "ValuesToAdd" in params
    accounts = [
        str(a)
        for a in params.get("ValuesToAdd" if added else "ValuesToRemove") or ()
        if str(a).isdigit()  # "all" would be public: the planner never shares that way
    ]
    return str(snapshot), cluster, added, accounts


def _expiries(request: Mapping[str, Any]) -> dict[str, datetime]:
    """Account -> expiry of the share statements a `PutKeyPolicy` request writes."""
    if request.get("operation") != "PutKeyPolicy":
        return {}
    try:
        policy = json.loads((request.get("params") or {}).get("Policy", ""))
    except (TypeError, ValueError):
        return {}
    statements = policy.get("Statement", []) if isinstance(policy, Mapping) else []
    out: dict[str, datetime] = {}
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, Mapping):
            continue
        sid = str(statement.get("Sid", ""))
        bound = (statement.get("Condition") or {}).get("DateLessThan", {}).get("aws:CurrentTime")
        prefix = share_sid_prefix("")
        if sid.startswith(prefix) and bound:
            account = sid[len(prefix) : len(prefix) + 12]
            when = _time(str(bound).replace("Z", "+00:00"))
            if when is not None:
                out[account] = when
    return out


class _Tally:
    """Folds execution-log records into shares, keyed by (region, snapshot, account)."""

    def __init__(self) -> None:
        self.shares: dict[tuple[str, str, str], SnapshotShare] = {}
        self._callers: dict[str, str] = {}
        self._started: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._expiry: dict[tuple[str, str], datetime] = {}  # (plan, account) -> expiry
        self.operations: set[tuple[str, str, str]] = set()  # (plan, step, account)

    def add(self, record: Mapping[str, Any]) -> None:
        run, event = str(record.get("run")), record.get("event")
        if event == "run-start":
            self._callers[run] = str(record.get("caller") or "")
        elif event == "step-start":
            self._started[(run, str(record.get("step")))] = record.get("request") or {}
        elif event == "step-end" and record.get("outcome") in _DONE:
            request = self._started.get((run, str(record.get("step"))), {})
            for account, when in _expiries(request).items():
                self._expiry[(str(record.get("plan")), account)] = when
            self._attribute(record, request, self._callers.get(run) or None)

    def _attribute(
        self, record: Mapping[str, Any], request: Mapping[str, Any], caller: str | None
    ) -> None:
        change = _attribute_change(request)
        if change is None:
            return
        snapshot, cluster, added, accounts = change
        when = _time(record.get("time"))
        region = str(request.get("region") or "")
        for account in accounts:
            key = (region, snapshot, account)
            old = self.shares.get(key) or SnapshotShare(snapshot, account, region, cluster)
            if added:
                self.operations.add((str(record.get("plan")), str(record.get("step")), account))
                expires = self._expiry.get((str(record.get("plan")), account))
                self.shares[key] = attrs.evolve(
                    old, shared_at=when, shared_by=caller, expires=expires, revoked_at=None,
                    revoked_by=None,
                )  # fmt: skip
            else:
                self.shares[key] = attrs.evolve(old, revoked_at=when, revoked_by=caller)

    def plan(self, plan: MigrationPlan) -> None:
        for step in plan.steps:
            change = _attribute_change(
                {"operation": step.operation, "params": dict(step.params), "region": step.region}
            )
            if change is None or not change[2]:
                continue
            snapshot, cluster, _, accounts = change
            for account in accounts:
                self.shares.setdefault(
                    (step.region, snapshot, account),
                    SnapshotShare(snapshot, account, step.region, cluster),
                )


def share_activity(
    logs: Iterable[LogSource],
    plans: Iterable[MigrationPlan] = (),
    *,
    now: datetime | None = None,
) -> ShareActivity:
    """The cross-account snapshot shares the execution logs record, and those `plans` add.

    `logs` are execution-log files (`*.log.jsonl`), journal files (their log next to them is
    read), directories (every `*.log.jsonl` under them), or records (a `MemoryJournal`, whose
    `log_records` are read, or any iterable of records). Records are read in time order: a later
    revocation ends an earlier share, a later share re-opens it. A missing file or a line that
    is not a log record raises `JournalFormatError` (a torn last line, left by a crash
    mid-append, is ignored).

    ```python
    from cmkguard.migrate import MemoryJournal, share_activity

    activity = share_activity([MemoryJournal()])
    assert (activity.completed, activity.planned) == (0, 0)
    ```
    """
    tally = _Tally()
    # In time order across files: a revocation logged in one journal's log ends a share logged
    # in another's, whichever file is read first.
    epoch = datetime.min.replace(tzinfo=UTC)
    for record in sorted(_records(logs), key=lambda r: _time(r.get("time")) or epoch):
        tally.add(record)
    for plan in plans:
        tally.plan(plan)
    shares = sorted(tally.shares.values(), key=lambda s: (s.region, s.snapshot, s.account))
    return ShareActivity(tuple(shares), now or datetime.now(UTC), len(tally.operations))
