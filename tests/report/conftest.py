"""Fixtures for the report tests: an audit of the hand-built reference estate."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

import cmkguard
from cmkguard.audit import AuditPolicy, Suppression


def _load_estate() -> ModuleType:
    name = "cmkguard_audit_test_estate"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).parents[1] / "audit" / "estate.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name="estate")
def _estate() -> ModuleType:
    return _load_estate()


@pytest.fixture(name="report")
def _report(estate: ModuleType) -> cmkguard.AuditReport:
    policy = AuditPolicy(
        suppressions=(Suppression("key-unused", "*key/unused", "kept for the DR runbook"),)
    )
    return cmkguard.audit(estate.inventory(), policy, now=estate.NOW)
