"""The suite's one fake AWS environment (tests/_env.py): nothing of the shell's AWS setup leaks."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest
from botocore.credentials import ReadOnlyCredentials

from tests._env import FAKE_AWS_ENV, aws_env


def test_the_suite_runs_with_only_the_fake_variables() -> None:
    assert {n: v for n, v in os.environ.items() if n.startswith("AWS_")} == FAKE_AWS_ENV


def test_a_subprocess_env_drops_every_aws_variable_of_the_shell() -> None:
    shell = {
        "PATH": "/bin",
        "AWS_PROFILE": "prod",
        "AWS_ENDPOINT_URL_KMS": "https://x",
        "HOME": "/h",
    }
    env = aws_env(environ=shell)
    assert env == {"PATH": "/bin", "HOME": "/h", **FAKE_AWS_ENV}
    creds = ReadOnlyCredentials("AKIDEMU", "secret", None)
    with_creds = aws_env(creds, environ=shell)
    assert (with_creds["AWS_ACCESS_KEY_ID"], with_creds["AWS_SECRET_ACCESS_KEY"]) == (
        "AKIDEMU",
        "secret",
    )
    assert "AWS_SESSION_TOKEN" not in with_creds


def test_a_subprocess_sees_the_fake_credentials() -> None:
    code = "import boto3; c = boto3.Session().get_credentials(); print(c.access_key, c.method)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=aws_env(), check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == ["testing", "env"]


def test_the_fixtures(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "prod")
    assert request.getfixturevalue("fake_aws_env") == dict(FAKE_AWS_ENV)
    assert "AWS_PROFILE" not in os.environ


@pytest.mark.usefixtures("no_aws_credentials")
def test_no_aws_credentials_leaves_none_to_find() -> None:
    assert boto3.Session().get_credentials() is None
