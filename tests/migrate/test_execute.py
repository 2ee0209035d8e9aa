"""execute() against the emulated account: requests sent, dry run, journal, resume, failures.

moto's restore copies settings from the source and ignores ``False``/``0``, so a migration that
forgot a setting would still "work" on moto: these tests assert on the *requests* the library
sends (a ``before-parameter-build`` hook), not on moto's resulting state.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import cmkguard
from cmkguard import JsonFileJournal, MigrationOptions, MigrationPlan, execute, plan_migration
from cmkguard.migrate import MemoryJournal, ProgressEvent, capture_settings
from cmkguard.migrate.aws_settings import capture_instance_settings

from .conftest import (
    APP_ROLE,
    FAST,
    INSTANCE_SETTINGS,
    Estate,
    Recorder,
    fail_operation,
    inventory_and_settings,
)


def _pi_reported(estate: Estate) -> None:
    """moto does not report PerformanceInsightsEnabled; real AWS does: add it for the source."""

    def hook(parsed: dict[str, Any], **_: Any) -> None:
        for item in parsed.get("DBInstances") or ():
            if item.get("DBInstanceIdentifier") in ("orders", "orders-pre-cmk"):
                item["PerformanceInsightsEnabled"] = True
                item["PerformanceInsightsRetentionPeriod"] = 731

    estate.session.events.register("after-call.rds.DescribeDBInstances", hook)


def _instance_plan(estate: Estate, **options: Any) -> MigrationPlan:
    inventory, settings = inventory_and_settings(estate, [estate.instance_arn])
    plan = plan_migration(
        inventory,
        estate.instance_arn,
        target_key="alias/orders",
        options=MigrationOptions(**options),
        source_settings=settings,
    )
    assert plan.executable, plan.blocking
    return plan


def test_dry_run_is_the_default_sends_nothing_and_lists_the_requests(
    estate: Estate, recorder: Recorder, tmp_path: Path
) -> None:
    plan = _instance_plan(estate, cutover=True)
    recorder.calls.clear()
    journal = tmp_path / "j.json"
    report = execute(plan, estate.session, journal=journal)
    assert report.dry_run
    assert report.state == "dry-run"
    assert recorder.calls == []
    assert not journal.exists()
    requests = report.requests()
    assert len(requests) == len(plan.steps)
    assert requests[1].startswith("rds.CreateDBSnapshot(")
    assert any("RestoreDBInstanceFromDBSnapshot" in r and '"Port": 5433' in r for r in requests)
    assert "would-run" in str(report)


def test_instance_restore_sends_every_non_default_setting(
    estate: Estate, recorder: Recorder
) -> None:
    _pi_reported(estate)
    plan = _instance_plan(estate)
    recorder.calls.clear()
    report = execute(
        plan, estate.session, journal=MemoryJournal(), dry_run=False, waiter_config=FAST
    )
    assert report.completed, str(report)
    (restore,) = recorder.params_of("RestoreDBInstanceFromDBSnapshot")
    s = INSTANCE_SETTINGS
    expected = {
        "DBInstanceIdentifier": "orders-cmk",
        "DBInstanceClass": s["DBInstanceClass"],
        "Port": s["Port"],
        "MultiAZ": False,
        "AvailabilityZone": s["AvailabilityZone"],
        "DBParameterGroupName": "orders-pg",
        "PubliclyAccessible": False,
        "StorageType": "io1",
        "Iops": 3000,
        "AllocatedStorage": 50,
        "DeletionProtection": True,
        "EnableIAMDatabaseAuthentication": True,
        "EnableCloudwatchLogsExports": ["postgresql"],
        "CopyTagsToSnapshot": True,
        "AutoMinorVersionUpgrade": False,
        "BackupRetentionPeriod": 9,
        "PreferredBackupWindow": s["PreferredBackupWindow"],
        "Tags": [{"Key": "team", "Value": "orders"}],
    }
    assert {k: restore.get(k) for k in expected} == expected
    assert "VpcSecurityGroupIds" in restore
    (copy,) = recorder.params_of("CopyDBSnapshot")
    assert copy["KmsKeyId"] == estate.key_arn
    assert copy["CopyTags"] is True
    (modify,) = recorder.params_of("ModifyDBInstance")
    assert modify == {
        "DBInstanceIdentifier": "orders-cmk",
        "ApplyImmediately": True,
        "MonitoringInterval": 15,
        "MonitoringRoleArn": s["MonitoringRoleArn"],
        "EnablePerformanceInsights": True,
        "PerformanceInsightsKMSKeyId": estate.key_arn,
        "PerformanceInsightsRetentionPeriod": 731,
        "MaxAllocatedStorage": 200,
        "PreferredMaintenanceWindow": s["PreferredMaintenanceWindow"],
    }
    # the source was only read and snapshotted: nothing else was sent to it
    touching_source = [
        (op, p) for op, p in recorder.mutating() if p.get("DBInstanceIdentifier") == "orders"
    ]
    assert [op for op, _ in touching_source] == ["CreateDBSnapshot"]


def test_new_instance_reports_the_target_key_and_source_is_intact(estate: Estate) -> None:
    before = capture_instance_settings(estate.session, estate.instance_arn)
    plan = _instance_plan(estate)
    report = execute(
        plan, estate.session, journal=MemoryJournal(), dry_run=False, waiter_config=FAST
    )
    assert report.completed
    rds = estate.session.client("rds")
    new = rds.describe_db_instances(DBInstanceIdentifier="orders-cmk")["DBInstances"][0]
    assert new["KmsKeyId"] == estate.key_arn
    after = capture_instance_settings(estate.session, estate.instance_arn)
    assert after["KmsKeyId"] == before["KmsKeyId"] != estate.key_arn
    assert {k: after.get(k) for k in INSTANCE_SETTINGS if k in after} == {
        k: before.get(k) for k in INSTANCE_SETTINGS if k in before
    }


def _summary(estate: Estate) -> dict[str, Any]:
    """The account's RDS and secret state, with the target key written as TARGET."""
    rds = estate.session.client("rds")

    def key(value: Any) -> Any:
        return "TARGET" if value == estate.key_arn else ("OTHER" if value else None)

    return {
        "instances": sorted(
            (i["DBInstanceIdentifier"], key(i.get("KmsKeyId")), i["DBInstanceClass"])
            for i in rds.describe_db_instances()["DBInstances"]
        ),
        "snapshots": sorted(
            # intermediate snapshot names carry a hash of the (per-estate) key ARN
            (re.sub(r"-[0-9a-f]{8}", "-H", s["DBSnapshotIdentifier"]), key(s.get("KmsKeyId")))
            for s in rds.describe_db_snapshots()["DBSnapshots"]
            if s.get("SnapshotType") == "manual"
        ),
        "secret": key(
            estate.session.client("secretsmanager")
            .describe_secret(SecretId=estate.secret_arn)
            .get("KmsKeyId")
        ),
        "secret_versions": len(
            estate.session.client("secretsmanager").list_secret_version_ids(
                SecretId=estate.secret_arn
            )["Versions"]
        ),
    }


