"""The last rotation date: ``ListKeyRotations`` once per customer-managed key where it applies.

moto 5.2.5 implements ``ListKeyRotations`` and ``RotateKeyOnDemand`` (it never rotates
automatically), so the history here is made with on-demand rotations through the API.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from cmkguard import KeyClass, scan

REGIONS = ("us-east-1", "eu-west-1")
SmallEstate = Any


def test_the_last_rotation_is_the_newest_one_and_read_once_per_applicable_key(
    small_estate: SmallEstate,
) -> None:
    aws = small_estate.aws
    kms = aws.client("kms", "us-east-1")
    kms.rotate_key_on_demand(KeyId=small_estate.cmk_arn)
    kms.rotate_key_on_demand(KeyId=small_estate.cmk_arn)
    rotations = kms.list_key_rotations(KeyId=small_estate.cmk_arn)["Rotations"]
    assert len(rotations) == 2
    newest = max(r["RotationDate"] for r in rotations)

    session = aws.session("us-east-1")
    listed: Counter[str] = Counter()

    def record(params: dict[str, Any], **_: Any) -> None:
        listed[params["KeyId"]] += 1

    session.events.register("before-parameter-build.kms.ListKeyRotations", record)
    inv = scan(session, regions=REGIONS)

    cmk = inv.keys[small_estate.cmk_arn]
    assert cmk.rotation is not None
    assert cmk.rotation.enabled is True
    assert cmk.rotation.last_rotation == newest
    never = inv.keys[small_estate.eu_cmk_arn]
    assert never.rotation is not None
    assert never.rotation.applicable
    assert never.rotation.last_rotation is None  # listed, never rotated
    asym = inv.keys[small_estate.asym_key_arn]
    assert asym.rotation is not None
    assert not asym.rotation.applicable
    # One request per customer-managed key rotation applies to; none for AWS-managed keys or
    # keys that cannot rotate.
    key_ids = {k.key_id: k for k in inv.keys.values()}
    assert set(listed) == {
        k.key_id
        for k in inv.keys.values()
        if not k.is_aws_managed and k.rotation is not None and k.rotation.applicable
    }
    assert set(listed.values()) == {1}
    assert all(not key_ids[k].is_aws_managed for k in listed)
    assert Counter(r.key_class for r in inv.resources)[KeyClass.CUSTOMER_MANAGED] > 0
    assert [e for e in inv.errors if e.operation == "ListKeyRotations"] == []


def test_a_denied_rotation_history_is_a_scan_error_and_keeps_the_rotation_status(
    small_estate: SmallEstate,
) -> None:
    from botocore.awsrequest import AWSResponse

    # moto enforces no IAM: answer this single operation with AccessDenied from a hook.
    def deny(**_: Any) -> Any:
        response = AWSResponse("https://emulated.invalid/", 400, {}, None)
        return response, {
            "Error": {"Code": "AccessDeniedException", "Message": "simulated deny"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    session = small_estate.aws.session("us-east-1")
    session.events.register("before-call.kms.ListKeyRotations", deny)
    inv = scan(session, regions=["us-east-1"])
    cmk = inv.keys[small_estate.cmk_arn]
    assert cmk.rotation is not None
    assert (cmk.rotation.enabled, cmk.rotation.last_rotation) == (True, None)
    errors = [e for e in inv.errors if e.operation == "ListKeyRotations"]
    assert small_estate.cmk_arn in {e.target for e in errors}
    assert all(e.error_code == "AccessDeniedException" for e in errors)
