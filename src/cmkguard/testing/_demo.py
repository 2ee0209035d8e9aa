"""A small estate for the migration demo (`cmkguard demo migrate`) and for notebooks.

`seed_estate` builds a large, varied estate for scans and audits; a migration demo needs the
opposite: a few resources a newcomer can follow from plan to rollback, all on AWS-managed keys,
and one customer-managed key whose policy lets RDS and Secrets Manager use it.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from cmkguard.testing._emulator import EmulatedAWS

__all__ = ["MigrationDemo", "seed_migration_demo"]

DEMO_REGION = "us-east-1"
DEMO_ALIAS = "alias/orders"
# A throwaway password on an emulated database: never a real credential.
_DEMO_PASSWORD = "demo-password-1"


@attrs.frozen
class MigrationDemo:
    """What `seed_migration_demo` made: the target key and the resources to move."""

    region: str
    key_arn: str
    key_alias: str
    instance_arn: str
    cluster_arn: str
    snapshot_arn: str
    secret_arn: str

    @property
    def resources(self) -> tuple[str, ...]:
        """The ARNs a demo plan moves: an instance, an Aurora cluster, a snapshot, a secret."""
        return (self.instance_arn, self.cluster_arn, self.snapshot_arn, self.secret_arn)


def _key_policy(account: str) -> str:
    """The account administers the key (IAM policies decide who uses it), as AWS's default."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EnableIAMPolicies",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )


def seed_migration_demo(aws: EmulatedAWS, region: str = DEMO_REGION) -> MigrationDemo:
    """Create, in `aws`'s primary account: a CMK (`alias/orders`), a PostgreSQL instance, an
    Aurora cluster with a writer and a reader, a manual snapshot and a secret, all on their
    service's AWS-managed key (`aws/rds`, `aws/secretsmanager`)."""
    session = aws.session(region)
    account = aws.primary_account
    kms: Any = session.client("kms")
    rds: Any = session.client("rds")
    secrets: Any = session.client("secretsmanager")
    key = kms.create_key(Description="orders data", Policy=_key_policy(account))["KeyMetadata"]
    kms.create_alias(AliasName=DEMO_ALIAS, TargetKeyId=key["KeyId"])
    instance = rds.create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.m5.large",
        Engine="postgres",
        MasterUsername="orders_admin",
        MasterUserPassword=_DEMO_PASSWORD,
        AllocatedStorage=50,
        StorageEncrypted=True,
        MultiAZ=True,
        DeletionProtection=True,
        BackupRetentionPeriod=7,
        Tags=[{"Key": "team", "Value": "orders"}],
    )["DBInstance"]
    cluster = rds.create_db_cluster(
        DBClusterIdentifier="ledger",
        Engine="aurora-postgresql",
        MasterUsername="ledger_admin",
        MasterUserPassword=_DEMO_PASSWORD,
        StorageEncrypted=True,
        BackupRetentionPeriod=7,
        Tags=[{"Key": "team", "Value": "ledger"}],
    )["DBCluster"]
    for name, tier in (("ledger-1", 0), ("ledger-2", 1)):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass="db.r5.large",
            Engine="aurora-postgresql",
            DBClusterIdentifier="ledger",
            PromotionTier=tier,
        )
    snapshot = rds.create_db_snapshot(
        DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-before-upgrade"
    )["DBSnapshot"]
    secret = secrets.create_secret(
        Name="orders/api-token", SecretString=json.dumps({"token": "demo-token"})
    )
    return MigrationDemo(
        region=region,
        key_arn=key["Arn"],
        key_alias=DEMO_ALIAS,
        instance_arn=instance["DBInstanceArn"],
        cluster_arn=cluster["DBClusterArn"],
        snapshot_arn=snapshot["DBSnapshotArn"],
        secret_arn=secret["ARN"],
    )
