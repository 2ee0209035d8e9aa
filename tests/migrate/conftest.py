"""Fixtures for migration tests: a small estate on the emulated account, request recorders.

The estate is built here rather than with ``seed_estate`` because the migration tests need
specific, *non-default* settings on the sources (so that a restore that forgot one is caught in
the requests) and specific key policies (consumers that can or cannot decrypt).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from botocore.awsrequest import AWSResponse

import cmkguard
from cmkguard.migrate import WaiterSettings, capture_settings

ACCOUNT = "111122223333"
REGION = "us-east-1"
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/orders-app"
STRANGER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/reporting"
FAST = WaiterSettings(delay=0, max_attempts=3)


def key_policy(*decrypt_roles: str) -> str:
    """A key policy: the account root administers, ``decrypt_roles`` may use the key."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Admin",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": [
                "kms:Create*",
                "kms:Describe*",
                "kms:Enable*",
                "kms:List*",
                "kms:Put*",
                "kms:Update*",
                "kms:Revoke*",
                "kms:Disable*",
                "kms:Get*",
                "kms:Delete*",
                "kms:ScheduleKeyDeletion",
                "kms:CancelKeyDeletion",
                "kms:CreateGrant",
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
            ],
            "Resource": "*",
        }
    ]
    if decrypt_roles:
        statements.append(
            {
                "Sid": "Use",
                "Effect": "Allow",
                "Principal": {"AWS": list(decrypt_roles)},
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@attrs.frozen
class Estate:
    """What :func:`build_estate` made."""

    session: Any
    key_arn: str
    instance_arn: str
    plain_instance_arn: str
    cluster_arn: str
    snapshot_arn: str
    secret_arn: str


INSTANCE_SETTINGS: dict[str, Any] = {
    "DBInstanceClass": "db.m5.large",
    "Engine": "postgres",
    "MasterUsername": "admin",
    "MasterUserPassword": "password123",
    "AllocatedStorage": 50,
    "StorageEncrypted": True,
    "MultiAZ": False,
    "AvailabilityZone": "us-east-1b",
    "DeletionProtection": True,
    "EnableIAMDatabaseAuthentication": True,
    "BackupRetentionPeriod": 9,
    "PreferredBackupWindow": "05:00-05:30",
    "CopyTagsToSnapshot": True,
    "AutoMinorVersionUpgrade": False,
    "PubliclyAccessible": False,
    "Port": 5433,
    "StorageType": "io1",
    "Iops": 3000,
    "PreferredMaintenanceWindow": "sun:02:00-sun:03:00",
    "MaxAllocatedStorage": 200,
    "MonitoringInterval": 15,
    "MonitoringRoleArn": f"arn:aws:iam::{ACCOUNT}:role/rds-monitoring",
    "EnableCloudwatchLogsExports": ["postgresql"],
    "Tags": [{"Key": "team", "Value": "orders"}],
}


def build_estate(aws: Any) -> Estate:
    """A CMK, an encrypted and an unencrypted instance, an Aurora cluster, a snapshot, a secret."""
    session = aws.session(REGION)
    kms = session.client("kms")
    rds = session.client("rds")
    sm = session.client("secretsmanager")
    key = kms.create_key(Description="orders CMK", Policy=key_policy(APP_ROLE))["KeyMetadata"]
    kms.create_alias(AliasName="alias/orders", TargetKeyId=key["KeyId"])
    rds.create_db_parameter_group(
        DBParameterGroupName="orders-pg",
        DBParameterGroupFamily="postgres13",
        Description="custom",
    )
    inst = rds.create_db_instance(
        DBInstanceIdentifier="orders", DBParameterGroupName="orders-pg", **INSTANCE_SETTINGS
    )["DBInstance"]
    plain = rds.create_db_instance(
        DBInstanceIdentifier="legacy",
        DBInstanceClass="db.t3.micro",
        Engine="mysql",
        MasterUsername="admin",
        MasterUserPassword="password123",
        AllocatedStorage=20,
        StorageEncrypted=False,
        BackupRetentionPeriod=0,
    )["DBInstance"]
    cluster = rds.create_db_cluster(
        DBClusterIdentifier="ledger",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="password123",
        StorageEncrypted=True,
        DeletionProtection=True,
        BackupRetentionPeriod=7,
        Port=5444,
        EnableIAMDatabaseAuthentication=True,
        CopyTagsToSnapshot=True,
        Tags=[{"Key": "team", "Value": "ledger"}],
    )["DBCluster"]
    for name, tier in (("ledger-1", 0), ("ledger-2", 2)):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass="db.r5.large",
            Engine="aurora-postgresql",
            DBClusterIdentifier="ledger",
            PromotionTier=tier,
        )
    snap = rds.create_db_snapshot(
        DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-nightly"
    )["DBSnapshot"]
    secret = sm.create_secret(Name="orders/db", SecretString='{"password": "s3cr3t-value"}')
    return Estate(
        session=session,
        key_arn=key["Arn"],
        instance_arn=inst["DBInstanceArn"],
        plain_instance_arn=plain["DBInstanceArn"],
        cluster_arn=cluster["DBClusterArn"],
        snapshot_arn=snap["DBSnapshotArn"],
        secret_arn=secret["ARN"],
    )


@pytest.fixture(name="estate")
def _estate(cmkguard_emulated_aws: Any) -> Estate:
    return build_estate(cmkguard_emulated_aws)


def inventory_and_settings(estate: Estate, arns: list[str]) -> tuple[Any, Any]:
    """A fresh scan plus the captured settings of ``arns``."""
    inventory = cmkguard.scan(estate.session, regions=[REGION])
    return inventory, capture_settings(estate.session, arns)


@attrs.define
class Recorder:
    """Records every request (operation name and parameters) sent through a session."""

    calls: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, json.loads(json.dumps(params, default=str))))

    def ops(self) -> list[str]:
        return [name for name, _ in self.calls]

    def params_of(self, operation: str) -> list[dict[str, Any]]:
        return [p for name, p in self.calls if name == operation]

    def mutating(self) -> list[tuple[str, dict[str, Any]]]:
        return [(n, p) for n, p in self.calls if not n.startswith(("Describe", "List", "Get"))]


@pytest.fixture(name="recorder")
def _recorder(estate: Estate) -> Iterator[Recorder]:
    """Records requests sent by clients built from ``estate.session`` after this point."""
    recorder = Recorder()
    # before-parameter-build sees the parameters exactly as the caller passed them.
    estate.session.events.register("before-parameter-build", recorder)
    yield recorder
    estate.session.events.unregister("before-parameter-build", recorder)


def error_response(
    code: str, message: str, status: int = 400
) -> tuple[AWSResponse, dict[str, Any]]:
    """A (http, parsed) pair a ``before-call`` hook returns to make one call fail."""
    http = AWSResponse("https://127.0.0.1/", status, {}, None)
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return http, parsed


def fail_operation(
    session: Any, operation: str, code: str, message: str, *, times: int = 1
) -> Callable[..., Any]:
    """Register a ``before-call`` hook that fails ``operation`` ``times`` times."""
    remaining = [times]

    def hook(model: Any, **_: Any) -> Any:
        if model.name == operation and remaining[0] > 0:
            remaining[0] -= 1
            return error_response(code, message)
        return None

    session.events.register(f"before-call.*.{operation}", hook)
    return hook