def _mixed_plan(estate: Estate) -> MigrationPlan:
    arns = [estate.instance_arn, estate.snapshot_arn, estate.secret_arn]
    inventory, settings = inventory_and_settings(estate, arns)
    plan = plan_migration(
        inventory,
        arns,
        target_key="alias/orders",
        options=MigrationOptions(
            cutover=True,
            reencrypt_secret_value=True,
            secret_consumers={estate.secret_arn: (APP_ROLE,)},
        ),
        source_settings=settings,
    )
    assert plan.executable, plan.blocking
    return plan


@pytest.fixture(name="uninterrupted")
def _uninterrupted(estate: Estate, cmkguard_emulated_aws: Any) -> dict[str, Any]:
    """The final state of an uninterrupted run of the mixed plan (then the account is reset)."""
    report = execute(
        _mixed_plan(estate),
        estate.session,
        journal=MemoryJournal(),
        dry_run=False,
        waiter_config=FAST,
    )
    assert report.completed, str(report)
    summary = _summary(estate)
    cmkguard_emulated_aws.reset()
    return summary


def test_crash_after_every_step_in_turn_then_resume_gives_the_same_state(
    uninterrupted: dict[str, Any], cmkguard_emulated_aws: Any
) -> None:
    from .conftest import build_estate

    estate = build_estate(cmkguard_emulated_aws)
    source_before = capture_instance_settings(estate.session, estate.instance_arn)
    plan = _mixed_plan(estate)
    journal = MemoryJournal()

    def crash_after_each_step(event: ProgressEvent) -> None:
        if event.status in ("done", "adopted"):
            raise KeyboardInterrupt

    runs = 0
    while True:
        runs += 1
        assert runs <= len(plan.steps) + 1
        try:
            report = execute(
                plan,
                estate.session,
                journal=journal,
                dry_run=False,
                progress=crash_after_each_step,
                waiter_config=FAST,
            )
        except KeyboardInterrupt:
            document = journal.read()
            assert document is not None
            # the step that "crashed" is journaled: the journal is consistent
            assert len(document["steps"]) == runs
            continue
        break
    assert report.completed
    assert runs == len(plan.steps) + 1
    assert all(r.status == "skipped" for r in report.results)
    assert _summary(estate) == uninterrupted
    # the original instance is intact under its cutover name
    old = estate.session.client("rds").describe_db_instances(DBInstanceIdentifier="orders-pre-cmk")
    old_record = old["DBInstances"][0]
    for field in ("KmsKeyId", "DBInstanceClass", "DeletionProtection", "BackupRetentionPeriod"):
        assert old_record[field] == source_before[field]


