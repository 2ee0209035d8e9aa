"""A small hand-built estate on the emulated account, with the classes a scan must find.

The seeded estate (`cmkguard_seeded_estate`) is the realistic acceptance fixture; this one is
small and explicit, so each test can name the resource it asserts on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from cmkguard.inventory import KeyClass
from cmkguard.testing import EmulatedAWS
from tests._env import set_aws_env

PRIMARY = "111122223333"
OTHER = "444455556666"
REGIONS = ("us-east-1", "eu-west-1")


@attrs.frozen
class SmallEstate:
    """What the fixture made: expected class per resource name, and the keys."""

    aws: EmulatedAWS
    expected: dict[str, KeyClass]
    cmk_arn: str
    eu_cmk_arn: str
    other_key_arn: str
    asym_key_arn: str
    denied_key_arn: str


def _db(rds: Any, name: str, **kwargs: Any) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="not-a-real-password",
        **kwargs,
    )


def _deny_describe_policy(account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Admin",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "NoDescribe",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "kms:DescribeKey",
                    "Resource": "*",
                },
            ],
        }
    )


def build_small_estate(aws: EmulatedAWS) -> SmallEstate:
    """Create the estate in ``aws`` (empty) and say what a scan must find."""
    kms = aws.client("kms", "us-east-1")
    cmk = kms.create_key(Description="orders")["KeyMetadata"]
    kms.create_alias(AliasName="alias/orders", TargetKeyId=cmk["KeyId"])
    kms.enable_key_rotation(KeyId=cmk["KeyId"])
    kms.tag_resource(KeyId=cmk["KeyId"], Tags=[{"TagKey": "owner", "TagValue": "team-a"}])
    asym = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    denied = kms.create_key(
        Policy=_deny_describe_policy(PRIMARY), BypassPolicyLockoutSafetyCheck=True
    )["KeyMetadata"]
    eu_cmk = aws.client("kms", "eu-west-1").create_key(Description="eu")["KeyMetadata"]
    other = aws.client("kms", "us-east-1", account=OTHER).create_key()["KeyMetadata"]

    rds = aws.client("rds", "us-east-1")
    _db(rds, "db-cmk-alias", StorageEncrypted=True, KmsKeyId="alias/orders")
    _db(rds, "db-cmk-id", StorageEncrypted=True, KmsKeyId=cmk["KeyId"], BackupRetentionPeriod=0)
    _db(rds, "db-default", StorageEncrypted=True, BackupRetentionPeriod=0)
    _db(rds, "db-plain", StorageEncrypted=False, BackupRetentionPeriod=0)
    _db(rds, "db-denied", StorageEncrypted=True, KmsKeyId=denied["Arn"], BackupRetentionPeriod=0)
    rds.create_db_snapshot(DBInstanceIdentifier="db-default", DBSnapshotIdentifier="snap-default")
    _db(
        aws.client("rds", "eu-west-1"),
        "db-eu",
        StorageEncrypted=True,
        KmsKeyId=eu_cmk["Arn"],
        BackupRetentionPeriod=0,
    )

    sm = aws.client("secretsmanager", "us-east-1")
    sm.create_secret(Name="sec-default", SecretString="never-read")
    sm.create_secret(Name="sec-cmk", SecretString="never-read", KmsKeyId="alias/orders")
    sm.create_secret(Name="sec-other", SecretString="never-read", KmsKeyId=other["Arn"])
    sm.create_secret(
        Name="sec-replicated",
        SecretString="never-read",
        KmsKeyId=cmk["Arn"],
        AddReplicaRegions=[{"Region": "eu-west-1"}],
    )
    expected = {
        "db-cmk-alias": KeyClass.CUSTOMER_MANAGED,
        "db-cmk-id": KeyClass.CUSTOMER_MANAGED,
        "db-default": KeyClass.AWS_MANAGED,
        "db-plain": KeyClass.UNENCRYPTED,
        "db-denied": KeyClass.UNKNOWN,
        "snap-default": KeyClass.AWS_MANAGED,
        "db-eu@eu-west-1": KeyClass.CUSTOMER_MANAGED,
        "sec-default": KeyClass.AWS_MANAGED,
        "sec-cmk": KeyClass.CUSTOMER_MANAGED,
        "sec-other": KeyClass.CROSS_ACCOUNT,
        "sec-replicated": KeyClass.CUSTOMER_MANAGED,
    }
    aws.reset_request_counts()
    return SmallEstate(
        aws, expected, cmk["Arn"], eu_cmk["Arn"], other["Arn"], asym["Arn"], denied["Arn"]
    )


@pytest.fixture(name="small_estate")
def _small_estate(cmkguard_emulated_aws: EmulatedAWS) -> SmallEstate:
    """The small estate, built afresh for one test (which may change it)."""
    return build_small_estate(cmkguard_emulated_aws)


@pytest.fixture(name="shared_small_estate", scope="module")
def _shared_small_estate(_cmkguard_emulator: EmulatedAWS) -> Iterator[SmallEstate]:
    """The small estate built once per module: tests using it only read (building costs ~2 s).

    A module using it must not also use ``cmkguard_emulated_aws`` (which resets the emulator).
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        set_aws_env(monkeypatch)
        _cmkguard_emulator.reset()
        yield build_small_estate(_cmkguard_emulator)
