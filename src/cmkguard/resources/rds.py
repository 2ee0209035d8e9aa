"""RDS: DB instances, Aurora clusters, and their snapshots (manual and automated).

`Describe*` responses carry `TagList`, so tags cost no extra call. RDS reports
`KmsKeyId` as the key ARN on AWS (and as given at creation on the emulator): the scan
normalises it. Performance Insights has its own key, and an RDS-managed master-user secret its
own too: both are recorded as secondary keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmkguard.resources.base import STORAGE, KeyRef, RawResource, ResourceType, compact
from cmkguard.resources.base import tags_from_pairs as _tags
from cmkguard.types import Region, ResourceArn, ResourceTypeName

__all__ = ["DB_CLUSTER", "DB_CLUSTER_SNAPSHOT", "DB_INSTANCE", "DB_SNAPSHOT", "RESOURCE_TYPES"]


def _storage(item: Mapping[str, Any], region: Region, encrypted_field: str) -> KeyRef:
    # `StorageEncryptionType` (botocore's RDS model, 2026) tells the third case that
    # `StorageEncrypted` cannot: `sse-rds` is an AWS owned key, reported with
    # `StorageEncrypted` false and no `KmsKeyId` (the Aurora default from 2026-02-18).
    kind = item.get("StorageEncryptionType")
    if kind == "sse-rds":
        return KeyRef(STORAGE, region, None, True, aws_owned=True)
    encrypted = bool(item.get(encrypted_field)) and kind != "none"
    return KeyRef(STORAGE, region, item.get("KmsKeyId") if encrypted else None, encrypted)


def _secondary(item: Mapping[str, Any], region: Region) -> tuple[KeyRef, ...]:
    refs: list[KeyRef] = []
    if item.get("PerformanceInsightsEnabled") and item.get("PerformanceInsightsKMSKeyId"):
        refs.append(KeyRef("performance-insights", region, item["PerformanceInsightsKMSKeyId"]))
    secret = item.get("MasterUserSecret")
    if secret and secret.get("SecretArn"):
        # RDS reports the secret's key; absent means the secret uses aws/secretsmanager.
        refs.append(
            KeyRef(
                "master-user-secret",
                region,
                secret.get("KmsKeyId"),
                default_alias="alias/aws/secretsmanager",
                detail=secret["SecretArn"],
            )
        )
    return tuple(refs)


def _instance(item: Mapping[str, Any], region: Region) -> RawResource:
    return RawResource(
        arn=ResourceArn(item["DBInstanceArn"]),
        name=item["DBInstanceIdentifier"],
        key=_storage(item, region, "StorageEncrypted"),
        tags=_tags(item.get("TagList")),
        details=compact(
            {
                "engine": item.get("Engine"),
                "engine_version": item.get("EngineVersion"),
                "instance_class": item.get("DBInstanceClass"),
                "status": item.get("DBInstanceStatus"),
                "multi_az": item.get("MultiAZ"),
                "storage_type": item.get("StorageType"),
                "db_cluster": item.get("DBClusterIdentifier"),
                "read_replica_source": item.get("ReadReplicaSourceDBInstanceIdentifier"),
                "read_replicas": list(item.get("ReadReplicaDBInstanceIdentifiers") or ()) or None,
                "publicly_accessible": item.get("PubliclyAccessible"),
                "deletion_protection": item.get("DeletionProtection"),
                "performance_insights": item.get("PerformanceInsightsEnabled"),
                "resource_id": item.get("DbiResourceId"),
            }
        ),
        secondary=_secondary(item, region),
    )


def _cluster(item: Mapping[str, Any], region: Region) -> RawResource:
    members = [m.get("DBInstanceIdentifier") for m in item.get("DBClusterMembers") or ()]
    return RawResource(
        arn=ResourceArn(item["DBClusterArn"]),
        name=item["DBClusterIdentifier"],
        key=_storage(item, region, "StorageEncrypted"),
        tags=_tags(item.get("TagList")),
        details=compact(
            {
                "engine": item.get("Engine"),
                "engine_version": item.get("EngineVersion"),
                "engine_mode": item.get("EngineMode"),
                "status": item.get("Status"),
                "multi_az": item.get("MultiAZ"),
                "members": members or None,
                "deletion_protection": item.get("DeletionProtection"),
                "resource_id": item.get("DbClusterResourceId"),
            }
        ),
        secondary=_secondary(item, region),
    )


def _snapshot(item: Mapping[str, Any], region: Region) -> RawResource:
    return RawResource(
        arn=ResourceArn(item["DBSnapshotArn"]),
        name=item["DBSnapshotIdentifier"],
        key=_storage(item, region, "Encrypted"),
        tags=_tags(item.get("TagList")),
        details=compact(
            {
                "snapshot_type": item.get("SnapshotType"),
                "source_instance": item.get("DBInstanceIdentifier"),
                "engine": item.get("Engine"),
                "status": item.get("Status"),
                "created": item.get("SnapshotCreateTime"),
                "source_snapshot": item.get("SourceDBSnapshotIdentifier"),
            }
        ),
    )


def _cluster_snapshot(item: Mapping[str, Any], region: Region) -> RawResource:
    return RawResource(
        arn=ResourceArn(item["DBClusterSnapshotArn"]),
        name=item["DBClusterSnapshotIdentifier"],
        key=_storage(item, region, "StorageEncrypted"),
        tags=_tags(item.get("TagList")),
        details=compact(
            {
                "snapshot_type": item.get("SnapshotType"),
                "source_cluster": item.get("DBClusterIdentifier"),
                "engine": item.get("Engine"),
                "status": item.get("Status"),
                "created": item.get("SnapshotCreateTime"),
            }
        ),
    )


DB_INSTANCE = ResourceType(
    name=ResourceTypeName("rds:db-instance"),
    service="rds",
    operation="DescribeDBInstances",
    result_key="DBInstances",
    parse=_instance,
    iam_actions=("rds:DescribeDBInstances",),
    description="RDS DB instances (Aurora members included), with PI and master-secret keys",
)
DB_CLUSTER = ResourceType(
    name=ResourceTypeName("rds:db-cluster"),
    service="rds",
    operation="DescribeDBClusters",
    result_key="DBClusters",
    parse=_cluster,
    iam_actions=("rds:DescribeDBClusters",),
    description="Aurora and Multi-AZ DB clusters",
)
DB_SNAPSHOT = ResourceType(
    name=ResourceTypeName("rds:db-snapshot"),
    service="rds",
    operation="DescribeDBSnapshots",
    result_key="DBSnapshots",
    parse=_snapshot,
    # Without SnapshotType, RDS returns the account's manual and automated snapshots.
    iam_actions=("rds:DescribeDBSnapshots",),
    description="DB instance snapshots, manual and automated",
)
DB_CLUSTER_SNAPSHOT = ResourceType(
    name=ResourceTypeName("rds:db-cluster-snapshot"),
    service="rds",
    operation="DescribeDBClusterSnapshots",
    result_key="DBClusterSnapshots",
    parse=_cluster_snapshot,
    iam_actions=("rds:DescribeDBClusterSnapshots",),
    description="DB cluster snapshots, manual and automated",
)

RESOURCE_TYPES = (DB_INSTANCE, DB_CLUSTER, DB_SNAPSHOT, DB_CLUSTER_SNAPSHOT)
"""The types this module registers."""
