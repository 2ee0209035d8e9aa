"""A mixed estate end to end: plan, review, execute (from the plan's JSON), then a new scan."""

from __future__ import annotations

from pathlib import Path

import cmkguard
from cmkguard import KeyClass, MigrationOptions, MigrationPlan

from .conftest import APP_ROLE, FAST, REGION, Estate, inventory_and_settings


def test_mixed_estate_ends_on_the_cmk_in_a_new_scan(estate: Estate, tmp_path: Path) -> None:
    arns = [
        estate.instance_arn,
        estate.plain_instance_arn,
        estate.cluster_arn,
        estate.snapshot_arn,
        estate.secret_arn,
    ]
    inventory, settings = inventory_and_settings(estate, arns)
    before = {r.arn: r.key_class for r in inventory.resources if r.arn in arns}
    assert before[estate.plain_instance_arn] is KeyClass.UNENCRYPTED
    assert before[estate.instance_arn] is KeyClass.AWS_MANAGED
    plan = cmkguard.plan_migration(
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
    # what is executed is what was reviewed and saved
    saved = tmp_path / "plan.json"
    saved.write_text(plan.to_json())
    reviewed = MigrationPlan.from_json(saved.read_text())
    report = cmkguard.execute(
        reviewed,
        estate.session,
        journal=tmp_path / "journal.json",
        dry_run=False,
        waiter_config=FAST,
    )
    assert report.completed, str(report)
    assert report.rollback_plan is not None

    after = cmkguard.scan(estate.session, regions=[REGION])
    by_arn = {r.arn: r for r in after.resources}
    snapshot_copy = estate.snapshot_arn + "-cmk"
    for arn in [*arns, snapshot_copy]:
        if arn == estate.snapshot_arn:
            continue  # the original snapshot is kept, on its old key
        assert by_arn[arn].key_class is KeyClass.CUSTOMER_MANAGED, arn
        assert by_arn[arn].key_arn == estate.key_arn, arn
    assert by_arn[estate.snapshot_arn].key_class is KeyClass.AWS_MANAGED
    # the originals are kept, renamed, untouched
    old = by_arn[estate.instance_arn.replace(":db:orders", ":db:orders-pre-cmk")]
    assert old.key_class is KeyClass.AWS_MANAGED
    legacy_old = by_arn[estate.plain_instance_arn + "-pre-cmk"]
    assert legacy_old.key_class is KeyClass.UNENCRYPTED
    assert by_arn[estate.cluster_arn + "-pre-cmk"].key_class is KeyClass.AWS_MANAGED