def test_crash_between_the_call_and_the_journal_is_adopted_not_repeated(
    uninterrupted: dict[str, Any], cmkguard_emulated_aws: Any
) -> None:
    from .conftest import build_estate

    estate = build_estate(cmkguard_emulated_aws)
    plan = _mixed_plan(estate)
    journal = MemoryJournal()
    seen: set[str] = set()
    sent: list[str] = []
    last: dict[str, Any] = {}

    def remember(params: Any, model: Any, **_: Any) -> None:
        last[model.name] = {k: v for k, v in params.items() if k != "ClientRequestToken"}

    def crash_after_aws_accepted(model: Any, **_: Any) -> None:
        if model.name.startswith(("Describe", "List", "Get")):
            return
        sent.append(model.name)
        fingerprint = model.name + json.dumps(last.get(model.name), sort_keys=True, default=str)
        if fingerprint not in seen:
            seen.add(fingerprint)
            raise KeyboardInterrupt  # AWS did it; the journal never heard of it

    estate.session.events.register("before-parameter-build.*.*", remember)
    estate.session.events.register("after-call.*.*", crash_after_aws_accepted)
    crashes = 0
    while True:
        try:
            report = execute(
                plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST
            )
        except KeyboardInterrupt:
            crashes += 1
            assert crashes < 60
            continue
        break
    assert report.completed, str(report)
    assert crashes >= 8
    assert any(r.status == "adopted" for r in report.results)
    # creations were adopted on resume, never sent twice
    for op in ("CreateDBSnapshot", "CopyDBSnapshot", "RestoreDBInstanceFromDBSnapshot"):
        assert sent.count(op) == len([s for s in plan.steps if s.operation == op]), op
    assert _summary(estate) == uninterrupted


def test_a_journal_of_another_plan_is_refused(estate: Estate, tmp_path: Path) -> None:
    plan = _instance_plan(estate)
    other = _instance_plan(estate, cutover=True)
    path = tmp_path / "journal.json"
    report = execute(plan, estate.session, journal=path, dry_run=False, waiter_config=FAST)
    assert report.completed
    data = json.loads(path.read_text())
    assert data["plan_fingerprint"] == plan.fingerprint
    assert set(data["steps"]) == {s.id for s in plan.steps}
    with pytest.raises(cmkguard.JournalMismatchError):
        execute(other, estate.session, journal=path, dry_run=False)
    with pytest.raises(cmkguard.JournalMismatchError):
        execute(other, estate.session, journal=JsonFileJournal(path))  # even a dry run
    # no temp files left: the journal, its lock file and its execution log
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "journal.json",
        "journal.json.lock",
        "journal.log.jsonl",
    ]


