"""plan_migration(scan(...), arns, target_key=...) with no other argument, end to end.

The scan keeps each resource's describe record; the planner restores from it. These tests check
that a plan built from the scan alone is the plan built from freshly captured settings (same
requests, step for step), that it runs to completion on the emulated account for an instance, an
Aurora cluster with members, a snapshot and a secret, and that the records survive the
inventory's JSON round trip (and that an old inventory file without them still loads, and
plans with a clear blocking item instead of a guessed restore).
"""

from __future__ import annotations

import json
from typing import Any

import cmkguard
from cmkguard import Inventory, execute, plan_migration
from cmkguard.migrate import MemoryJournal, capture_settings

from .conftest import FAST, REGION, Estate, Recorder


def _arns(estate: Estate) -> list[str]:
    return [estate.instance_arn, estate.cluster_arn, estate.snapshot_arn, estate.secret_arn]


def test_a_scan_keeps_the_describe_records_json_safe(estate: Estate) -> None:
    inventory = cmkguard.scan(estate.session, regions=[REGION])
    instance = inventory.resource(estate.instance_arn).record
    assert instance is not None
    assert instance["DBInstanceClass"] == "db.m5.large"
    assert instance["BackupRetentionPeriod"] == 9
    assert isinstance(instance["InstanceCreateTime"], str)  # a datetime made ISO text
    cluster = inventory.resource(estate.cluster_arn).record
    assert cluster is not None
    assert sorted(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]) == [
        "ledger-1",
        "ledger-2",
    ]
    member = inventory.resource(estate.cluster_arn.replace(":cluster:", ":db:") + "-2").record
    assert member is not None
    assert member["PromotionTier"] == 2
    snapshot = inventory.resource(estate.snapshot_arn).record
    assert snapshot is not None
    assert snapshot["DBSnapshotIdentifier"] == "orders-nightly"
    secret = inventory.resource(estate.secret_arn).record
    assert secret is not None
    assert secret["Name"] == "orders/db"
    # A scan never reads a secret value: the record is ListSecrets + DescribeSecret only.
    assert "s3cr3t-value" not in json.dumps(secret)
    assert "SecretString" not in secret


def test_records_survive_the_inventory_json_round_trip(estate: Estate) -> None:
    inventory = cmkguard.scan(estate.session, regions=[REGION])
    again = Inventory.from_json(inventory.to_json())
    for arn in _arns(estate):
        assert again.resource(arn).record == inventory.resource(arn).record
        assert again.resource(arn).record is not None


def test_the_plan_from_a_scan_alone_is_the_plan_from_captured_settings(estate: Estate) -> None:
    arns = _arns(estate)
    inventory = cmkguard.scan(estate.session, regions=[REGION])
    alone = plan_migration(inventory, arns, target_key="alias/orders")
    assert alone.executable, alone.blocking
    captured = plan_migration(
        inventory,
        arns,
        target_key="alias/orders",
        source_settings=capture_settings(estate.session, arns),
    )
    assert [(s.operation, s.params) for s in alone.steps] == [
        (s.operation, s.params) for s in captured.steps
    ]
    assert [(s.operation, s.params) for s in alone.rollback_steps] == [
        (s.operation, s.params) for s in captured.rollback_steps
    ]


def test_a_plan_from_a_scan_alone_runs_to_completion(estate: Estate, recorder: Recorder) -> None:
    arns = _arns(estate)
    inventory = cmkguard.scan(estate.session, regions=[REGION])
    plan = plan_migration(inventory, arns, target_key="alias/orders")
    recorder.calls.clear()
    report = execute(
        plan, estate.session, journal=MemoryJournal(), dry_run=False, waiter_config=FAST
    )
    assert report.completed, str(report)
    (instance,) = recorder.params_of("RestoreDBInstanceFromDBSnapshot")
    # Non-default settings of the source, read from the scan's record, sent explicitly.
    expected: dict[str, Any] = {
        "DBInstanceIdentifier": "orders-cmk",
        "DBInstanceClass": "db.m5.large",
        "MultiAZ": False,
        "DeletionProtection": True,
        "EnableIAMDatabaseAuthentication": True,
        "StorageType": "io1",
        "Iops": 3000,
        "AutoMinorVersionUpgrade": False,
        "DBParameterGroupName": "orders-pg",
    }
    assert {k: instance.get(k) for k in expected} == expected
    (cluster,) = recorder.params_of("RestoreDBClusterFromSnapshot")
    assert cluster["DBClusterIdentifier"] == "ledger-cmk"
    assert cluster["KmsKeyId"] == estate.key_arn
    assert cluster["Port"] == 5444
    members = [p for p in recorder.params_of("CreateDBInstance") if p.get("DBClusterIdentifier")]
    assert [(m["DBInstanceIdentifier"], m["PromotionTier"]) for m in members] == [
        ("ledger-1-cmk", 0),
        ("ledger-2-cmk", 2),
    ]
    copies = {p["SourceDBSnapshotIdentifier"]: p for p in recorder.params_of("CopyDBSnapshot")}
    assert copies["orders-nightly"]["KmsKeyId"] == estate.key_arn
    (update,) = recorder.params_of("UpdateSecret")
    assert update["KmsKeyId"] == estate.key_arn
    # The executor still re-read every RDS source right before restoring it.
    reread = [p.get("DBInstanceIdentifier") for p in recorder.params_of("DescribeDBInstances")]
    assert "orders" in reread
    after = cmkguard.scan(estate.session, regions=[REGION])
    for name in ("orders-cmk", "ledger-cmk", "ledger-1-cmk", "ledger-2-cmk"):
        (moved,) = [r for r in after.resources if r.name == name]
        assert moved.key_arn == estate.key_arn, name
    assert after.resource(estate.secret_arn).key_arn == estate.key_arn


def test_fresher_source_settings_win_over_the_scans_record(estate: Estate) -> None:
    inventory = cmkguard.scan(estate.session, regions=[REGION])
    fresher = capture_settings(estate.session, [estate.instance_arn])
    fresher[estate.instance_arn] = {**fresher[estate.instance_arn], "DBInstanceClass": "db.m6g.xl"}
    plan = plan_migration(
        inventory, estate.instance_arn, target_key="alias/orders", source_settings=fresher
    )
    (restore,) = [s for s in plan.steps if s.operation == "RestoreDBInstanceFromDBSnapshot"]
    assert restore.params["DBInstanceClass"] == "db.m6g.xl"


def test_an_inventory_file_without_records_loads_and_blocks_with_a_remedy(
    estate: Estate,
) -> None:
    inventory = cmkguard.scan(estate.session, regions=[REGION])
    document = json.loads(inventory.to_json())
    for resource in document["resources"]:
        resource.pop("record")  # what an inventory file written before records looks like
    old = Inventory.from_json(json.dumps(document))
    assert old.resource(estate.instance_arn).record is None
    plan = plan_migration(old, [estate.instance_arn, estate.cluster_arn], target_key="alias/orders")
    assert not plan.executable
    messages = {item.subject: item.message for item in plan.blocking}
    assert set(messages) == {estate.instance_arn, estate.cluster_arn}
    assert all("capture_settings" in m and "Scan again" in m for m in messages.values())
