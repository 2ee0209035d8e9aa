"""plan_migration is pure: these tests build Inventory values by hand, no AWS at all."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

import cmkguard
from cmkguard import (
    EncryptedResource,
    Inventory,
    KeyClass,
    KeyUse,
    KmsKey,
    MigrationOptions,
    MigrationPlan,
    plan_migration,
)
from cmkguard.migrate.model import GENERATED_PASSWORD

ACCOUNT = "111122223333"
REGION = "us-east-1"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
AWS_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/aaaaaaaa-0000-0000-0000-000000000000"
DB_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders"
CLUSTER_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:ledger"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:orders/db-AbCdEf"
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/orders-app"


def _policy(*users: str) -> str:
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if users:
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"AWS": list(users)},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _key(**changes: Any) -> KmsKey:
    base = KmsKey(
        arn=KEY_ARN,
        key_id=KEY_ID,
        account=ACCOUNT,
        region=REGION,
        manager="CUSTOMER",
        state="Enabled",
        aliases=("alias/orders",),
        policy=_policy(),
    )
    return attrs.evolve(base, **changes)


AWS_KEY = KmsKey(
    arn=AWS_KEY_ARN,
    key_id="aaaaaaaa-0000-0000-0000-000000000000",
    account=ACCOUNT,
    region=REGION,
    manager="AWS",
    state="Enabled",
    aliases=("alias/aws/rds",),
)

# A DescribeDBInstances record with a non-default value for every setting restore must carry.
RECORD: dict[str, Any] = {
    "DBInstanceIdentifier": "orders",
    "DBInstanceArn": DB_ARN,
    "DBInstanceClass": "db.m5.large",
    "Engine": "postgres",
    "EngineVersion": "15.4",
    "MultiAZ": False,
    "AvailabilityZone": "us-east-1b",
    "PubliclyAccessible": False,
    "DBSubnetGroup": {"DBSubnetGroupName": "private-subnets", "Subnets": []},
    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-0123", "Status": "active"}],
    "DBParameterGroups": [{"DBParameterGroupName": "orders-pg", "ParameterApplyStatus": "in-sync"}],
    "OptionGroupMemberships": [{"OptionGroupName": "orders-og", "Status": "in-sync"}],
    "Endpoint": {"Address": "orders.x.rds.amazonaws.com", "Port": 5433},
    "StorageType": "io1",
    "Iops": 3000,
    "StorageThroughput": 0,
    "AllocatedStorage": 50,
    "MaxAllocatedStorage": 200,
    "DeletionProtection": True,
    "IAMDatabaseAuthenticationEnabled": True,
    "EnabledCloudwatchLogsExports": ["postgresql"],
    "CopyTagsToSnapshot": True,
    "AutoMinorVersionUpgrade": False,
    "BackupRetentionPeriod": 0,
    "PreferredBackupWindow": "05:00-05:30",
    "PreferredMaintenanceWindow": "sun:02:00-sun:03:00",
    "CACertificateIdentifier": "rds-ca-rsa2048-g1",
    "MonitoringInterval": 15,
    "MonitoringRoleArn": f"arn:aws:iam::{ACCOUNT}:role/rds-monitoring",
    "PerformanceInsightsEnabled": True,
    "PerformanceInsightsRetentionPeriod": 731,
    "TagList": [{"Key": "team", "Value": "orders"}],
    "KmsKeyId": AWS_KEY_ARN,
    "StorageEncrypted": True,
    "ReadReplicaDBInstanceIdentifiers": [],
}


def _instance(arn: str = DB_ARN, name: str = "orders", **changes: Any) -> EncryptedResource:
    base = EncryptedResource(
        arn=arn,
        resource_type="rds:db-instance",
        account=ACCOUNT,
        region=REGION,
        name=name,
        key_class=KeyClass.AWS_MANAGED,
        key_arn=AWS_KEY_ARN,
    )
    return attrs.evolve(base, **changes)


def _secret(**changes: Any) -> EncryptedResource:
    base = EncryptedResource(
        arn=SECRET_ARN,
        resource_type="secretsmanager:secret",
        account=ACCOUNT,
        region=REGION,
        name="orders/db",
        key_class=KeyClass.AWS_MANAGED,
        key_arn=AWS_KEY_ARN,
    )
    return attrs.evolve(base, **changes)


def _inventory(*resources: EncryptedResource, key: KmsKey | None = None) -> Inventory:
    return Inventory(resources=resources, keys=[key or _key(), AWS_KEY])


def _plan(
    *resources: EncryptedResource,
    arns: Any = None,
    key: KmsKey | None = None,
    settings: dict[str, Any] | None = None,
    target: str = "alias/orders",
    **options: Any,
) -> MigrationPlan:
    return plan_migration(
        _inventory(*resources, key=key),
        arns if arns is not None else [r.arn for r in resources],
        target_key=target,
        options=MigrationOptions(**options),
        source_settings=settings if settings is not None else {DB_ARN: RECORD},
    )


def _only(plan: MigrationPlan, operation: str) -> dict[str, Any]:
    found = [s for s in plan.steps if s.operation == operation and s.kind == "call"]
    assert len(found) == 1, [s.id for s in found]
    return dict(found[0].params)


# -- the instance path ---------------------------------------------------------------------------


def test_instance_path_is_snapshot_copy_restore_modify_verify_in_order() -> None:
    plan = _plan(_instance())
    assert plan.executable, plan.blocking
    calls = [s.operation for s in plan.steps if s.kind == "call"]
    assert calls == [
        "CreateDBSnapshot",
        "CopyDBSnapshot",
        "RestoreDBInstanceFromDBSnapshot",
        "ModifyDBInstance",
    ]
    kinds = [s.kind for s in plan.steps]
    # a waiter follows every call that starts something long
    assert kinds.count("wait") == 4
    assert plan.steps[-1].kind == "verify"
    assert plan.steps[-1].params["expect"]["KmsKeyId"] == KEY_ARN
    assert plan.steps[-1].params["expect"]["PerformanceInsightsKMSKeyId"] == KEY_ARN


def test_copy_uses_the_resolved_target_key_and_copies_tags() -> None:
    copy = _only(_plan(_instance()), "CopyDBSnapshot")
    assert copy["KmsKeyId"] == KEY_ARN
    assert copy["CopyTags"] is True


def test_restore_passes_every_setting_again_including_false_and_zero() -> None:
    restore = _only(_plan(_instance()), "RestoreDBInstanceFromDBSnapshot")
    assert restore == {
        "DBInstanceIdentifier": "orders-cmk",
        "DBSnapshotIdentifier": restore["DBSnapshotIdentifier"],
        "DBInstanceClass": "db.m5.large",
        "Port": 5433,
        "MultiAZ": False,
        "AvailabilityZone": "us-east-1b",
        "DBSubnetGroupName": "private-subnets",
        "VpcSecurityGroupIds": ["sg-0123"],
        "DBParameterGroupName": "orders-pg",
        "OptionGroupName": "orders-og",
        "PubliclyAccessible": False,
        "StorageType": "io1",
        "Iops": 3000,
        "AllocatedStorage": 50,
        "DeletionProtection": True,
        "EnableIAMDatabaseAuthentication": True,
        "EnableCloudwatchLogsExports": ["postgresql"],
        "CopyTagsToSnapshot": True,
        "AutoMinorVersionUpgrade": False,
        "BackupRetentionPeriod": 0,
        "PreferredBackupWindow": "05:00-05:30",
        "CACertificateIdentifier": "rds-ca-rsa2048-g1",
        "Tags": [{"Key": "team", "Value": "orders"}],
    }
    assert restore["DBSnapshotIdentifier"].endswith("-cmk")


def test_modify_after_restore_carries_monitoring_performance_insights_and_windows() -> None:
    modify = _only(_plan(_instance()), "ModifyDBInstance")
    assert modify == {
        "DBInstanceIdentifier": "orders-cmk",
        "ApplyImmediately": True,
        "MonitoringInterval": 15,
        "MonitoringRoleArn": f"arn:aws:iam::{ACCOUNT}:role/rds-monitoring",
        "EnablePerformanceInsights": True,
        "PerformanceInsightsKMSKeyId": KEY_ARN,
        "PerformanceInsightsRetentionPeriod": 731,
        "MaxAllocatedStorage": 200,
        "PreferredMaintenanceWindow": "sun:02:00-sun:03:00",
    }


def test_multi_az_source_is_restored_multi_az_without_an_availability_zone() -> None:
    settings = {DB_ARN: {**RECORD, "MultiAZ": True}}
    restore = _only(_plan(_instance(), settings=settings), "RestoreDBInstanceFromDBSnapshot")
    assert restore["MultiAZ"] is True
    assert "AvailabilityZone" not in restore


def test_unencrypted_instance_takes_the_same_path_and_is_encrypted_by_the_copy() -> None:
    settings = {DB_ARN: {**RECORD, "StorageEncrypted": False, "KmsKeyId": None}}
    res = _instance(key_class=KeyClass.UNENCRYPTED, key_arn=None)
    plan = _plan(res, settings=settings)
    assert _only(plan, "CopyDBSnapshot")["KmsKeyId"] == KEY_ARN
    assert "encrypts" in plan.step(f"{REGION}/db:orders/04-copy").description


def test_rds_managed_master_secret_of_a_migrated_instance_moves_to_the_key() -> None:
    secret = {"SecretArn": SECRET_ARN, "SecretStatus": "active", "KmsKeyId": AWS_KEY_ARN}
    settings = {DB_ARN: {**RECORD, "MasterUserSecret": secret}}
    restore = _only(_plan(_instance(), settings=settings), "RestoreDBInstanceFromDBSnapshot")
    assert restore["ManageMasterUserPassword"] is True
    assert restore["MasterUserSecretKmsKeyId"] == KEY_ARN


def test_missing_settings_block_the_plan_instead_of_restoring_defaults() -> None:
    plan = _plan(_instance(), settings={})
    assert not plan.executable
    assert [i.check for i in plan.blocking] == ["source-settings"]
    assert plan.steps == ()


def test_settings_in_the_inventory_details_are_used_when_not_captured() -> None:
    plan = _plan(_instance(details=RECORD), settings={})
    assert plan.executable
    assert _only(plan, "RestoreDBInstanceFromDBSnapshot")["Port"] == 5433


def test_nothing_before_cutover_modifies_the_source() -> None:
    plan = _plan(_instance(), cutover=True)
    for step in plan.steps:
        if step.phase in ("cutover", "cleanup") or step.kind != "call":
            continue
        assert step.operation.startswith(("Create", "Copy", "Restore")) or (
            step.params.get("DBInstanceIdentifier") == "orders-cmk"
        ), step.id
    assert not any(s.destructive for s in plan.steps)


def test_cutover_renames_old_then_new_and_verifies_the_key() -> None:
    plan = _plan(_instance(), cutover=True)
    renames = [
        (s.params["DBInstanceIdentifier"], s.params["NewDBInstanceIdentifier"])
        for s in plan.steps
        if s.phase == "cutover" and s.kind == "call"
    ]
    assert renames == [("orders", "orders-pre-cmk"), ("orders-cmk", "orders")]
    last = plan.steps[-1]
    assert last.kind == "verify"
    assert last.params == {"DBInstanceIdentifier": "orders", "expect": {"KmsKeyId": KEY_ARN}}


def test_every_cutover_comes_with_a_rollback_plan_reversing_it() -> None:
    plan = _plan(_instance(), cutover=True)
    rollback = plan.rollback_plan()
    assert rollback is not None
    assert rollback.is_rollback
    renames = [
        (s.params["DBInstanceIdentifier"], s.params["NewDBInstanceIdentifier"])
        for s in rollback.steps
        if s.kind == "call"
    ]
    assert renames == [("orders", "orders-cmk"), ("orders-pre-cmk", "orders")]
    assert rollback.steps[-1].params["expect"] == {"KmsKeyId": AWS_KEY_ARN}
    assert _plan(_instance()).rollback_plan() is None


def test_read_replicas_are_recreated_from_the_new_primary() -> None:
    rep_arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders-ro"
    rep_record = {
        **RECORD,
        "DBInstanceIdentifier": "orders-ro",
        "DBInstanceClass": "db.r5.large",
        "ReadReplicaSourceDBInstanceIdentifier": "orders",
    }
    settings = {
        DB_ARN: {**RECORD, "ReadReplicaDBInstanceIdentifiers": ["orders-ro"]},
        rep_arn: rep_record,
    }
    plan = _plan(_instance(), settings=settings, cutover=True)
    create = _only(plan, "CreateDBInstanceReadReplica")
    assert create["SourceDBInstanceIdentifier"] == "orders-cmk"
    assert create["DBInstanceIdentifier"] == "orders-ro-cmk"
    assert create["DBInstanceClass"] == "db.r5.large"
    assert "KmsKeyId" not in create  # a same-region replica always takes its primary's key
    renames = [
        (s.params["DBInstanceIdentifier"], s.params["NewDBInstanceIdentifier"])
        for s in plan.steps
        if s.phase == "cutover" and s.kind == "call"
    ]
    assert ("orders-ro-cmk", "orders-ro") in renames


def test_a_read_replica_itself_is_refused_with_the_reason() -> None:
    rep_arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders-ro"
    settings = {rep_arn: {**RECORD, "ReadReplicaSourceDBInstanceIdentifier": "orders"}}
    plan = _plan(_instance(rep_arn, "orders-ro"), settings=settings)
    assert [i.check for i in plan.blocking] == ["read-replica"]
    assert "orders" in plan.blocking[0].message


# -- target key pre-flight ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["alias/orders", KEY_ARN, KEY_ID, f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/orders"]
)
def test_target_key_resolves_from_any_identifier_form(target: str) -> None:
    plan = _plan(_instance(), target=target)
    assert plan.target_key_arns == {REGION: KEY_ARN}
    assert plan.target_key == target


def test_unknown_target_key_is_a_blocking_item_not_a_crash() -> None:
    plan = _plan(_instance(), target="alias/nope")
    assert [i.check for i in plan.blocking] == ["key-exists"]
    assert "alias/nope" in plan.blocking[0].message


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"state": "Disabled"}, "key-enabled"),
        (
            {"state": "PendingDeletion", "deletion_date": datetime(2030, 1, 1, tzinfo=UTC)},
            "key-enabled",
        ),
        ({"spec": "RSA_2048"}, "key-symmetric"),
        ({"manager": "AWS"}, "key-customer-managed"),
    ],
)
def test_unusable_target_keys_block(changes: dict[str, Any], check: str) -> None:
    plan = _plan(_instance(), key=_key(**changes))
    assert check in {i.check for i in plan.blocking}
    with pytest.raises(cmkguard.PreflightError):
        cmkguard.execute(plan, None, journal=cmkguard.migrate.MemoryJournal(), dry_run=False)  # type: ignore[arg-type]


def test_key_in_another_region_blocks_but_a_multi_region_replica_is_used() -> None:
    other = _key(region="eu-west-1", arn=KEY_ARN.replace(REGION, "eu-west-1"))
    plan = _plan(_instance(), key=other)
    assert [i.check for i in plan.blocking] == ["key-exists"]
    assert "eu-west-1" in plan.blocking[0].message

    mrk_id = "mrk-1234"
    primary = _key(
        region="eu-west-1",
        arn=f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{mrk_id}",
        key_id=mrk_id,
        multi_region=True,
    )
    replica = _key(
        arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{mrk_id}",
        key_id=mrk_id,
        multi_region=True,
        aliases=(),
    )
    inventory = Inventory(resources=[_instance()], keys=[primary, replica, AWS_KEY])
    plan = plan_migration(
        inventory, DB_ARN, target_key="alias/orders", source_settings={DB_ARN: RECORD}
    )
    assert plan.executable, plan.blocking
    assert plan.target_key_arns == {REGION: replica.arn}
    assert _only(plan, "CopyDBSnapshot")["KmsKeyId"] == replica.arn


def test_resource_not_in_inventory_or_already_on_the_key() -> None:
    plan = _plan(
        _instance(), arns=[DB_ARN, "arn:aws:rds:us-east-1:111122223333:db:ghost", "nonsense"]
    )
    checks = {i.check for i in plan.blocking}
    assert checks == {"resource-in-inventory", "resource-arn"}
    on_key = _instance(key_arn=KEY_ARN, key_class=KeyClass.CUSTOMER_MANAGED)
    plan = _plan(on_key)
    assert plan.steps == ()
    assert [i.check for i in plan.warnings] == ["already-on-target"]


# -- secrets ------------------------------------------------------------------------------------


def test_secret_switches_key_and_optionally_writes_a_new_version() -> None:
    plan = _plan(_secret(), settings={}, reencrypt_secret_value=True)
    assert [s.operation for s in plan.steps] == [
        "DescribeSecret",
        "UpdateSecret",
        "PutSecretValue",
        "DescribeSecret",
    ]
    assert _only(plan, "UpdateSecret") == {"SecretId": SECRET_ARN, "KmsKeyId": KEY_ARN}
    put = plan.step(f"{REGION}/secret:orders/db/03-new-version")
    assert put.kind == "reencrypt-secret"
    # the plan never holds a value, only the idempotency token
    assert set(put.params) == {"SecretId", "ClientRequestToken"}
    rollback = plan.rollback_plan()
    assert rollback is not None
    assert rollback.steps[0].params == {"SecretId": SECRET_ARN, "KmsKeyId": AWS_KEY_ARN}


def test_secret_without_opt_in_warns_that_old_versions_stay_readable_with_the_old_key() -> None:
    plan = _plan(_secret(), settings={})
    assert "PutSecretValue" not in [s.operation for s in plan.steps]
    assert "secret-old-versions" in {i.check for i in plan.warnings}


def test_consumer_without_decrypt_on_the_new_key_blocks_naming_the_principal() -> None:
    stranger = f"arn:aws:iam::{ACCOUNT}:role/reporting"
    outsider = "arn:aws:iam::999999999999:role/partner"
    key = _key(
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": APP_ROLE},
                        "Action": ["kms:Decrypt", "kms:CreateGrant", "kms:Encrypt"],
                        "Resource": "*",
                    }
                ],
            }
        )
    )
    plan = _plan(
        _secret(),
        key=key,
        settings={},
        secret_consumers={SECRET_ARN: [APP_ROLE, stranger, outsider]},
    )
    pytest.importorskip("cmkguard.policy", reason="policy analyser not landed")
    if not hasattr(cmkguard, "analyze_key_policy"):
        pytest.skip("policy analyser not exported yet")
    blocked = {i.subject for i in plan.blocking if i.check == "consumer-decrypt"}
    assert blocked == {stranger, outsider}
    assert any(stranger in i.message for i in plan.blocking)
    passed = {i.subject for i in plan.preflight if i.level == "passed"}
    assert APP_ROLE in passed


def test_rotation_lambda_with_unknown_role_blocks() -> None:
    secret = _secret(
        details={"rotation_lambda_arn": "arn:aws:lambda:us-east-1:111122223333:function:rot"}
    )
    plan = _plan(secret, settings={})
    assert "rotation-lambda-role" in {i.check for i in plan.blocking}
    role = f"arn:aws:iam::{ACCOUNT}:role/rotator"
    plan = _plan(secret, settings={}, rotation_lambda_roles={SECRET_ARN: role})
    assert "rotation-lambda-role" not in {i.check for i in plan.blocking}
    assert any(i.subject == role for i in plan.preflight)


def test_rds_managed_secret_goes_through_manage_master_user_password_off_and_on() -> None:
    owner = _instance(
        secondary_keys=[
            KeyUse(
                "master-user-secret", REGION, AWS_KEY_ARN, KeyClass.AWS_MANAGED, detail=SECRET_ARN
            )
        ]
    )
    secret = _secret(details={"owning_service": "rds"})
    plan = _plan(owner, secret, arns=[SECRET_ARN], settings={})
    assert plan.executable, plan.blocking
    calls = [s for s in plan.steps if s.kind == "call"]
    assert [c.operation for c in calls] == ["ModifyDBInstance", "ModifyDBInstance"]
    off, on = (dict(c.params) for c in calls)
    assert off["ManageMasterUserPassword"] is False
    assert off["MasterUserPassword"] == GENERATED_PASSWORD
    assert calls[0].destructive  # RDS deletes the old secret
    assert on == {
        "DBInstanceIdentifier": "orders",
        "ManageMasterUserPassword": True,
        "MasterUserSecretKmsKeyId": KEY_ARN,
        "ApplyImmediately": True,
    }
    assert "UpdateSecret" not in [s.operation for s in plan.steps]
    assert "master-secret-new-arn" in {i.check for i in plan.warnings}


def test_secret_replicas_stay_unless_asked_and_are_recreated_with_the_region_key() -> None:
    eu_key = _key(
        region="eu-west-1",
        arn=f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/eu",
        key_id="eu",
        aliases=("alias/orders-eu",),
    )
    replica = KeyUse("replica", "eu-west-1", None, KeyClass.AWS_MANAGED)
    secret = _secret(secondary_keys=[replica])
    inventory = Inventory(resources=[secret], keys=[_key(), eu_key, AWS_KEY])
    plan = plan_migration(inventory, SECRET_ARN, target_key="alias/orders")
    assert "secret-replica" in {i.check for i in plan.warnings}
    options = MigrationOptions(
        rekey_secret_replicas=True, replica_keys={"eu-west-1": "alias/orders-eu"}
    )
    plan = plan_migration(inventory, SECRET_ARN, target_key="alias/orders", options=options)
    add = _only(plan, "ReplicateSecretToRegions")
    assert add["AddReplicaRegions"] == [{"Region": "eu-west-1", "KmsKeyId": eu_key.arn}]
    remove = [s for s in plan.steps if s.operation == "RemoveRegionsFromReplication"]
    assert [r.destructive for r in remove] == [True]


# -- snapshots and clusters ---------------------------------------------------------------------


def _snapshot(name: str, **changes: Any) -> EncryptedResource:
    base = EncryptedResource(
        arn=f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:{name}",
        resource_type="rds:db-snapshot",
        account=ACCOUNT,
        region=REGION,
        name=name,
        key_class=KeyClass.AWS_MANAGED,
        key_arn=AWS_KEY_ARN,
    )
    return attrs.evolve(base, **changes)


def test_snapshot_copies_are_batched_at_five_in_flight_per_region() -> None:
    snaps = [_snapshot(f"s{i}") for i in range(7)]
    plan = _plan(*snaps, settings={})
    order = [
        (s.kind, s.params.get("TargetDBSnapshotIdentifier") or s.params.get("DBSnapshotIdentifier"))
        for s in plan.steps
    ]
    kinds = [k for k, _ in order]
    # five copies, five waits, five verifies, then the next batch
    assert kinds[:5] == ["call"] * 5
    assert kinds[5:10] == ["wait"] * 5
    in_flight = 0
    peak = 0
    for step in plan.steps:
        if step.kind == "call":
            in_flight += 1
        elif step.kind == "wait":
            in_flight -= 1
        peak = max(peak, in_flight)
    assert peak == 5
    sixth = [s for s in plan.steps if s.kind == "call"][5]
    assert len(sixth.depends_on) == 5  # waits for the whole first batch


def test_old_snapshots_are_kept_unless_deletion_is_asked_for_explicitly() -> None:
    manual, automated = (
        _snapshot("keep"),
        _snapshot("rds:orders-2026-01-01", details={"snapshot_type": "automated"}),
    )
    plan = _plan(manual, automated, settings={})
    assert not any(s.operation.startswith("Delete") for s in plan.steps)
    copies = [s.params for s in plan.steps if s.operation == "CopyDBSnapshot"]
    assert {c["SourceDBSnapshotIdentifier"] for c in copies} == {"keep", "rds:orders-2026-01-01"}
    assert {c["TargetDBSnapshotIdentifier"] for c in copies} == {
        "keep-cmk",
        "orders-2026-01-01-cmk",
    }
    plan = _plan(manual, automated, settings={}, delete_source_snapshots=True)
    deletes = [s for s in plan.steps if s.operation == "DeleteDBSnapshot"]
    assert [d.params for d in deletes] == [{"DBSnapshotIdentifier": "keep"}]
    assert deletes[0].destructive
    assert deletes[0].phase == "cleanup"
    assert "automated-snapshot" in {i.check for i in plan.warnings}


def test_unencrypted_cluster_snapshot_cannot_be_copied_with_a_key() -> None:
    snap = EncryptedResource(
        arn=f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:c1",
        resource_type="rds:db-cluster-snapshot",
        account=ACCOUNT,
        region=REGION,
        name="c1",
        key_class=KeyClass.UNENCRYPTED,
    )
    plan = _plan(snap, settings={})
    assert [i.check for i in plan.blocking] == ["unencrypted-cluster-snapshot"]


def test_cluster_is_restored_with_the_key_and_every_member_recreated_writer_first() -> None:
    cluster = EncryptedResource(
        arn=CLUSTER_ARN,
        resource_type="rds:db-cluster",
        account=ACCOUNT,
        region=REGION,
        name="ledger",
        key_class=KeyClass.AWS_MANAGED,
        key_arn=AWS_KEY_ARN,
    )
    record = {
        "DBClusterIdentifier": "ledger",
        "Engine": "aurora-postgresql",
        "EngineVersion": "15.4",
        "Port": 5444,
        "DBSubnetGroup": "private",
        "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1"}],
        "DBClusterParameterGroup": "ledger-cpg",
        "DeletionProtection": True,
        "IAMDatabaseAuthenticationEnabled": False,
        "CopyTagsToSnapshot": True,
        "BackupRetentionPeriod": 7,
        "PreferredMaintenanceWindow": "mon:01:00-mon:02:00",
        "DBClusterMembers": [
            {"DBInstanceIdentifier": "ledger-2", "IsClusterWriter": False, "PromotionTier": 2},
            {"DBInstanceIdentifier": "ledger-1", "IsClusterWriter": True, "PromotionTier": 0},
        ],
    }
    member = {
        "Engine": "aurora-postgresql",
        "DBInstanceClass": "db.r5.large",
        "DBParameterGroups": [{"DBParameterGroupName": "ledger-pg"}],
        "PerformanceInsightsEnabled": True,
        "MonitoringInterval": 0,
    }
    mine = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:"
    settings = {
        CLUSTER_ARN: record,
        mine + "ledger-1": {**member, "PromotionTier": 0},
        mine + "ledger-2": {**member, "PromotionTier": 2},
    }
    plan = _plan(cluster, settings=settings, cutover=True)
    assert plan.executable, plan.blocking
    restore = _only(plan, "RestoreDBClusterFromSnapshot")
    assert restore["KmsKeyId"] == KEY_ARN
    assert restore["DeletionProtection"] is True
    assert restore["EnableIAMDatabaseAuthentication"] is False
    assert restore["DBClusterParameterGroupName"] == "ledger-cpg"
    creates = [s.params for s in plan.steps if s.operation == "CreateDBInstance"]
    assert [c["DBInstanceIdentifier"] for c in creates] == ["ledger-1-cmk", "ledger-2-cmk"]
    assert all(c["DBClusterIdentifier"] == "ledger-cmk" for c in creates)
    assert [c["PromotionTier"] for c in creates] == [0, 2]
    assert all(c["PerformanceInsightsKMSKeyId"] == KEY_ARN for c in creates)
    assert all(c["MonitoringInterval"] == 0 for c in creates)
    assert plan.rollback_plan() is not None
    # a member whose settings are unknown blocks rather than being re-created with defaults
    del settings[mine + "ledger-2"]
    assert "source-settings" in {i.check for i in _plan(cluster, settings=settings).blocking}


# -- the plan as a value ------------------------------------------------------------------------


def test_plan_round_trips_through_json_and_keeps_its_fingerprint() -> None:
    plan = _plan(_instance(), _secret(), settings={DB_ARN: RECORD}, cutover=True)
    again = MigrationPlan.from_json(plan.to_json())
    assert again == plan
    assert again.fingerprint == plan.fingerprint
    assert again.rollback_plan() == plan.rollback_plan()
    assert len(plan.fingerprint) == 64


def test_fingerprint_changes_with_any_request_and_tampering_is_detected() -> None:
    plan = _plan(_instance())
    other = _plan(_instance(), settings={DB_ARN: {**RECORD, "Endpoint": {"Port": 5434}}})
    assert plan.fingerprint != other.fingerprint
    data = json.loads(plan.to_json())
    data["steps"][1]["params"]["DBInstanceIdentifier"] = "someone-else"
    with pytest.raises(ValueError, match="modified"):
        MigrationPlan.from_dict(data)


def test_plan_is_deterministic() -> None:
    assert _plan(_instance()).to_json() == _plan(_instance()).to_json()


def test_review_text_and_html_show_steps_and_escape_everything() -> None:
    evil = _instance(name="<script>x</script>")
    settings = {DB_ARN: {**RECORD, "TagList": [{"Key": "<b>", "Value": "</td>"}]}}
    plan = _plan(evil, settings=settings, cutover=True)
    text = str(plan)
    assert "Phase copy:" in text
    assert "CopyDBSnapshot" in text
    assert "Rollback available" in text
    html = plan._repr_html_()
    assert "<script>" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;" in html
    assert html.startswith('<div class="cmkguard cmkguard-plan"><style>')


def test_plan_values_are_frozen() -> None:
    plan = _plan(_instance())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        plan.target_key = "x"  # type: ignore[misc]


def test_a_replica_secret_is_refused_and_pointed_at_its_primary() -> None:
    replica = _secret(details={"is_replica": True, "primary_region": "eu-west-1"})
    plan = _plan(replica, settings={})
    assert [i.check for i in plan.blocking] == ["secret-replica"]
    assert "eu-west-1" in plan.blocking[0].message


def test_a_secret_is_found_by_its_name_or_partial_arn_as_secrets_manager_does() -> None:
    partial = SECRET_ARN.rsplit("-", 1)[0]  # the ARN without its random suffix
    for reference in (SECRET_ARN, partial, "orders/db"):
        plan = _plan(_secret(), arns=[reference])
        assert plan.executable, (reference, plan.blocking)
        assert plan.resources == (SECRET_ARN,)  # the plan names the full ARN
        assert _only(plan, "UpdateSecret")["SecretId"] == SECRET_ARN
    both = _plan(_secret(), arns=[SECRET_ARN, "orders/db", partial])
    assert both.resources == (SECRET_ARN,)
    assert len([s for s in both.steps if s.operation == "UpdateSecret"]) == 1


def test_a_name_matching_secrets_in_two_regions_is_refused_with_the_candidates() -> None:
    eu_arn = SECRET_ARN.replace(REGION, "eu-west-1")
    eu = _secret(arn=eu_arn, region="eu-west-1")
    plan = _plan(_secret(), eu, arns=["orders/db"])
    (item,) = plan.blocking
    assert item.check == "resource-ambiguous"
    assert SECRET_ARN in item.message
    assert eu_arn in item.message
    assert plan.steps == ()


def test_a_partial_arn_does_not_match_another_secret_by_prefix() -> None:
    # "orders/db-AbCdEf" minus its suffix is "orders/db": "orders/d" must not match it.
    plan = _plan(_secret(), arns=[SECRET_ARN.rsplit("-", 1)[0][:-1]])
    assert [i.check for i in plan.blocking] == ["resource-in-inventory"]
    unknown = _plan(_secret(), arns=["no-such-secret"])
    assert [i.check for i in unknown.blocking] == ["resource-arn"]
    assert "no scanned secret has that name" in unknown.blocking[0].message