def test_kms_access_denied_on_the_copy_stops_cleanly_and_resumes(
    estate: Estate, recorder: Recorder
) -> None:
    plan = _instance_plan(estate)
    journal = MemoryJournal()
    fail_operation(
        estate.session,
        "CopyDBSnapshot",
        "KMSKeyNotAccessibleFault",
        "The specified KMS key is not accessible: AccessDeniedException",
    )
    report = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert report.state == "failed"
    assert report.failed_step == "us-east-1/db:orders/04-copy"
    assert report.error_code == "KMSKeyNotAccessibleFault"
    with pytest.raises(cmkguard.StepFailedError, match="04-copy"):
        report.raise_for_failure()
    document = journal.read()
    assert document is not None
    assert document["failure"]["step"] == "us-east-1/db:orders/04-copy"
    assert len(document["steps"]) == 3
    assert "pending" in {r.status for r in report.results}
    # resume: the same call picks up at the copy
    report = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert report.completed, str(report)
    assert [r.status for r in report.results[:3]] == ["skipped"] * 3
    assert len(recorder.params_of("CreateDBSnapshot")) == 1


def test_a_copy_that_fails_is_reported_and_its_leftover_refused_by_name(estate: Estate) -> None:
    plan = _instance_plan(estate)
    copy_id = plan.step("us-east-1/db:orders/04-copy").params["TargetDBSnapshotIdentifier"]
    journal = MemoryJournal()

    def copy_failed(parsed: dict[str, Any], **_: Any) -> None:
        for snap in parsed.get("DBSnapshots") or ():
            if snap.get("DBSnapshotIdentifier") == copy_id:
                snap["Status"] = "failed"

    estate.session.events.register("after-call.rds.DescribeDBSnapshots", copy_failed)
    report = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert report.state == "failed"
    assert report.failed_step == "us-east-1/db:orders/05-wait-copy"
    # the copy step is forgotten, so a resume looks at the leftover again
    document = journal.read()
    assert document is not None
    assert "us-east-1/db:orders/04-copy" not in document["steps"]
    report = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert report.failed_step == "us-east-1/db:orders/04-copy"
    assert report.error_code == "ResourceFailed"
    assert copy_id in (report.error or "")
    # once the failed copy is gone (here: the copy recovers), the resume completes
    estate.session.events.unregister("after-call.rds.DescribeDBSnapshots", copy_failed)
    report = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert report.completed, str(report)


def test_a_waiter_timeout_is_a_clear_resumable_state(estate: Estate) -> None:
    plan = _instance_plan(estate)
    journal = MemoryJournal()

    def still_creating(parsed: dict[str, Any], **_: Any) -> None:
        # moto answers "available" at once; rewrite the status to test the timeout.
        for item in parsed.get("DBInstances") or ():
            if item.get("DBInstanceIdentifier") == "orders-cmk":
                item["DBInstanceStatus"] = "creating"

    estate.session.events.register("after-call.rds.DescribeDBInstances", still_creating)
    report = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert report.state == "failed"
    assert report.failed_step == "us-east-1/db:orders/09-wait-restore"
    assert report.error_code == "WaiterTimeout"
    assert "3 polls" in (report.error or "")
    document = journal.read()
    assert document is not None
    assert "us-east-1/db:orders/08-restore" in document["steps"]  # a timeout forgets nothing
    estate.session.events.unregister("after-call.rds.DescribeDBInstances", still_creating)
    report = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert report.completed, str(report)


def test_source_changed_since_planning_stops_before_restore(estate: Estate) -> None:
    plan = _instance_plan(estate)
    estate.session.client("rds").modify_db_instance(
        DBInstanceIdentifier="orders", BackupRetentionPeriod=3, ApplyImmediately=True
    )
    report = execute(
        plan, estate.session, journal=MemoryJournal(), dry_run=False, waiter_config=FAST
    )
    assert report.state == "failed"
    assert report.failed_step == "us-east-1/db:orders/01-check-source"
    assert report.error_code == "SourceChanged"
    assert "BackupRetentionPeriod" in (report.error or "")


