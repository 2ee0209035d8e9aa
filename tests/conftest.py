"""Suite-wide guards: no test can reach real AWS, and Hypothesis runs a bounded profile.

The environment is fixed here, at import time, before any test module builds a boto3 session:
fake static credentials, no profile or config files, no configured endpoint, no instance
metadata. Tests reach AWS only through the emulated account on 127.0.0.1
(``cmkguard.testing``).
"""

from __future__ import annotations

import os
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


@pytest.fixture(name="estate")
def _estate() -> ModuleType:
    """The reference estate module (tests/auditing/estate.py)."""
    from tests.auditing import estate

    return estate
