"""Suite-wide guards: no test can reach real AWS, and Hypothesis runs a bounded profile.

The environment is fixed here, at import time, before any test module builds a boto3 session:
fake static credentials, no profile or config files, no configured endpoint, no instance
metadata. Tests reach AWS only through the emulated account on 127.0.0.1
(``cmkguard.testing``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
for _name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")] + ["AWS_PROFILE"]:
    os.environ.pop(_name, None)
os.environ.update(_FAKE_ENV)

settings.register_profile(
    "cmkguard",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "cmkguard"))


def load_estate() -> ModuleType:
    """tests/auditing/estate.py, the hand-built reference estate, imported by path.

    The test directories are not packages, so the audit, report and CLI tests share the module
    through this one loader (and one entry in ``sys.modules``).
    """
    name = "cmkguard_audit_test_estate"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).with_name("auditing") / "estate.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name="estate")
def _estate() -> ModuleType:
    """The reference estate module (tests/auditing/estate.py)."""
    return load_estate()
