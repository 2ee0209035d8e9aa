"""Nothing fails silently: failed calls become ScanErrors and the rest of the scan goes on.

moto cannot be told to throttle or to deny a list operation, so those single operations are
answered by a botocore ``before-call`` hook that returns an error response (a short-circuit:
botocore's retry handler never sees it, which is what "throttling that outlasted the retries"
looks like to the caller). Bad input is refused before any AWS call.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from cmkguard import KeyClass, UnknownRegionError, UnknownResourceTypeError, scan
from cmkguard.errors import ConfigurationError

PRIMARY = "111122223333"
REGIONS = ("us-east-1", "eu-west-1")


def _fail_with(code: str, *, region: str | None = None) -> Any:
    def handler(model: Any, context: dict[str, Any], **_: Any) -> Any:
        if region is not None and context.get("client_region") != region:
            return None
        response = AWSResponse("https://emulated.invalid/", 400, {}, None)
        parsed = {
            "Error": {"Code": code, "Message": f"simulated {code}"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "RetryAttempts": 7},
        }
        return response, parsed

    return handler


def test_throttling_on_one_listing_is_an_error_and_the_rest_is_scanned(
    shared_small_estate: Any,
) -> None:
    session = shared_small_estate.aws.session("us-east-1")
    session.events.register(
        "before-call.secretsmanager.ListSecrets", _fail_with("ThrottlingException")
    )
    inv = scan(session, regions=REGIONS)
    assert not [r for r in inv.resources if r.resource_type == "secretsmanager:secret"]
    assert [r for r in inv.resources if r.resource_type == "rds:db-instance"]
    errors = [e for e in inv.errors if e.operation == "ListSecrets"]
    assert {(e.account, e.region, e.resource_type, e.error_code) for e in errors} == {
        (PRIMARY, region, "secretsmanager:secret", "ThrottlingException") for region in REGIONS
    }
    assert "throttled" in errors[0].reason


def test_access_denied_on_a_listing_in_one_region_only(shared_small_estate: Any) -> None:
    session = shared_small_estate.aws.session("us-east-1")
    session.events.register(
        "before-call.rds.DescribeDBInstances", _fail_with("AccessDenied", region="eu-west-1")
    )
    inv = scan(session, regions=REGIONS)
    regions = {r.region for r in inv.resources if r.resource_type == "rds:db-instance"}
    assert regions == {"us-east-1"}
    (error,) = [e for e in inv.errors if e.operation == "DescribeDBInstances"]
    assert (error.region, error.resource_type, error.error_code) == (
        "eu-west-1",
        "rds:db-instance",
        "AccessDenied",
    )
    assert str(error).startswith(f"{PRIMARY}/eu-west-1/rds:db-instance DescribeDBInstances")


def test_list_keys_denied_falls_back_to_one_describe_per_identifier(
    shared_small_estate: Any,
) -> None:
    session = shared_small_estate.aws.session("us-east-1")
    session.events.register("before-call.kms.ListKeys", _fail_with("AccessDeniedException"))
    inv = scan(session, regions=["us-east-1"])
    assert [e.operation for e in inv.errors if e.operation == "ListKeys"] == ["ListKeys"]
    by_name = {r.name: r for r in inv.resources if r.region == "us-east-1"}
    assert by_name["db-cmk-id"].key_class is KeyClass.CUSTOMER_MANAGED
    assert by_name["sec-default"].key_class is KeyClass.AWS_MANAGED
    assert by_name["db-plain"].key_class is KeyClass.UNENCRYPTED


def test_without_the_tagging_api_key_tags_are_read_per_key(shared_small_estate: Any) -> None:
    session = shared_small_estate.aws.session("us-east-1")
    session.events.register("before-call.tagging.GetResources", _fail_with("AccessDeniedException"))
    per_key: list[str] = []
    session.events.register(
        "before-parameter-build.kms.ListResourceTags",
        lambda params, **_: per_key.append(params["KeyId"]),
    )
    inv = scan(session, regions=["us-east-1"])
    assert inv.keys[shared_small_estate.cmk_arn].tags == {"owner": "team-a"}
    customer = [k for k in inv.keys.values() if not k.is_aws_managed]
    assert len(per_key) == len(customer)
    assert not [e for e in inv.errors if e.operation == "GetResources"]


def test_a_region_that_fails_at_run_time_is_an_error_not_an_exception(
    shared_small_estate: Any,
) -> None:
    # What an opt-in region the account has not enabled answers to every call.
    session = shared_small_estate.aws.session("us-east-1")
    session.events.register(
        "before-call", _fail_with("UnrecognizedClientException", region="ap-east-1")
    )
    inv = scan(session, regions=["us-east-1", "ap-east-1"])
    failed = {e.operation for e in inv.errors if e.region == "ap-east-1"}
    assert failed >= {"ListKeys", "DescribeDBInstances", "ListSecrets"}
    assert [r for r in inv.resources if r.region == "us-east-1"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"regions": ["us-east-1", "eu-westt-1"]}, UnknownRegionError),
        ({"regions": ["us-east-1"], "resource_types": ["rds:db-proxy"]}, UnknownResourceTypeError),
        ({"regions": ["us-east-1"], "resource_types": ["ebs"]}, UnknownResourceTypeError),
        ({"regions": []}, ConfigurationError),
    ],
)
def test_bad_input_raises_before_any_aws_call(
    shared_small_estate: Any, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    aws = shared_small_estate.aws
    aws.reset_request_counts()
    with pytest.raises(error):
        scan(aws.session("us-east-1"), **kwargs)
    assert sum(aws.request_counts().values()) == 0


def test_unknown_region_error_names_close_matches() -> None:
    with pytest.raises(UnknownRegionError, match="eu-west-1") as info:
        scan(None, regions=["eu-westt-1"])  # type: ignore[arg-type]
    assert info.value.region == "eu-westt-1"


def test_without_regions_the_sessions_region_is_scanned_and_validated(
    shared_small_estate: Any,
) -> None:
    aws = shared_small_estate.aws
    inv = scan(aws.session("eu-west-1"))
    assert inv.regions == ("eu-west-1",)
    assert {r.region for r in inv.resources} == {"eu-west-1"}
    with pytest.raises(UnknownRegionError):
        scan(aws.session("eu-wets-1"))


def test_a_role_that_cannot_be_assumed_is_an_error_and_other_accounts_are_scanned(
    shared_small_estate: Any,
) -> None:
    session = shared_small_estate.aws.session("us-east-1")
    bad = "arn:aws:iam::444455556666:role/cmkguard-scan"
    session.events.register("before-call.sts.AssumeRole", _deny_role(bad))
    good = f"arn:aws:iam::{PRIMARY}:role/cmkguard-scan"
    inv = scan(session, regions=["us-east-1"], role_arns=[good, bad])
    assert inv.accounts == (PRIMARY,)
    (error,) = [e for e in inv.errors if e.operation == "AssumeRole"]
    assert (error.account, error.error_code) == ("444455556666", "AccessDenied")
    assert [r for r in inv.resources if r.account == PRIMARY]


def _deny_role(role_arn: str) -> Any:
    fail = _fail_with("AccessDenied")

    def handler(model: Any, params: dict[str, Any], context: dict[str, Any], **kw: Any) -> Any:
        # before-call sees the serialized request: the role ARN is in the query body.
        body = params.get("body") or {}
        if isinstance(body, dict) and body.get("RoleArn") == role_arn:
            return fail(model=model, context=context, **kw)
        return None

    return handler
