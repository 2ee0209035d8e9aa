"""Suite-wide guards: no test can reach real AWS, and Hypothesis runs a bounded profile.

The environment is fixed here, at import time, before any test module builds a boto3 session:
every `AWS_*` variable of the shell is dropped for the fake ones of tests/_env.py (static
credentials, no profile or config files, no configured endpoint, no instance metadata). Tests
reach AWS only through the emulated account on 127.0.0.1 (`cmkguard.testing`). The fixtures
`fake_aws_env` and `no_aws_credentials` set it again (or take it away) for one test; a
subprocess gets it with `tests._env.aws_env()`.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

from tests._env import aws_env, set_aws_env, set_no_aws_credentials

for _name in [n for n in os.environ if n.startswith("AWS_")]:
    del os.environ[_name]
os.environ.update(aws_env())

settings.register_profile(
    "cmkguard",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "cmkguard"))


@pytest.fixture(name="estate")
def _estate() -> ModuleType:
    """The reference estate module (tests/auditing/estate.py)."""
    from tests.auditing import estate

    return estate


@pytest.fixture(name="fake_aws_env")
def _fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The suite's fake AWS environment for this test (its `AWS_*` variables)."""
    return set_aws_env(monkeypatch)


@pytest.fixture(name="no_aws_credentials")
def _no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """No AWS credentials anywhere for this test: no keys, no profile, no config files."""
    return set_no_aws_credentials(monkeypatch, tmp_path)
