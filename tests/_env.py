"""The one fake AWS environment of the test suite, for this process and for subprocesses.

Nothing a test runs may reach real AWS: every `AWS_*` variable of the developer's shell (a
profile, an endpoint, a role to assume, real keys) is dropped, and static fake credentials,
a default region, no config files and no instance metadata take their place. The same
credentials act in the emulator's primary account (`cmkguard.testing`).

- `aws_env()`: the environment for a subprocess (`subprocess.run(..., env=aws_env())`);
- `set_aws_env(monkeypatch)`: the same applied to this process for one test or one module
  (the `fake_aws_env` fixture of tests/conftest.py calls it);
- `set_no_aws_credentials(monkeypatch, where)`: no credentials anywhere (the `no_aws_credentials`
  fixture), to test what a user without credentials sees.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import pytest
from botocore.credentials import ReadOnlyCredentials

FAKE_AWS_ENV: Mapping[str, str] = MappingProxyType(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
"""The fake variables every test process and subprocess runs with."""


def aws_env(
    credentials: ReadOnlyCredentials | None = None, environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """`environ` without any `AWS_*` variable, plus `FAKE_AWS_ENV`.

    `credentials` (e.g. an emulated account's, from `session.get_credentials()
    .get_frozen_credentials()`) replace the fake keys; a missing token leaves none.
    """
    env = {name: value for name, value in environ.items() if not name.startswith("AWS_")}
    env.update(FAKE_AWS_ENV)
    if credentials is not None:
        env["AWS_ACCESS_KEY_ID"] = credentials.access_key
        env["AWS_SECRET_ACCESS_KEY"] = credentials.secret_key
        if credentials.token:
            env["AWS_SESSION_TOKEN"] = credentials.token
        else:
            del env["AWS_SESSION_TOKEN"]
    return env


def set_aws_env(
    monkeypatch: pytest.MonkeyPatch, credentials: ReadOnlyCredentials | None = None
) -> dict[str, str]:
    """Make this process's environment `aws_env(credentials)` until `monkeypatch` undoes it."""
    return _replace_aws_variables(monkeypatch, aws_env(credentials))


def set_no_aws_credentials(monkeypatch: pytest.MonkeyPatch, where: Path) -> dict[str, str]:
    """No credentials anywhere: no keys, no profile, config files that do not exist in `where`,
    no instance metadata."""
    missing = str(where / "no-aws-config")
    env = aws_env()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        del env[name]
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = missing
    return _replace_aws_variables(monkeypatch, env)


def _replace_aws_variables(
    monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]
) -> dict[str, str]:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    return {name: value for name, value in env.items() if name.startswith("AWS_")}