def test_secret_value_moves_to_a_new_version_without_leaving_the_executor(
    estate: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: Any
) -> None:
    inventory, _ = inventory_and_settings(estate, [])
    plan = plan_migration(
        inventory,
        estate.secret_arn,
        target_key="alias/orders",
        options=MigrationOptions(reencrypt_secret_value=True),
    )
    journal = tmp_path / "secret.journal.json"
    # cmkguard's own logs (botocore's DEBUG wire log at the root: test_secret_wire_log.py)
    caplog.set_level("DEBUG", logger="cmkguard")
    report = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert report.completed, str(report)
    print(report, plan)
    sm = estate.session.client("secretsmanager")
    assert sm.describe_secret(SecretId=estate.secret_arn)["KmsKeyId"] == estate.key_arn
    current = sm.get_secret_value(SecretId=estate.secret_arn)
    token = plan.steps[2].params["ClientRequestToken"]
    assert current["VersionId"] == token
    assert current["SecretString"] == '{"password": "s3cr3t-value"}'
    out = capsys.readouterr()
    for text in (journal.read_text(), out.out, out.err, caplog.text, plan.to_json(), str(report)):
        assert "s3cr3t-value" not in text
    # resuming a finished journal changes nothing (idempotent token)
    report = execute(plan, estate.session, journal=journal, dry_run=False)
    assert len(sm.list_secret_version_ids(SecretId=estate.secret_arn)["Versions"]) == 2


def test_rds_managed_secret_is_rekeyed_through_the_db_instance(
    estate: Estate, recorder: Recorder, tmp_path: Path
) -> None:
    rds = estate.session.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="billing",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        ManageMasterUserPassword=True,
        AllocatedStorage=20,
    )
    secret_arn = rds.describe_db_instances(DBInstanceIdentifier="billing")["DBInstances"][0][
        "MasterUserSecret"
    ]["SecretArn"]
    inventory, _ = inventory_and_settings(estate, [])
    plan = plan_migration(inventory, secret_arn, target_key="alias/orders")
    assert plan.executable, plan.blocking
    journal = tmp_path / "j.json"
    recorder.calls.clear()
    report = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert report.completed, str(report)
    off, on = recorder.params_of("ModifyDBInstance")
    password = off["MasterUserPassword"]
    assert off["ManageMasterUserPassword"] is False
    assert len(password) >= 20
    assert "<" not in password
    assert password not in journal.read_text()
    assert password not in str(report)
    assert on["MasterUserSecretKmsKeyId"] == estate.key_arn
    secret = rds.describe_db_instances(DBInstanceIdentifier="billing")["DBInstances"][0][
        "MasterUserSecret"
    ]
    assert secret["KmsKeyId"] == estate.key_arn
    assert not any(op == "UpdateSecret" for op, _ in recorder.calls)


def test_rollback_plan_puts_the_original_back_under_its_name(estate: Estate) -> None:
    plan = _instance_plan(estate, cutover=True)
    report = execute(
        plan, estate.session, journal=MemoryJournal(), dry_run=False, waiter_config=FAST
    )
    assert report.completed, str(report)
    rds = estate.session.client("rds")
    assert (
        rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]["KmsKeyId"]
        == estate.key_arn
    )
    rollback = report.rollback_plan
    assert rollback is not None
    assert rollback.fingerprint != plan.fingerprint  # it needs its own journal
    undone = execute(
        rollback, estate.session, journal=MemoryJournal(), dry_run=False, waiter_config=FAST
    )
    assert undone.completed, str(undone)
    original = rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]
    rekeyed = rds.describe_db_instances(DBInstanceIdentifier="orders-cmk")["DBInstances"][0]
    assert original["KmsKeyId"] != estate.key_arn
    assert original["DeletionProtection"] is True
    assert rekeyed["KmsKeyId"] == estate.key_arn


