"""Invariants of every plan, over generated estates and options (Hypothesis, modest budget)."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from cmkguard import Inventory, KeyClass, MigrationOptions, MigrationPlan, plan_migration

from .test_plan import ACCOUNT, AWS_KEY, RECORD, REGION, _instance, _key, _secret, _snapshot

MUTATING = ("Modify", "Delete", "Update", "Put", "Remove", "Reboot", "Stop")


@st.composite
def estates(draw: Any) -> tuple[Inventory, dict[str, Any], list[str], MigrationOptions]:
    resources = []
    settings_: dict[str, Any] = {}
    for i in range(draw(st.integers(0, 4))):
        arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:db{i}"
        encrypted = draw(st.booleans())
        record = {
            **RECORD,
            "DBInstanceIdentifier": f"db{i}",
            "MultiAZ": draw(st.booleans()),
            "PerformanceInsightsEnabled": draw(st.booleans()),
            "MonitoringInterval": draw(st.sampled_from([0, 1, 5, 60])),
            "DeletionProtection": draw(st.booleans()),
            "StorageEncrypted": encrypted,
        }
        settings_[arn] = record
        resources.append(
            _instance(
                arn,
                f"db{i}",
                key_class=KeyClass.AWS_MANAGED if encrypted else KeyClass.UNENCRYPTED,
                key_arn=AWS_KEY.arn if encrypted else None,
            )
        )
    for i in range(draw(st.integers(0, 12))):
        resources.append(_snapshot(f"snap{i}"))
    if draw(st.booleans()):
        resources.append(_secret())
    options = MigrationOptions(
        cutover=draw(st.booleans()),
        delete_source_snapshots=draw(st.booleans()),
        reencrypt_secret_value=draw(st.booleans()),
    )
    inventory = Inventory(resources=resources, keys=[_key(), AWS_KEY])
    return inventory, settings_, [r.arn for r in resources], options


@settings(max_examples=60)
@given(estates())
def test_every_plan_keeps_its_invariants(
    case: tuple[Inventory, dict[str, Any], list[str], MigrationOptions],
) -> None:
    inventory, source_settings, arns, options = case
    plan = plan_migration(
        inventory, arns, target_key="alias/orders", options=options, source_settings=source_settings
    )
    assert plan.executable, plan.blocking
    # JSON round trip, same fingerprint
    again = MigrationPlan.from_json(plan.to_json())
    assert again == plan
    assert again.fingerprint == plan.fingerprint
    # ids unique, dependencies point backwards, phases never go back
    seen: set[str] = set()
    phases = ["prepare", "copy", "restore", "cutover", "cleanup"]
    last_phase = 0
    for step in plan.steps:
        assert step.id not in seen
        assert set(step.depends_on) <= seen
        seen.add(step.id)
        assert phases.index(step.phase) >= last_phase
        last_phase = phases.index(step.phase)
    # nothing before cutover modifies or deletes a source; destructive only where allowed
    sources = {a.rsplit(":", 1)[-1] for a in arns}
    for step in plan.steps:
        if step.phase in ("cutover", "cleanup"):
            continue
        assert not step.destructive
        if step.kind == "call" and step.operation.startswith(MUTATING):
            assert not {v for v in step.params.values() if isinstance(v, str)} & sources
    # every copy and restore goes to the target key; deletes only when asked
    for step in plan.steps:
        if step.operation in ("CopyDBSnapshot", "RestoreDBClusterFromSnapshot"):
            assert step.params["KmsKeyId"] == _key().arn
        if step.operation.startswith("Delete"):
            assert options.delete_source_snapshots
            assert step.destructive
    # at most five snapshot copies in flight
    in_flight = peak = 0
    for step in plan.steps:
        if step.operation == "CopyDBSnapshot":
            in_flight += 1
        elif step.operation == "DBSnapshotAvailable":
            in_flight = max(0, in_flight - 1)
        peak = max(peak, in_flight)
    assert peak <= 5
    renamed = options.cutover and any(":db:" in a for a in arns)
    has_secret = any(":secret:" in a for a in arns)
    assert (plan.rollback_plan() is not None) == (renamed or has_secret)


def test_options_round_trip() -> None:
    options = MigrationOptions(
        cutover=True, secret_consumers={"a": ["b", "c"]}, replica_keys={"eu-west-1": "k"}
    )
    assert MigrationOptions.from_dict(options.to_dict()) == options
    assert attrs.evolve(options, cutover=False).cutover is False
