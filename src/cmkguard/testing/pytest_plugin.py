"""pytest plugin (entry point `cmkguard`): fixtures for the emulated AWS account.

Installed with cmkguard, so any project's tests can use these fixtures. Every name starts with
`cmkguard_` so that it cannot clash with a project's own fixtures:

- `cmkguard_emulated_aws`: an `EmulatedAWS`, reset before each
  test (no resources, no latency, request counts at zero). One server serves the whole test
  session (starting it takes ~0.2 s, a reset a few milliseconds).
- `cmkguard_aws_session`: a `boto3.Session` on it: primary account `111122223333`, `us-east-1`.
- `cmkguard_seeded_estate`: an `EstateFixture`: the emulator after
  `cmkguard.testing.seed_estate` (`.aws`) and the ground truth (`.truth`).
  Seeded afresh for each test.
- `cmkguard_seeded_estate_module`: the same, seeded once per test module. Tests that use it
  must not change AWS state.

Every test using one of them runs with fake credentials in the environment
(`AWS_ACCESS_KEY_ID=testing`...) and without `AWS_PROFILE` or `AWS_ENDPOINT_URL*`, so nothing
can reach real AWS; those credentials act in the primary account.

A project that does not want the fixtures can disable the plugin with `-p no:cmkguard`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs
import pytest

from cmkguard.testing._emulator import EmulatedAWS

if TYPE_CHECKING:
    import boto3

    from cmkguard.testing._truth import GroundTruth

__all__ = ["EstateFixture"]

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
_CLEARED_ENV_PREFIXES = ("AWS_ENDPOINT_URL",)
_CLEARED_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")


@attrs.frozen
class EstateFixture:
    """A seeded emulated account: `aws` the emulator, `truth` what was seeded."""

    aws: EmulatedAWS
    truth: GroundTruth


def _fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_CLEARED_ENV_PREFIXES) or name in _CLEARED_ENV:
            monkeypatch.delenv(name, raising=False)
    for name, value in _FAKE_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(name="_cmkguard_emulator", scope="session")
def _cmkguard_emulator_fixture() -> Iterator[EmulatedAWS]:
    """The one emulator of the test session (started on first use, stopped at the end)."""
    with EmulatedAWS() as aws:
        yield aws


@pytest.fixture(name="cmkguard_emulated_aws")
def _emulated_aws(_cmkguard_emulator: EmulatedAWS, monkeypatch: pytest.MonkeyPatch) -> EmulatedAWS:
    """The session's emulator, reset for this test (no resources, no latency, request counts at
    zero), with a fake AWS environment."""
    _fake_aws_environment(monkeypatch)
    _cmkguard_emulator.reset()
    _cmkguard_emulator.latency_ms = 0
    _cmkguard_emulator.reset_request_counts()
    return _cmkguard_emulator


@pytest.fixture(name="cmkguard_aws_session")
def _aws_session(cmkguard_emulated_aws: EmulatedAWS) -> boto3.Session:
    """A session on the emulator: primary account 111122223333, region us-east-1."""
    return cmkguard_emulated_aws.session("us-east-1")


@pytest.fixture(name="cmkguard_seeded_estate")
def _seeded_estate(cmkguard_emulated_aws: EmulatedAWS) -> EstateFixture:
    """The emulator seeded with `cmkguard.testing.seed_estate` defaults, and its truth."""
    from cmkguard.testing._seed import seed_estate

    return EstateFixture(aws=cmkguard_emulated_aws, truth=seed_estate(cmkguard_emulated_aws))


@pytest.fixture(name="cmkguard_seeded_estate_module", scope="module")
def _seeded_estate_module(_cmkguard_emulator: EmulatedAWS) -> Iterator[EstateFixture]:
    """Seeded once for the whole module: tests using it must only read.

    The environment is faked for the module's duration too. Tests in the module that use
    `cmkguard_emulated_aws` would reset it: do not mix the two in one module.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        _fake_aws_environment(monkeypatch)
        _cmkguard_emulator.reset()
        _cmkguard_emulator.latency_ms = 0
        from cmkguard.testing._seed import seed_estate

        yield EstateFixture(aws=_cmkguard_emulator, truth=seed_estate(_cmkguard_emulator))
