"""Hostile arguments to the public entry points: each is a typed `CmkGuardError` naming what is
wrong, raised before any AWS call; in the CLI, one line and exit code 2.

The cases are issue 10's list ("Bad input: typed errors everywhere") and their neighbours. The
scan cases run against the emulated account (its request log proves nothing was sent).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from cmkguard import (
    ConfigurationError,
    UnknownRegionError,
    UnknownResourceTypeError,
    analyze_grants,
    analyze_key_policy,
    compare_key_policies,
    scan,
)
from cmkguard.aws.access import AccessSpec, AwsAccess
from cmkguard.aws.session import EndpointSession
from cmkguard.cli import main

ACCOUNT = "111122223333"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/audit"
POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
    f'"Principal": {{"AWS": "arn:aws:iam::{ACCOUNT}:root"}}, '
    '"Action": "kms:*", "Resource": "*"}]}'
)

# (scan keyword arguments, error class, what the message must name)
SCAN_CASES: dict[str, tuple[dict[str, Any], type[Exception], str]] = {
    "regions-a-string": (
        {"regions": "us-east-1"},
        ConfigurationError,
        "regions must be a list of region names, not the string 'us-east-1'",
    ),
    "regions-none-entry": ({"regions": [None]}, ConfigurationError, "region None is not"),
    "regions-int-entry": ({"regions": ["us-east-1", 5]}, ConfigurationError, "region 5 is not"),
    "regions-empty": ({"regions": []}, ConfigurationError, "regions is empty"),
    "regions-unknown": ({"regions": ["us-esat-1"]}, UnknownRegionError, "us-east-1"),
    "types-a-string": (
        {"resource_types": "rds"},
        ConfigurationError,
        "resource types must be a list of names, not the string 'rds'",
    ),
    "types-none-entry": ({"resource_types": [None]}, ConfigurationError, "resource type None"),
    "types-unknown": ({"resource_types": ["rds:db"]}, UnknownResourceTypeError, "rds:db"),
    "max-workers-zero": ({"max_workers": 0}, ConfigurationError, "max_workers"),
    "max-workers-negative": ({"max_workers": -1}, ConfigurationError, "not -1"),
    "max-workers-a-string": ({"max_workers": "4"}, ConfigurationError, "not '4'"),
    "max-workers-a-float": ({"max_workers": 2.5}, ConfigurationError, "not 2.5"),
    "max-workers-a-bool": ({"max_workers": True}, ConfigurationError, "not True"),
    "role-arns-garbage": (
        {"role_arns": ["garbage"]},
        ConfigurationError,
        "'garbage' is not an IAM role ARN",
    ),
    "role-arns-a-string": ({"role_arns": ROLE}, ConfigurationError, "not the string"),
    "role-arns-none-entry": ({"role_arns": [None]}, ConfigurationError, "None is not an IAM"),
    "role-arns-a-user": (
        {"role_arns": [f"arn:aws:iam::{ACCOUNT}:user/alice"]},
        ConfigurationError,
        "user/alice' is not an IAM role ARN",
    ),
    "role-arns-short-account": (
        {"role_arns": ["arn:aws:iam::1234:role/audit"]},
        ConfigurationError,
        "is not an IAM role ARN",
    ),
    "role-arns-no-name": (
        {"role_arns": [f"arn:aws:iam::{ACCOUNT}:role/"]},
        ConfigurationError,
        "is not an IAM role ARN",
    ),
}


@pytest.mark.parametrize("case", sorted(SCAN_CASES))
def test_scan_refuses_bad_arguments_before_any_request(
    case: str, cmkguard_emulated_aws: Any
) -> None:
    kwargs, error, message = SCAN_CASES[case]
    session = cmkguard_emulated_aws.session("us-east-1")
    before = sum(cmkguard_emulated_aws.request_counts().values())
    with pytest.raises(error, match=re.escape(message)):
        scan(session, **kwargs)
    sent = sum(cmkguard_emulated_aws.request_counts().values()) - before
    assert sent == 0, "a request was sent before validation"


def test_scan_refuses_what_is_not_a_session() -> None:
    with pytest.raises(ConfigurationError, match=r"session must be a boto3\.Session"):
        scan("us-east-1")  # type: ignore[arg-type]


@pytest.mark.parametrize("endpoint", ["not a url", "ftp://127.0.0.1:5000", "http://", "host:5000"])
def test_a_session_whose_endpoint_is_not_a_url(endpoint: str) -> None:
    session = EndpointSession(
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    with pytest.raises(ConfigurationError, match="invalid endpoint URL"):
        scan(session, regions=["us-east-1"])
    with pytest.raises(ConfigurationError, match="invalid endpoint URL"):
        AwsAccess(AccessSpec(endpoint_url=endpoint))


def test_an_endpoint_that_is_not_a_string() -> None:
    with pytest.raises(ConfigurationError, match="invalid endpoint URL 5: not a string"):
        AccessSpec(endpoint_url=5)  # type: ignore[arg-type]


# (analyze_key_policy keyword arguments, what the message must name)
POLICY_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "org-id-an-int": ({"org_id": 5}, "org_id 5 is not an organization id"),
    "org-id-malformed": ({"org_id": "org-123"}, "org_id 'org-123' is not"),
    "org-id-too-short": ({"org_id": "o-abc"}, "org_id 'o-abc' is not"),
    "org-id-upper-case": ({"org_id": "o-ABCDEFGHIJ"}, "is not an organization id"),
    "account-short": ({"key_account": "1234"}, "key_account '1234' is not a 12-digit"),
    "account-13-digits": ({"key_account": "1111222233334"}, "is not a 12-digit"),
    "account-letters": ({"key_account": "11112222333a"}, "is not a 12-digit"),
    "account-newline": ({"key_account": f"{ACCOUNT}\n"}, "is not a 12-digit"),
    "trusted-a-string": ({"trusted_accounts": "444455556666"}, "not the string '444455556666'"),
    "trusted-garbage": ({"trusted_accounts": ["nobody"]}, "'nobody' is not a 12-digit"),
    "trusted-an-int": ({"trusted_accounts": [444455556666]}, "444455556666 is not"),
    "key-arn-garbage": ({"key_arn": "garbage"}, "key_arn 'garbage' is not a KMS key ARN"),
    "key-arn-an-alias": (
        {"key_arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/app"},
        "is not a KMS key ARN",
    ),
    "key-arn-an-int": ({"key_arn": 5}, "key_arn 5 is not"),
}


@pytest.mark.parametrize("case", sorted(POLICY_CASES))
def test_policy_analysis_refuses_bad_context(case: str) -> None:
    overrides, message = POLICY_CASES[case]
    kwargs: dict[str, Any] = {"key_account": ACCOUNT, **overrides}
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        analyze_key_policy(POLICY, **kwargs)
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        compare_key_policies(POLICY, POLICY, **kwargs)
    if "key_arn" not in overrides:
        with pytest.raises(ConfigurationError, match=re.escape(message)):
            analyze_grants([], **kwargs)


def test_good_context_is_accepted() -> None:
    # The checks must not refuse what is valid: org ids, org paths, accounts and ARNs.
    analysis = analyze_key_policy(
        POLICY,
        key_account=ACCOUNT,
        org_id="o-a1b2c3d4e5",
        trusted_accounts=[
            "444455556666",
            "o-f6g7h8i9j0",
            "o-f6g7h8i9j0/r-ab12/ou-ab12-cdefgh34",
            "arn:aws:iam::444455556666:role/reader",
        ],
        key_arn=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    assert analysis.org_id == "o-a1b2c3d4e5"
    assert not analysis.is_public


def _exit_code(argv: list[str]) -> int:
    # main() returns argparse's usage errors as 2 too (it never raises SystemExit).
    return main(argv)


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


CLI_CASES: dict[str, tuple[list[str], str]] = {
    "role-arn-garbage": (["--role-arn", "garbage"], "'garbage' is not an IAM role ARN"),
    "role-arn-a-user": (
        ["--role-arn", f"arn:aws:iam::{ACCOUNT}:user/alice"],
        "is not an IAM role ARN",
    ),
    "regions-garbage": (["--regions", "garbage"], "unknown region 'garbage'"),
    "regions-typo": (["--regions", "us-east-1,eu-wset-1"], "unknown region 'eu-wset-1'"),
    "types-garbage": (["--types", "rds:nope"], "unknown resource type 'rds:nope'"),
    "max-workers-zero": (["--max-workers", "0"], "--max-workers must be at least 1"),
    "max-workers-not-a-number": (["--max-workers", "many"], "invalid int value: 'many'"),
    "endpoint-not-a-url": (["--endpoint-url", "localhost"], "invalid endpoint URL 'localhost'"),
}


@pytest.mark.parametrize("command", ["scan", "audit"])
@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_bad_scan_options_are_one_line_exit_2(
    case: str,
    command: str,
    cmkguard_emulated_aws: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # On the emulated account the identity check would succeed: only validation fails these.
    options, message = CLI_CASES[case]
    endpoint = (
        []
        if "--endpoint-url" in options
        else ["--endpoint-url", cmkguard_emulated_aws.endpoint_url]
    )
    _one_line_exit_2(capsys, [command, *endpoint, *options], message)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["policy", "analyze", "-", "--account", "1234"], "is not a 12-digit account id"),
        (
            ["policy", "analyze", "-", "--account", ACCOUNT, "--org-id", "5"],
            "'5' is not an organization id",
        ),
        (
            ["policy", "analyze", "-", "--account", ACCOUNT, "--key-arn", "garbage"],
            "is not a KMS key ARN",
        ),
        (
            ["policy", "analyze", "-", "--account", ACCOUNT, "--trusted-account", "bob"],
            "--trusted-account 'bob' is not an account or org id",
        ),
    ],
)
def test_cli_bad_policy_context_is_one_line_exit_2(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(POLICY))
    _one_line_exit_2(capsys, argv, message)
