"""Migration to customer-managed keys: plan (pure), review, execute with a journal, resume.

`plan_migration` builds a `MigrationPlan` (no AWS calls); `execute` runs it, dry run by default,
recording progress in a `Journal` so it resumes after a crash. `capture_settings` reads fresher
RDS settings than a saved scan holds, for `plan_migration(..., source_settings=...)`.

Modules: `model` (the values), `plan` and the `_*_paths` recipes (pure planning), `preflight`
(pure checks), `journal`, `executor` (orchestration), and the AWS edges `aws_ops` (calls,
waiters, probes) and `aws_settings` (describe records).
"""

from __future__ import annotations

from cmkguard.migrate.aws_settings import capture_settings
from cmkguard.migrate.executor import (
    ExecutionReport,
    ProgressEvent,
    RunState,
    StepResult,
    StepStatus,
    WaiterSettings,
    execute,
)
from cmkguard.migrate.guardrail_plan import plan_guardrails
from cmkguard.migrate.journal import Journal, JsonFileJournal, MemoryJournal
from cmkguard.migrate.model import (
    MigrationOptions,
    MigrationPlan,
    MigrationStep,
    PreflightItem,
    PreflightLevel,
    StepKind,
    StepPhase,
)
from cmkguard.migrate.plan import plan_migration
from cmkguard.migrate.share import (
    plan_share_revocation,
    plan_shared_snapshot_copy,
    plan_snapshot_share,
)
from cmkguard.migrate.share_kpi import ShareActivity, SnapshotShare, share_activity

__all__ = [
    "ExecutionReport",
    "Journal",
    "JsonFileJournal",
    "MemoryJournal",
    "MigrationOptions",
    "MigrationPlan",
    "MigrationStep",
    "PreflightItem",
    "PreflightLevel",
    "ProgressEvent",
    "RunState",
    "ShareActivity",
    "SnapshotShare",
    "StepKind",
    "StepPhase",
    "StepResult",
    "StepStatus",
    "WaiterSettings",
    "capture_settings",
    "execute",
    "plan_guardrails",
    "plan_migration",
    "plan_share_revocation",
    "plan_shared_snapshot_copy",
    "plan_snapshot_share",
    "share_activity",
]
