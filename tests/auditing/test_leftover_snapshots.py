"""`rds-snapshot-left-on-aws-managed-key`: after a migration, the snapshots still on aws/rds are
listed with their retention (a real migration on the emulated account, then edge cases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import attrs

import cmkguard
from cmkguard import KeyClass
from cmkguard.auditing import FINDING_CATALOGUE
from cmkguard.migrate import MemoryJournal, MigrationOptions, WaiterSettings
from cmkguard.testing import EmulatedAWS
from cmkguard.testing._demo import seed_migration_demo

RULE = "rds-snapshot-left-on-aws-managed-key"


def test_after_a_migration_the_old_snapshots_are_listed_with_their_retention(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    demo = seed_migration_demo(cmkguard_emulated_aws)
    session = cmkguard_emulated_aws.session(demo.region)
    before = cmkguard.scan(session, regions=[demo.region])
    # Nothing moved yet: the aws-managed-key rules report the snapshots, this one stays quiet.
    assert cmkguard.audit(before).by_rule(RULE) == ()
    plan = cmkguard.plan_migration(
        before, demo.resources, target_key=demo.key_alias, options=MigrationOptions(cutover=True)
    )
    report = cmkguard.execute(
        plan,
        session,
        journal=MemoryJournal(),
        dry_run=False,
        waiter_config=WaiterSettings(delay=0, max_attempts=5),
    )
    assert report.completed, report.summary()
    after = cmkguard.scan(session, regions=[demo.region])
    now = datetime.now(UTC) + timedelta(days=3)
    findings = {f.evidence["name"]: f for f in cmkguard.audit(after, now=now).by_rule(RULE)}

    rds: Any = session.client("rds")
    on_old_key = {
        s["DBSnapshotIdentifier"]
        for s in rds.describe_db_snapshots()["DBSnapshots"]
        if s["KmsKeyId"] != demo.key_arn
    } | {
        s["DBClusterSnapshotIdentifier"]
        for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
        if s["KmsKeyId"] != demo.key_arn
    }
    # Every snapshot left on aws/rds is listed (the demo's manual snapshot, the automated
    # backups of the instance and the cluster, the migration's own source snapshots), no other.
    assert set(findings) == on_old_key
    assert "orders-before-upgrade" in findings

    manual = findings["orders-before-upgrade"]
    assert manual.resource_arn == demo.snapshot_arn
    assert manual.severity is FINDING_CATALOGUE[RULE].severity
    assert manual.remediation == FINDING_CATALOGUE[RULE].remediation
    assert manual.evidence["snapshot_type"] == "manual"
    assert manual.evidence["expires"] is None
    assert manual.evidence["age_days"] == 3
    assert manual.evidence["database"] == demo.instance_arn
    assert manual.evidence["database_key"] == demo.key_arn
    assert manual.evidence["copy"] == demo.snapshot_arn + plan.options.new_suffix
    assert "never expires" in manual.message
    assert "alias/aws/rds" in manual.message
    assert "alias/orders" in manual.message

    automated = [f for f in findings.values() if f.evidence["snapshot_type"] == "automated"]
    assert {f.resource_type for f in automated} == {"rds:db-snapshot", "rds:db-cluster-snapshot"}
    for f in automated:
        created = datetime.fromisoformat(f.evidence["created"])
        # The demo databases keep 7 days of automated backups (BackupRetentionPeriod=7).
        assert f.evidence["expires"] == (created + timedelta(days=7)).isoformat()
        assert f"RDS deletes it on {(created + timedelta(days=7)).date()}" in f.message


def _snapshot(estate: ModuleType, name: str, rtype: str, key: Any, **details: Any) -> Any:
    cls = KeyClass.AWS_MANAGED if key.manager == "AWS" else KeyClass.CUSTOMER_MANAGED
    return estate.resource(name, rtype, cls, key.arn, details=details)


def test_retention_of_automated_aws_backup_and_unknown_snapshots(estate: ModuleType) -> None:
    created = estate.NOW - timedelta(days=10)
    db = attrs.evolve(
        estate.resource("db1", "rds:db-instance", KeyClass.CUSTOMER_MANAGED, estate.K_GOOD.arn),
        record={"DBInstanceIdentifier": "db1", "BackupRetentionPeriod": 14},
    )
    snaps = [
        _snapshot(
            estate,
            f"s-{kind}",
            "rds:db-snapshot",
            estate.K_AWS_RDS,
            snapshot_type=kind,
            source_instance="db1",
            created=created.isoformat(),
        )
        for kind in ("automated", "awsbackup", "shared")
    ]
    inventory = estate.inventory(
        resources=(db, *snaps), keys=(estate.K_GOOD, estate.K_AWS_RDS), errors=()
    )
    found = {
        f.evidence["name"]: f.evidence
        for f in cmkguard.audit(inventory, now=estate.NOW).by_rule(RULE)
    }
    assert found["s-automated"]["expires"] == (created + timedelta(days=14)).isoformat()
    assert found["s-automated"]["age_days"] == 10
    assert found["s-awsbackup"]["expires"] is None
    assert "AWS Backup" in found["s-awsbackup"]["retention"]
    assert "unknown" in found["s-shared"]["retention"]


def test_a_cluster_snapshot_copied_onto_a_cmk_is_found_by_its_source_arn(
    estate: ModuleType,
) -> None:
    old = _snapshot(
        estate,
        "nightly",
        "rds:db-cluster-snapshot",
        estate.K_AWS_RDS,
        snapshot_type="manual",
        source_cluster="gone",
    )
    copy = attrs.evolve(
        _snapshot(
            estate,
            "nightly-rekeyed",
            "rds:db-cluster-snapshot",
            estate.K_GOOD,
            snapshot_type="manual",
            source_cluster="gone",
        ),
        record={"SourceDBClusterSnapshotArn": old.arn},
    )
    unrelated = _snapshot(
        estate,
        "other",
        "rds:db-cluster-snapshot",
        estate.K_AWS_RDS,
        snapshot_type="manual",
        source_cluster="gone",
    )
    inventory = estate.inventory(
        resources=(old, copy, unrelated), keys=(estate.K_GOOD, estate.K_AWS_RDS), errors=()
    )
    (f,) = cmkguard.audit(inventory, now=estate.NOW).by_rule(RULE)
    assert f.resource_arn == old.arn
    assert f.evidence["copy"] == copy.arn
    assert "database" not in f.evidence  # its cluster is gone: only the copy moved


def test_a_snapshot_of_a_database_still_on_aws_rds_is_not_a_leftover(estate: ModuleType) -> None:
    db = estate.resource("db2", "rds:db-instance", KeyClass.AWS_MANAGED, estate.K_AWS_RDS.arn)
    snap = _snapshot(
        estate,
        "db2-snap",
        "rds:db-snapshot",
        estate.K_AWS_RDS,
        snapshot_type="manual",
        source_instance="db2",
    )
    inventory = estate.inventory(resources=(db, snap), keys=(estate.K_AWS_RDS,), errors=())
    report = cmkguard.audit(inventory, now=estate.NOW)
    assert report.by_rule(RULE) == ()
    assert [f.target for f in report.by_rule("rds-snapshot-aws-managed-key")] == [snap.arn]
