"""A rotating secret's Lambda: its environment's key, read once per Lambda, classified.

moto's ``RotateSecret`` invokes the Lambda (Docker), so the rotation settings are written on the
secret in moto's backend, as ``seed_estate`` does; ``GetFunctionConfiguration`` is moto's own.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from botocore.awsrequest import AWSResponse

from cmkguard import Inventory, KeyClass, scan
from cmkguard.testing import EmulatedAWS, _moto

PRIMARY = "111122223333"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    pass\n")
    return buffer.getvalue()


def _function(aws: EmulatedAWS, region: str, name: str, key_arn: str | None = None) -> str:
    iam = aws.client("iam", region=region)
    role = f"rotation-{region}-{name}"
    trust = {"Version": "2012-10-17", "Statement": []}
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    extra: dict[str, Any] = {"KMSKeyArn": key_arn} if key_arn else {}
    created = aws.client("lambda", region=region).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn["Arn"],
        Handler="index.handler",
        Code={"ZipFile": _zip()},
        Environment={"Variables": {"STAGE": "test"}},
        **extra,
    )
    return str(created["FunctionArn"])


def _rotating_secret(aws: EmulatedAWS, region: str, name: str, lambda_arn: str, **kw: Any) -> str:
    arn = str(
        aws.client("secretsmanager", region=region).create_secret(
            Name=name, SecretString="never-read", **kw
        )["ARN"]
    )
    with _moto.SECRETS_LOCK:
        secret = _moto.secretsmanager_backend(PRIMARY, region).secrets[arn]
        secret.rotation_lambda_arn = lambda_arn
        secret.auto_rotate_after_days = 30
        secret.rotation_enabled = True
        secret.rotation_requested = True
    return arn


def _uses(inv: Inventory, arn: str) -> list[Any]:
    resource = next(r for r in inv.resources if r.arn == arn)
    return [u for u in resource.secondary_keys if u.purpose == "rotation-lambda"]


def test_each_rotation_lambda_is_read_once_and_its_key_classified(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    aws = cmkguard_emulated_aws
    kms = aws.client("kms", region="us-east-1")
    cmk = kms.create_key(Description="lambda env")["KeyMetadata"]["Arn"]
    on_cmk = _function(aws, "us-east-1", "rotate-on-cmk", cmk)
    on_default = _function(aws, "us-east-1", "rotate-on-default")
    first = _rotating_secret(aws, "us-east-1", "a/db", on_cmk, KmsKeyId=cmk)
    second = _rotating_secret(aws, "us-east-1", "b/db", on_cmk, KmsKeyId=cmk)
    third = _rotating_secret(aws, "us-east-1", "c/db", on_default, KmsKeyId=cmk)
    plain = aws.client("secretsmanager").create_secret(Name="d/db", SecretString="x")["ARN"]
    aws.reset_request_counts()

    inv = scan(aws.session("us-east-1"), regions=["us-east-1"])

    for arn in (first, second):
        (use,) = _uses(inv, arn)
        assert (use.key_arn, use.key_class, use.region) == (
            cmk,
            KeyClass.CUSTOMER_MANAGED,
            "us-east-1",
        )
        assert use.detail == on_cmk
    (use,) = _uses(inv, third)
    default = kms.describe_key(KeyId="alias/aws/lambda")["KeyMetadata"]
    assert default["KeyManager"] == "AWS"  # made on first use, as AWS does
    assert (use.key_arn, use.key_class) == (default["Arn"], KeyClass.AWS_MANAGED)
    assert _uses(inv, plain) == []
    # One read per distinct Lambda, never per secret; no other Lambda operation.
    lambda_ops = {op: n for (svc, op), n in aws.request_counts().items() if svc == "lambda"}
    assert lambda_ops == {"GetFunctionConfiguration": 2}
    assert inv.errors == ()


def test_a_missing_or_denied_lambda_is_an_error_and_an_unknown_key(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    aws = cmkguard_emulated_aws
    gone = f"arn:aws:lambda:us-east-1:{PRIMARY}:function:deleted-rotator"
    secret = _rotating_secret(aws, "us-east-1", "orphan/db", gone)
    denied_fn = _function(aws, "eu-west-1", "rotate-eu")
    denied = _rotating_secret(aws, "eu-west-1", "eu/db", denied_fn)
    session = aws.session("us-east-1")

    # moto enforces no IAM: answer this single call in eu-west-1 with AccessDenied.
    def deny(context: dict[str, Any], **_: Any) -> Any:
        if context.get("client_region") != "eu-west-1":
            return None
        response = AWSResponse("https://emulated.invalid/", 403, {}, None)
        return response, {
            "Error": {"Code": "AccessDeniedException", "Message": "simulated deny"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }

    session.events.register("before-call.lambda.GetFunctionConfiguration", deny)
    inv = scan(session, regions=["us-east-1", "eu-west-1"])

    (missing,) = _uses(inv, secret)
    assert missing.key_class is KeyClass.UNKNOWN
    assert missing.key_arn is None
    assert gone in (missing.reason or "")
    (refused,) = _uses(inv, denied)
    assert refused.key_class is KeyClass.UNKNOWN
    assert "access denied" in (refused.reason or "")
    errors = {(e.region, e.operation, e.error_code, e.target) for e in inv.errors}
    assert errors == {
        ("us-east-1", "GetFunctionConfiguration", "ResourceNotFoundException", gone),
        ("eu-west-1", "GetFunctionConfiguration", "AccessDeniedException", denied_fn),
    }
    assert all(e.resource_type == "secretsmanager:secret" for e in inv.errors)
    # The scan went on: both secrets are there with their own key.
    assert {r.arn for r in inv.resources} >= {secret, denied}
    assert next(r for r in inv.resources if r.arn == secret).key_class is KeyClass.AWS_MANAGED


def test_a_replica_gets_no_rotation_lambda_of_its_own(cmkguard_emulated_aws: EmulatedAWS) -> None:
    aws = cmkguard_emulated_aws
    fn = _function(aws, "us-east-1", "rotate-global")
    primary = _rotating_secret(
        aws, "us-east-1", "global/db", fn, AddReplicaRegions=[{"Region": "eu-west-1"}]
    )
    inv = scan(aws.session("us-east-1"), regions=["us-east-1", "eu-west-1"])
    assert len(_uses(inv, primary)) == 1
    replica = next(r for r in inv.resources if r.region == "eu-west-1" and r.name == "global/db")
    assert replica.details.get("is_replica") is True
    assert _uses(inv, replica.arn) == []
