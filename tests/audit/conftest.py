"""Fixtures for the audit tests: the hand-built reference estate (tests/audit/estate.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def load_estate() -> ModuleType:
    """Import tests/audit/estate.py by path (test directories are not packages)."""
    name = "cmkguard_audit_test_estate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("estate.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name="estate")
def _estate() -> ModuleType:
    return load_estate()
