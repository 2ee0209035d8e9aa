"""Migration to customer-managed keys: plan (pure), review, execute with a journal, resume.

:func:`plan_migration` builds a :class:`MigrationPlan` (no AWS calls); :func:`execute` runs it,
dry run by default, recording progress in a :class:`Journal` so it resumes after a crash.
"""

from __future__ import annotations

from cmkguard.migrate.execute import (
    ExecutionReport,
    ProgressEvent,
    StepResult,
    WaiterSettings,
    execute,
)
from cmkguard.migrate.journal import Journal, JsonFileJournal, MemoryJournal
from cmkguard.migrate.model import MigrationOptions, MigrationPlan, MigrationStep, PreflightItem
from cmkguard.migrate.plan import plan_migration

__all__ = [
    "ExecutionReport",
    "Journal",
    "JsonFileJournal",
    "MemoryJournal",
    "MigrationOptions",
    "MigrationPlan",
    "MigrationStep",
    "PreflightItem",
    "ProgressEvent",
    "StepResult",
    "WaiterSettings",
    "execute",
    "plan_migration",
]
