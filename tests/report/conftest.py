"""Fixtures for the report tests: an audit of the hand-built reference estate."""

from __future__ import annotations

from types import ModuleType

import pytest

import cmkguard
from cmkguard.auditing import AuditPolicy, Suppression


@pytest.fixture(name="report")
def _report(estate: ModuleType) -> cmkguard.AuditReport:
    policy = AuditPolicy(
        suppressions=(Suppression("key-unused", "*key/unused", "kept for the DR runbook"),)
    )
    return cmkguard.audit(estate.inventory(), policy, now=estate.NOW)