def test_cluster_snapshot_and_secret_paths_send_the_planned_requests(
    estate: Estate, recorder: Recorder
) -> None:
    arns = [estate.cluster_arn, estate.snapshot_arn, estate.secret_arn]
    inventory, settings = inventory_and_settings(estate, arns)
    plan = plan_migration(inventory, arns, target_key="alias/orders", source_settings=settings)
    recorder.calls.clear()
    report = execute(
        plan, estate.session, journal=MemoryJournal(), dry_run=False, waiter_config=FAST
    )
    assert report.completed, str(report)
    (restore,) = recorder.params_of("RestoreDBClusterFromSnapshot")
    expected = {
        "DBClusterIdentifier": "ledger-cmk",
        "KmsKeyId": estate.key_arn,
        "Engine": "aurora-postgresql",
        "Port": 5444,
        "DeletionProtection": True,
        "EnableIAMDatabaseAuthentication": True,
        "CopyTagsToSnapshot": True,
        "BackupRetentionPeriod": 7,
        "Tags": [{"Key": "team", "Value": "ledger"}],
    }
    assert {k: restore.get(k) for k in expected} == expected
    members = recorder.params_of("CreateDBInstance")
    assert [(m["DBInstanceIdentifier"], m["PromotionTier"]) for m in members] == [
        ("ledger-1-cmk", 0),
        ("ledger-2-cmk", 2),
    ]
    assert {m["DBClusterIdentifier"] for m in members} == {"ledger-cmk"}
    assert {m["DBInstanceClass"] for m in members} == {"db.r5.large"}
    (copy,) = recorder.params_of("CopyDBSnapshot")
    assert copy == {
        "SourceDBSnapshotIdentifier": "orders-nightly",
        "TargetDBSnapshotIdentifier": "orders-nightly-cmk",
        "KmsKeyId": estate.key_arn,
        "CopyTags": True,
    }
    (update,) = recorder.params_of("UpdateSecret")
    update.pop("ClientRequestToken")  # botocore fills the idempotency token itself
    assert update == {"SecretId": estate.secret_arn, "KmsKeyId": estate.key_arn}
    # without cutover nothing but snapshots touched the sources
    assert {op for op, _ in recorder.mutating()} == {
        "CreateDBClusterSnapshot",
        "RestoreDBClusterFromSnapshot",
        "ModifyDBCluster",
        "CreateDBInstance",
        "CopyDBSnapshot",
        "UpdateSecret",
    }
    assert not any(
        p.get("DBClusterIdentifier") == "ledger" and op != "CreateDBClusterSnapshot"
        for op, p in recorder.mutating()
    )


def test_read_replicas_and_secret_replicas_are_recreated_on_the_key(
    estate: Estate, cmkguard_emulated_aws: Any, recorder: Recorder
) -> None:
    rds = estate.session.client("rds")
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="orders-ro",
        SourceDBInstanceIdentifier="orders",
        DBInstanceClass="db.r5.large",
    )
    eu = cmkguard_emulated_aws.session("eu-west-1").client("kms")
    eu_key = eu.create_key(Description="orders eu")["KeyMetadata"]
    eu.create_alias(AliasName="alias/orders", TargetKeyId=eu_key["KeyId"])
    secret = estate.session.client("secretsmanager").create_secret(
        Name="shared", SecretString="v", AddReplicaRegions=[{"Region": "eu-west-1"}]
    )["ARN"]
    inventory = cmkguard.scan(estate.session, regions=["us-east-1", "eu-west-1"])
    settings = capture_settings(estate.session, [estate.instance_arn])
    plan = plan_migration(
        inventory,
        [estate.instance_arn, secret],
        target_key="alias/orders",
        options=MigrationOptions(cutover=True, rekey_secret_replicas=True),
        source_settings=settings,
    )
    assert plan.executable, plan.blocking
    recorder.calls.clear()
    report = execute(
        plan, estate.session, journal=MemoryJournal(), dry_run=False, waiter_config=FAST
    )
    assert report.completed, str(report)
    (replica,) = recorder.params_of("CreateDBInstanceReadReplica")
    assert replica["SourceDBInstanceIdentifier"] == "orders-cmk"
    assert replica["DBInstanceClass"] == "db.r5.large"
    assert "KmsKeyId" not in replica
    ro = rds.describe_db_instances(DBInstanceIdentifier="orders-ro")["DBInstances"][0]
    assert ro["KmsKeyId"] == estate.key_arn
    assert recorder.params_of("RemoveRegionsFromReplication") == [
        {"SecretId": secret, "RemoveReplicaRegions": ["eu-west-1"]}
    ]
    (add,) = recorder.params_of("ReplicateSecretToRegions")
    assert add["AddReplicaRegions"] == [{"Region": "eu-west-1", "KmsKeyId": eu_key["Arn"]}]
