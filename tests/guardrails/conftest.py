"""Shared values for the guardrails tests: a realistic approved-key set, an emulated session."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

ACCOUNT = "111122223333"
OTHER = "444455556666"
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2")
APP_ACCOUNTS = (ACCOUNT, "222233334444", "555566667777")


def key_arn(region: str, account: str, n: int) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{n:08x}-12ab-34cd-56ef-1234567890ab"


REALISTIC_KEYS = tuple(
    key_arn(region, account, i)
    for i, (account, region) in enumerate((a, r) for a in APP_ACCOUNTS for r in REGIONS)
)
"""12 approved key ARNs: three workload accounts in four regions (a mid-size estate)."""

AWS_MANAGED_RDS = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/aaaaaaaa-0000-0000-0000-000000000001"
AWS_MANAGED_SECRETS = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/aaaaaaaa-0000-0000-0000-000000000002"


def _plugin_fixture(request: pytest.FixtureRequest, *names: str) -> Any:
    # The plugin's fixtures are being renamed (cmkguard_ prefix): take whichever exists.
    for name in names:
        try:
            return request.getfixturevalue(name)
        except pytest.FixtureLookupError:
            continue
    raise AssertionError(f"none of the fixtures {names}")


@pytest.fixture(name="session")
def _session(request: pytest.FixtureRequest) -> boto3.Session:
    """A session on the reset emulator."""
    session: boto3.Session = _plugin_fixture(request, "cmkguard_aws_session", "aws_session")
    return session


@pytest.fixture(name="endpoint")
def _endpoint(request: pytest.FixtureRequest, session: boto3.Session) -> str:
    """The reset emulator's endpoint URL (for the CLI's --endpoint-url)."""
    emulator = _plugin_fixture(request, "cmkguard_emulated_aws", "emulated_aws")
    return str(emulator.endpoint_url)
