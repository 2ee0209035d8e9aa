"""Fixtures of the infrastructure-code tests: the plan and templates under tests/iac/fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PLAN = FIXTURES / "terraform" / "estate" / "plan.json"
CFN_YAML = FIXTURES / "cloudformation" / "estate.yaml"
CFN_JSON = FIXTURES / "cloudformation" / "secrets.json"
SARIF_SCHEMA = Path(__file__).parent / "sarif-2.1.0.schema.json"


@pytest.fixture(name="fixtures")
def _fixtures() -> Path:
    return FIXTURES
