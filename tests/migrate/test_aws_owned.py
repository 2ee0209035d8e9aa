"""An Aurora cluster on an AWS owned key (the default since 2026-02-18) is re-keyed like one on
aws/rds: snapshot, restore with the CMK, members re-created; a new scan finds it on the CMK."""

from __future__ import annotations

from pathlib import Path

import cmkguard
from cmkguard import KeyClass, MigrationOptions

from .conftest import FAST, REGION, Estate, inventory_and_settings


def test_an_aws_owned_cluster_ends_on_the_cmk(estate: Estate, tmp_path: Path) -> None:
    rds = estate.session.client("rds")
    arn = rds.create_db_cluster(
        DBClusterIdentifier="events",
        Engine="aurora-mysql",
        MasterUsername="admin",
        MasterUserPassword="password123",
        BackupRetentionPeriod=3,
    )["DBCluster"]["DBClusterArn"]
    rds.create_db_instance(
        DBInstanceIdentifier="events-1",
        DBInstanceClass="db.r5.large",
        Engine="aurora-mysql",
        DBClusterIdentifier="events",
    )
    inventory, settings = inventory_and_settings(estate, [arn])
    before = next(r for r in inventory.resources if r.arn == arn)
    assert before.key_class is KeyClass.AWS_OWNED
    assert before.key_arn is None
    assert cmkguard.audit(inventory).by_rule("resource-aws-owned-key")

    plan = cmkguard.plan_migration(
        inventory,
        arn,
        target_key="alias/orders",
        options=MigrationOptions(cutover=True),
        source_settings=settings,
    )
    assert plan.executable, plan.blocking
    restore = [s for s in plan.steps if s.operation == "RestoreDBClusterFromSnapshot"]
    assert restore
    assert restore[0].params["KmsKeyId"] == estate.key_arn

    report = cmkguard.execute(
        plan, estate.session, journal=tmp_path / "j.json", dry_run=False, waiter_config=FAST
    )
    assert report.completed, str(report)
    after = {r.arn: r for r in cmkguard.scan(estate.session, regions=[REGION]).resources}
    assert after[arn].key_class is KeyClass.CUSTOMER_MANAGED
    assert after[arn].key_arn == estate.key_arn
    # The original, renamed, is kept on its AWS owned key.
    kept = [r for r in after.values() if r.name.startswith("events") and r.name != "events"]
    assert any(r.key_class is KeyClass.AWS_OWNED for r in kept)
