"""Source settings -> request parameters (pure).

Restore falls back to defaults for everything it is not given (default security group, default
parameter group, Single-AZ, deletion protection off, IAM auth off...), and moto hides that by
copying settings from the source. So every setting the source had is passed again *explicitly*,
`False` and `0` included. The input is a `DescribeDBInstances` / `DescribeDBClusters`
record (what `cmkguard.aws.rds_settings.capture_instance_settings` returns).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "INSTANCE_SETTING_FIELDS",
    "cluster_modify_params",
    "cluster_restore_params",
    "instance_modify_params",
    "instance_restore_params",
    "member_create_params",
    "replica_create_params",
    "settings_digest_fields",
]

# The describe fields a migration depends on; the executor re-reads them before restoring and
# refuses to go on if any changed since planning.
INSTANCE_SETTING_FIELDS: tuple[str, ...] = (
    "DBInstanceClass",
    "Engine",
    "EngineVersion",
    "MultiAZ",
    "AvailabilityZone",
    "PubliclyAccessible",
    "DBSubnetGroup",
    "VpcSecurityGroups",
    "DBParameterGroups",
    "OptionGroupMemberships",
    "Endpoint",
    "StorageType",
    "Iops",
    "StorageThroughput",
    "AllocatedStorage",
    "MaxAllocatedStorage",
    "DeletionProtection",
    "IAMDatabaseAuthenticationEnabled",
    "EnabledCloudwatchLogsExports",
    "CopyTagsToSnapshot",
    "AutoMinorVersionUpgrade",
    "BackupRetentionPeriod",
    "PreferredBackupWindow",
    "PreferredMaintenanceWindow",
    "CACertificateIdentifier",
    "MonitoringInterval",
    "MonitoringRoleArn",
    "PerformanceInsightsEnabled",
    "PerformanceInsightsRetentionPeriod",
    "TagList",
    "NetworkType",
    "LicenseModel",
    "PromotionTier",
    "DBClusterIdentifier",
    "ReadReplicaDBInstanceIdentifiers",
    "ReadReplicaSourceDBInstanceIdentifier",
    "KmsKeyId",
    "StorageEncrypted",
    "MasterUserSecret",
    "DBInstanceArn",
    "DBInstanceIdentifier",
)

CLUSTER_SETTING_FIELDS: tuple[str, ...] = (
    "DBClusterIdentifier",
    "DBClusterArn",
    "Engine",
    "EngineVersion",
    "EngineMode",
    "Port",
    "DBSubnetGroup",
    "VpcSecurityGroups",
    "DBClusterParameterGroup",
    "DeletionProtection",
    "IAMDatabaseAuthenticationEnabled",
    "EnabledCloudwatchLogsExports",
    "CopyTagsToSnapshot",
    "BackupRetentionPeriod",
    "PreferredBackupWindow",
    "PreferredMaintenanceWindow",
    "BacktrackWindow",
    "ServerlessV2ScalingConfiguration",
    "TagList",
    "DBClusterMembers",
    "KmsKeyId",
    "StorageEncrypted",
    "MasterUserSecret",
)


def settings_digest_fields(record: Mapping[str, Any], *, cluster: bool = False) -> dict[str, Any]:
    """The subset of a describe record that the migration depends on (compared at execution)."""
    fields = CLUSTER_SETTING_FIELDS if cluster else INSTANCE_SETTING_FIELDS
    out = {f: record[f] for f in fields if f in record}
    if cluster and "DBClusterMembers" in out:
        # Members' status fields change on their own; identity and role are what matter.
        out["DBClusterMembers"] = sorted(
            (
                {
                    "DBInstanceIdentifier": m.get("DBInstanceIdentifier"),
                    "IsClusterWriter": m.get("IsClusterWriter"),
                }
                for m in out["DBClusterMembers"]
            ),
            key=lambda m: str(m["DBInstanceIdentifier"]),
        )
    if isinstance(out.get("MasterUserSecret"), Mapping):
        # SecretStatus moves on its own (rotating...); which secret on which key is what matters.
        secret = out["MasterUserSecret"]
        out["MasterUserSecret"] = {k: secret.get(k) for k in ("SecretArn", "KmsKeyId")}
    # Keep names, drop status fields that move on their own (in-sync, active, pending...).
    if isinstance(out.get("DBSubnetGroup"), Mapping):
        out["DBSubnetGroup"] = {"DBSubnetGroupName": out["DBSubnetGroup"].get("DBSubnetGroupName")}
    for field, name in (
        ("VpcSecurityGroups", "VpcSecurityGroupId"),
        ("DBParameterGroups", "DBParameterGroupName"),
        ("OptionGroupMemberships", "OptionGroupName"),
    ):
        if isinstance(out.get(field), list):
            out[field] = sorted(str(g.get(name)) for g in out[field] if isinstance(g, Mapping))
    return out


def _tags(record: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": t.get("Value", "")} for t in record.get("TagList") or ()]


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def _put_monitoring_and_insights(
    out: dict[str, Any], record: Mapping[str, Any], target_key: str
) -> None:
    """Enhanced monitoring and Performance Insights as the source had them, PI on the CMK.

    Both are always sent, even when off: restore and create fall back to their own defaults
    otherwise. Performance Insights has its own key, so it moves to the target key too.
    """
    interval = int(record.get("MonitoringInterval", 0) or 0)
    out["MonitoringInterval"] = interval
    if interval and record.get("MonitoringRoleArn"):
        out["MonitoringRoleArn"] = record["MonitoringRoleArn"]
    pi = bool(record.get("PerformanceInsightsEnabled", False))
    out["EnablePerformanceInsights"] = pi
    if pi:
        out["PerformanceInsightsKMSKeyId"] = target_key
        _put(
            out,
            "PerformanceInsightsRetentionPeriod",
            record.get("PerformanceInsightsRetentionPeriod"),
        )


def _option_group(record: Mapping[str, Any]) -> str | None:
    # A default option group ("default:<engine>-<major>") is what restore picks anyway, and it
    # is named per engine version: only a custom group has to be passed again.
    for g in record.get("OptionGroupMemberships") or ():
        name = g.get("OptionGroupName")
        if name and not str(name).startswith("default:"):
            return str(name)
    return None


def _port(record: Mapping[str, Any]) -> int | None:
    endpoint = record.get("Endpoint") or {}
    port = endpoint.get("Port") or record.get("DbInstancePort") or None
    return int(port) if port else None


def instance_restore_params(
    record: Mapping[str, Any], *, new_id: str, snapshot_id: str, target_key: str
) -> dict[str, Any]:
    """`RestoreDBInstanceFromDBSnapshot` parameters carrying every setting of the source."""
    out: dict[str, Any] = {
        "DBInstanceIdentifier": new_id,
        "DBSnapshotIdentifier": snapshot_id,
    }
    _put(out, "DBInstanceClass", record.get("DBInstanceClass"))
    _put(out, "Port", _port(record))
    multi_az = bool(record.get("MultiAZ", False))
    out["MultiAZ"] = multi_az
    if not multi_az:
        # AvailabilityZone cannot be combined with Multi-AZ.
        _put(out, "AvailabilityZone", record.get("AvailabilityZone"))
    subnet = (record.get("DBSubnetGroup") or {}).get("DBSubnetGroupName")
    _put(out, "DBSubnetGroupName", subnet)
    sgs = [g["VpcSecurityGroupId"] for g in record.get("VpcSecurityGroups") or ()]
    if sgs:
        out["VpcSecurityGroupIds"] = sgs
    pgs = [g["DBParameterGroupName"] for g in record.get("DBParameterGroups") or ()]
    if pgs:
        out["DBParameterGroupName"] = pgs[0]
    _put(out, "OptionGroupName", _option_group(record))
    out["PubliclyAccessible"] = bool(record.get("PubliclyAccessible", False))
    _put(out, "StorageType", record.get("StorageType"))
    if record.get("Iops"):
        out["Iops"] = int(record["Iops"])
    if record.get("StorageThroughput"):
        out["StorageThroughput"] = int(record["StorageThroughput"])
    _put(out, "AllocatedStorage", record.get("AllocatedStorage"))
    out["DeletionProtection"] = bool(record.get("DeletionProtection", False))
    out["EnableIAMDatabaseAuthentication"] = bool(
        record.get("IAMDatabaseAuthenticationEnabled", False)
    )
    exports = list(record.get("EnabledCloudwatchLogsExports") or ())
    if exports:
        out["EnableCloudwatchLogsExports"] = exports
    out["CopyTagsToSnapshot"] = bool(record.get("CopyTagsToSnapshot", False))
    out["AutoMinorVersionUpgrade"] = bool(record.get("AutoMinorVersionUpgrade", True))
    out["BackupRetentionPeriod"] = int(record.get("BackupRetentionPeriod", 0) or 0)
    _put(out, "PreferredBackupWindow", record.get("PreferredBackupWindow"))
    _put(out, "CACertificateIdentifier", record.get("CACertificateIdentifier"))
    _put(out, "NetworkType", record.get("NetworkType"))
    _put(out, "LicenseModel", record.get("LicenseModel"))
    if record.get("MasterUserSecret"):
        # The restored instance gets its own RDS-managed secret, on the new key from the start.
        out["ManageMasterUserPassword"] = True
        out["MasterUserSecretKmsKeyId"] = target_key
    tags = _tags(record)
    if tags:
        out["Tags"] = tags
    return out


def instance_modify_params(
    record: Mapping[str, Any], *, new_id: str, target_key: str
) -> dict[str, Any]:
    """`ModifyDBInstance` parameters for what restore cannot take (monitoring, PI, ...)."""
    out: dict[str, Any] = {"DBInstanceIdentifier": new_id, "ApplyImmediately": True}
    _put_monitoring_and_insights(out, record, target_key)
    _put(out, "MaxAllocatedStorage", record.get("MaxAllocatedStorage"))
    _put(out, "PreferredMaintenanceWindow", record.get("PreferredMaintenanceWindow"))
    return out


def replica_create_params(
    record: Mapping[str, Any], *, new_id: str, source_id: str
) -> dict[str, Any]:
    """`CreateDBInstanceReadReplica` parameters for re-creating a replica from the new primary.

    A same-region replica always takes its primary's key, so no `KmsKeyId` is sent.
    """
    out: dict[str, Any] = {
        "DBInstanceIdentifier": new_id,
        "SourceDBInstanceIdentifier": source_id,
    }
    _put(out, "DBInstanceClass", record.get("DBInstanceClass"))
    if not record.get("MultiAZ"):
        _put(out, "AvailabilityZone", record.get("AvailabilityZone"))
    out["MultiAZ"] = bool(record.get("MultiAZ", False))
    _put(out, "Port", _port(record))
    out["PubliclyAccessible"] = bool(record.get("PubliclyAccessible", False))
    out["AutoMinorVersionUpgrade"] = bool(record.get("AutoMinorVersionUpgrade", True))
    out["CopyTagsToSnapshot"] = bool(record.get("CopyTagsToSnapshot", False))
    out["DeletionProtection"] = bool(record.get("DeletionProtection", False))
    out["EnableIAMDatabaseAuthentication"] = bool(
        record.get("IAMDatabaseAuthenticationEnabled", False)
    )
    _put(out, "StorageType", record.get("StorageType"))
    if record.get("Iops"):
        out["Iops"] = int(record["Iops"])
    sgs = [g["VpcSecurityGroupId"] for g in record.get("VpcSecurityGroups") or ()]
    if sgs:
        out["VpcSecurityGroupIds"] = sgs
    pgs = [g["DBParameterGroupName"] for g in record.get("DBParameterGroups") or ()]
    if pgs:
        out["DBParameterGroupName"] = pgs[0]
    _put(out, "OptionGroupName", _option_group(record))
    exports = list(record.get("EnabledCloudwatchLogsExports") or ())
    if exports:
        out["EnableCloudwatchLogsExports"] = exports
    tags = _tags(record)
    if tags:
        out["Tags"] = tags
    return out


def cluster_restore_params(
    record: Mapping[str, Any], *, new_id: str, snapshot_id: str, target_key: str
) -> dict[str, Any]:
    """`RestoreDBClusterFromSnapshot` parameters, `KmsKeyId` = the target key."""
    out: dict[str, Any] = {
        "DBClusterIdentifier": new_id,
        "SnapshotIdentifier": snapshot_id,
        "KmsKeyId": target_key,
    }
    _put(out, "Engine", record.get("Engine"))
    _put(out, "EngineVersion", record.get("EngineVersion"))
    mode = record.get("EngineMode")
    if mode and mode != "provisioned":
        out["EngineMode"] = mode
    _put(out, "Port", record.get("Port"))
    _put(out, "DBSubnetGroupName", record.get("DBSubnetGroup"))
    sgs = [g["VpcSecurityGroupId"] for g in record.get("VpcSecurityGroups") or ()]
    if sgs:
        out["VpcSecurityGroupIds"] = sgs
    _put(out, "DBClusterParameterGroupName", record.get("DBClusterParameterGroup"))
    out["DeletionProtection"] = bool(record.get("DeletionProtection", False))
    out["EnableIAMDatabaseAuthentication"] = bool(
        record.get("IAMDatabaseAuthenticationEnabled", False)
    )
    exports = list(record.get("EnabledCloudwatchLogsExports") or ())
    if exports:
        out["EnableCloudwatchLogsExports"] = exports
    out["CopyTagsToSnapshot"] = bool(record.get("CopyTagsToSnapshot", False))
    if record.get("BackupRetentionPeriod") is not None:
        out["BackupRetentionPeriod"] = int(record["BackupRetentionPeriod"])
    _put(out, "PreferredBackupWindow", record.get("PreferredBackupWindow"))
    if record.get("BacktrackWindow"):
        out["BacktrackWindow"] = int(record["BacktrackWindow"])
    scaling = record.get("ServerlessV2ScalingConfiguration")
    if scaling:
        out["ServerlessV2ScalingConfiguration"] = {
            k: v for k, v in scaling.items() if k in ("MinCapacity", "MaxCapacity")
        }
    tags = _tags(record)
    if tags:
        out["Tags"] = tags
    return out


def cluster_modify_params(
    record: Mapping[str, Any], *, new_id: str, target_key: str
) -> dict[str, Any] | None:
    """`ModifyDBCluster` for what restore cannot take; `None` when nothing is left."""
    out: dict[str, Any] = {"DBClusterIdentifier": new_id, "ApplyImmediately": True}
    _put(out, "PreferredMaintenanceWindow", record.get("PreferredMaintenanceWindow"))
    if record.get("MasterUserSecret"):
        out["ManageMasterUserPassword"] = True
        out["MasterUserSecretKmsKeyId"] = target_key
    return out if len(out) > 2 else None


def member_create_params(
    record: Mapping[str, Any], *, new_id: str, cluster_id: str, target_key: str
) -> dict[str, Any]:
    """`CreateDBInstance` parameters for a re-created Aurora cluster member."""
    out: dict[str, Any] = {
        "DBInstanceIdentifier": new_id,
        "DBClusterIdentifier": cluster_id,
    }
    _put(out, "Engine", record.get("Engine"))
    _put(out, "DBInstanceClass", record.get("DBInstanceClass"))
    if record.get("PromotionTier") is not None:
        out["PromotionTier"] = int(record["PromotionTier"])
    pgs = [g["DBParameterGroupName"] for g in record.get("DBParameterGroups") or ()]
    if pgs:
        out["DBParameterGroupName"] = pgs[0]
    _put(out, "AvailabilityZone", record.get("AvailabilityZone"))
    out["PubliclyAccessible"] = bool(record.get("PubliclyAccessible", False))
    out["AutoMinorVersionUpgrade"] = bool(record.get("AutoMinorVersionUpgrade", True))
    _put(out, "CACertificateIdentifier", record.get("CACertificateIdentifier"))
    _put(out, "PreferredMaintenanceWindow", record.get("PreferredMaintenanceWindow"))
    _put_monitoring_and_insights(out, record, target_key)
    tags = _tags(record)
    if tags:
        out["Tags"] = tags
    return out
