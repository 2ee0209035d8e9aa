"""Cross-account snapshot sharing end to end on an emulated two-account setup.

The source account shares a snapshot through a CMK; the target account copies it onto its own
key; after revocation it cannot. The emulator enforces what AWS enforces (the `restore`
attribute, the key policy, the refusal to share `aws/rds` snapshots, `aws:CurrentTime`), see
`cmkguard.testing._share`; these tests assert on the exact requests sent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from botocore.exceptions import ClientError

import cmkguard
from cmkguard.errors import ConfigurationError
from cmkguard.migrate import MemoryJournal, RunState, WaiterSettings
from cmkguard.migrate.share import share_sid_prefix, share_statements

SOURCE = "111122223333"
TARGET = "444455556666"
REGION = "us-east-1"
FAST = WaiterSettings(delay=0, max_attempts=3)


@attrs.frozen
class Estate:
    source: Any
    target: Any
    key_arn: str
    target_key_arn: str
    aws_managed_snapshot: str
    cmk_snapshot: str
    cmk_cluster_snapshot: str


class Recorder:
    """Every request a session sends: (operation, params)."""

    def __init__(self, session: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        session.events.register("before-parameter-build.*.*", self)

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, json.loads(json.dumps(params, default=str))))

    def mutating(self) -> list[tuple[str, dict[str, Any]]]:
        return [(n, p) for n, p in self.calls if not n.startswith(("Describe", "List", "Get"))]


@pytest.fixture(name="estate")
def _estate(cmkguard_emulated_aws: Any) -> Estate:
    aws = cmkguard_emulated_aws
    source = aws.session(REGION)
    target = aws.session(REGION, account=TARGET)
    kms, rds = source.client("kms"), source.client("rds")
    key = kms.create_key(Description="sharing CMK")["KeyMetadata"]
    kms.create_alias(AliasName="alias/share", TargetKeyId=key["KeyId"])
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="password123",
        AllocatedStorage=20,
        StorageEncrypted=True,  # no KmsKeyId: aws/rds
    )
    rds.create_db_instance(
        DBInstanceIdentifier="billing",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="password123",
        AllocatedStorage=20,
        StorageEncrypted=True,
        KmsKeyId=key["Arn"],
    )
    rds.create_db_cluster(
        DBClusterIdentifier="ledger",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="password123",
        StorageEncrypted=True,
        KmsKeyId=key["Arn"],
    )
    old = rds.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-q4")
    cmk = rds.create_db_snapshot(DBInstanceIdentifier="billing", DBSnapshotIdentifier="billing-q4")
    csnap = rds.create_db_cluster_snapshot(
        DBClusterIdentifier="ledger", DBClusterSnapshotIdentifier="ledger-q4"
    )
    target_key = target.client("kms").create_key(Description="analysis")["KeyMetadata"]["Arn"]
    return Estate(
        source,
        target,
        key["Arn"],
        target_key,
        old["DBSnapshot"]["DBSnapshotArn"],
        cmk["DBSnapshot"]["DBSnapshotArn"],
        csnap["DBClusterSnapshot"]["DBClusterSnapshotArn"],
    )


def _scan(estate: Estate) -> cmkguard.Inventory:
    return cmkguard.scan(estate.source, regions=[REGION])


def _run(plan: cmkguard.MigrationPlan, session: Any) -> cmkguard.ExecutionReport:
    return cmkguard.execute(
        plan, session, journal=MemoryJournal(), dry_run=False, waiter_config=FAST
    )


def _receive(estate: Estate, arn: str, suffix: str) -> cmkguard.ExecutionReport:
    plan = cmkguard.plan_shared_snapshot_copy(arn, key=estate.target_key_arn, suffix=suffix)
    return _run(plan, estate.target)


def _policy(session: Any, key_arn: str) -> str:
    return str(session.client("kms").get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])


def _restore_values(session: Any, name: str) -> list[str]:
    result = session.client("rds").describe_db_snapshot_attributes(DBSnapshotIdentifier=name)
    attrs_ = result["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]
    return next(a["AttributeValues"] for a in attrs_ if a["AttributeName"] == "restore")


def test_share_of_an_aws_rds_snapshot_copies_shares_and_revokes(estate: Estate) -> None:
    inventory = _scan(estate)
    expires = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan = cmkguard.plan_snapshot_share(
        inventory,
        estate.aws_managed_snapshot,
        to_account=TARGET,
        key="alias/share",
        expires=expires,
    )
    assert plan.executable, plan.blocking
    old_policy = _policy(estate.source, estate.key_arn)
    shared = f"orders-q4-share-{TARGET}"
    shared_arn = f"arn:aws:rds:{REGION}:{SOURCE}:snapshot:{shared}"
    # Before the share the target account cannot copy anything.
    assert _receive(estate, shared_arn, "-early").state is RunState.FAILED

    recorder = Recorder(estate.source)
    report = _run(plan, estate.source)
    assert report.state is RunState.COMPLETED, report.error
    merged = plan.step(f"key/{estate.key_arn.rsplit('/', 1)[1]}/05-put-policy-share").params
    assert recorder.mutating() == [
        (
            "CopyDBSnapshot",
            {
                "SourceDBSnapshotIdentifier": "orders-q4",
                "TargetDBSnapshotIdentifier": shared,
                "KmsKeyId": estate.key_arn,
                "CopyTags": True,
            },
        ),
        (
            "PutKeyPolicy",
            {
                "KeyId": estate.key_arn,
                "PolicyName": "default",
                "Policy": merged["Policy"],
                "BypassPolicyLockoutSafetyCheck": False,
            },
        ),
        (
            "ModifyDBSnapshotAttribute",
            {
                "DBSnapshotIdentifier": shared,
                "AttributeName": "restore",
                "ValuesToAdd": [TARGET],
            },
        ),
    ]
    # The source snapshot was only read; the policy gained exactly the two share statements.
    assert ("CopyDBSnapshot", "orders-q4") not in [
        (n, p.get("TargetDBSnapshotIdentifier")) for n, p in recorder.calls
    ]
    statements = json.loads(_policy(estate.source, estate.key_arn))["Statement"]
    added = [s for s in statements if s["Sid"].startswith(share_sid_prefix(TARGET))]
    assert added == share_statements(TARGET, REGION, expires)
    assert all(s["Condition"]["DateLessThan"] == {"aws:CurrentTime": expires} for s in added)
    assert _restore_values(estate.source, shared) == [TARGET]

    received = _receive(estate, shared_arn, "-copy")
    assert received.state is RunState.COMPLETED, received.error
    copy = estate.target.client("rds").describe_db_snapshots(
        DBSnapshotIdentifier="orders-q4-share-444455556666-copy"
    )["DBSnapshots"][0]
    assert copy["KmsKeyId"] == estate.target_key_arn

    revoke = plan.rollback_plan()
    assert revoke is not None
    recorder.calls.clear()
    assert _run(revoke, estate.source).state is RunState.COMPLETED
    assert [n for n, _ in recorder.mutating()] == ["ModifyDBSnapshotAttribute", "PutKeyPolicy"]
    assert recorder.mutating()[0][1]["ValuesToRemove"] == [TARGET]
    assert _policy(estate.source, estate.key_arn) == old_policy
    assert _restore_values(estate.source, shared) == []
    after = _receive(estate, shared_arn, "-late")
    assert after.state is RunState.FAILED
    assert after.error_code == "DBSnapshotNotFound"
    # The shared copy and the original are both kept (revocation never deletes data).
    rds = estate.source.client("rds")
    for name in ("orders-q4", shared):
        assert rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"]


def test_cluster_snapshot_on_the_cmk_is_shared_without_a_copy(estate: Estate) -> None:
    plan = cmkguard.plan_snapshot_share(
        _scan(estate), estate.cmk_cluster_snapshot, to_account=TARGET, key=estate.key_arn
    )
    assert plan.executable
    assert not [s for s in plan.steps if s.operation.startswith("Copy")]
    assert [w.check for w in plan.warnings] == ["share-expiry"]
    recorder = Recorder(estate.source)
    assert _run(plan, estate.source).state is RunState.COMPLETED
    assert recorder.mutating()[-1] == (
        "ModifyDBClusterSnapshotAttribute",
        {
            "DBClusterSnapshotIdentifier": "ledger-q4",
            "AttributeName": "restore",
            "ValuesToAdd": [TARGET],
        },
    )
    assert _receive(estate, estate.cmk_cluster_snapshot, "-copy").state is RunState.COMPLETED
    copy = estate.target.client("rds").describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier="ledger-q4-copy"
    )["DBClusterSnapshots"][0]
    assert copy["KmsKeyId"] == estate.target_key_arn
    revoke = cmkguard.plan_share_revocation(
        _scan(estate), estate.cmk_cluster_snapshot, to_account=TARGET, key="alias/share"
    )
    assert _run(revoke, estate.source).state is RunState.COMPLETED
    assert _receive(estate, estate.cmk_cluster_snapshot, "-again").state is RunState.FAILED


def test_revocation_from_a_later_scan_keeps_other_statements(estate: Estate) -> None:
    plan = cmkguard.plan_snapshot_share(
        _scan(estate), estate.cmk_snapshot, to_account=TARGET, key="alias/share"
    )
    assert _run(plan, estate.source).state is RunState.COMPLETED
    kms = estate.source.client("kms")
    policy = json.loads(_policy(estate.source, estate.key_arn))
    extra = {
        "Sid": "AddedLater",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:role/analyst"},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    policy["Statement"].append(extra)
    kms.put_key_policy(KeyId=estate.key_arn, PolicyName="default", Policy=json.dumps(policy))
    # The share plan's own rollback sees the policy changed and stops before touching it.
    stale = _run(plan.rollback_plan(), estate.source)  # type: ignore[arg-type]
    assert stale.state is RunState.FAILED
    assert stale.error_code == "SourceChanged"
    revoke = cmkguard.plan_share_revocation(
        _scan(estate), estate.cmk_snapshot, to_account=TARGET, key="alias/share"
    )
    assert _run(revoke, estate.source).state is RunState.COMPLETED
    sids = [s["Sid"] for s in json.loads(_policy(estate.source, estate.key_arn))["Statement"]]
    assert "AddedLater" in sids
    assert not [s for s in sids if s.startswith(share_sid_prefix(TARGET))]
    assert _receive(estate, estate.cmk_snapshot, "-copy").state is RunState.FAILED


def test_a_policy_changed_after_planning_stops_the_share(estate: Estate) -> None:
    plan = cmkguard.plan_snapshot_share(
        _scan(estate), estate.cmk_snapshot, to_account=TARGET, key="alias/share"
    )
    policy = json.loads(_policy(estate.source, estate.key_arn))
    policy["Statement"][0]["Sid"] = "Renamed"
    estate.source.client("kms").put_key_policy(
        KeyId=estate.key_arn, PolicyName="default", Policy=json.dumps(policy)
    )
    report = _run(plan, estate.source)
    assert report.state is RunState.FAILED
    assert report.error_code == "SourceChanged"
    assert _restore_values(estate.source, "billing-q4") == []


def test_dry_run_sends_nothing(estate: Estate) -> None:
    plan = cmkguard.plan_snapshot_share(
        _scan(estate), estate.aws_managed_snapshot, to_account=TARGET, key="alias/share"
    )
    recorder = Recorder(estate.source)
    report = cmkguard.execute(plan, estate.source, journal=MemoryJournal())
    assert report.dry_run
    assert recorder.calls == []
    assert cmkguard.MigrationPlan.from_json(plan.to_json()) == plan


# -- what the emulator enforces, as AWS does ---------------------------------------------------


def _code(call: Any) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def test_emulator_refuses_to_share_aws_rds_snapshots_and_public_encrypted_ones(
    estate: Estate,
) -> None:
    rds = estate.source.client("rds")
    share = rds.modify_db_snapshot_attribute
    assert (
        _code(
            lambda: share(
                DBSnapshotIdentifier="orders-q4", AttributeName="restore", ValuesToAdd=[TARGET]
            )
        )
        == "InvalidParameterValue"
    )
    assert (
        _code(
            lambda: share(
                DBSnapshotIdentifier="billing-q4", AttributeName="restore", ValuesToAdd=["all"]
            )
        )
        == "InvalidParameterValue"
    )


def test_emulator_needs_the_key_policy_and_honours_its_expiry(estate: Estate) -> None:
    rds, kms = estate.source.client("rds"), estate.source.client("kms")
    rds.modify_db_snapshot_attribute(
        DBSnapshotIdentifier="billing-q4", AttributeName="restore", ValuesToAdd=[TARGET]
    )
    target_rds = estate.target.client("rds")

    def copy(name: str) -> Any:
        return target_rds.copy_db_snapshot(
            SourceDBSnapshotIdentifier=estate.cmk_snapshot,
            TargetDBSnapshotIdentifier=name,
            KmsKeyId=estate.target_key_arn,
        )

    assert _code(lambda: copy("no-key-access")) == "KMSKeyNotAccessibleFault"
    policy = json.loads(_policy(estate.source, estate.key_arn))
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    expired = {
        **policy,
        "Statement": [*policy["Statement"], *share_statements(TARGET, REGION, past)],
    }
    kms.put_key_policy(KeyId=estate.key_arn, PolicyName="default", Policy=json.dumps(expired))
    assert _code(lambda: copy("expired")) == "KMSKeyNotAccessibleFault"
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    valid = {
        **policy,
        "Statement": [*policy["Statement"], *share_statements(TARGET, REGION, future)],
    }
    kms.put_key_policy(KeyId=estate.key_arn, PolicyName="default", Policy=json.dumps(valid))
    assert copy("allowed")["DBSnapshot"]["KmsKeyId"] == estate.target_key_arn


# -- planning: bad input and blocked plans -----------------------------------------------------


def test_bad_input_is_a_configuration_error(estate: Estate) -> None:
    inventory = _scan(estate)
    share = cmkguard.plan_snapshot_share
    with pytest.raises(ConfigurationError, match="12-digit"):
        share(inventory, estate.cmk_snapshot, to_account="4444", key="alias/share")
    with pytest.raises(ConfigurationError, match="ISO 8601"):
        share(inventory, estate.cmk_snapshot, to_account=TARGET, key="alias/share", expires="soon")
    with pytest.raises(ConfigurationError, match="in the past"):
        share(
            inventory,
            estate.cmk_snapshot,
            to_account=TARGET,
            key="alias/share",
            expires="2020-01-01",
        )
    with pytest.raises(ConfigurationError, match="no snapshot"):
        share(inventory, [], to_account=TARGET, key="alias/share")
    with pytest.raises(ConfigurationError, match="key ARN"):
        cmkguard.plan_shared_snapshot_copy(estate.cmk_snapshot, key="alias/mine")


def test_blocked_plans_name_the_problem(estate: Estate) -> None:
    inventory = _scan(estate)
    missing = f"arn:aws:rds:{REGION}:{SOURCE}:snapshot:nope"

    def checks(**kwargs: Any) -> set[str]:
        plan = cmkguard.plan_snapshot_share(inventory, to_account=TARGET, **kwargs)
        return {i.check for i in plan.blocking}

    assert checks(snapshots=missing, key="alias/share") == {"resource-in-inventory"}
    assert checks(snapshots=estate.cmk_snapshot, key="alias/aws/rds") == {"target-key"}
    assert checks(snapshots=estate.cmk_snapshot, key="alias/none") == {"target-key"}
    own = cmkguard.plan_snapshot_share(
        inventory, estate.cmk_snapshot, to_account=SOURCE, key="alias/share"
    )
    assert {i.check for i in own.blocking} == {"share-account"}
    with pytest.raises(cmkguard.PreflightError):
        _run(own, estate.source)


def test_a_public_key_policy_blocks_the_share(estate: Estate) -> None:
    inventory = _scan(estate)
    key = inventory.keys[estate.key_arn]
    public = json.loads(key.policy or "{}")
    public["Statement"].append(
        {
            "Sid": "Oops",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    keys = {**inventory.keys, key.arn: attrs.evolve(key, policy=json.dumps(public))}
    tampered = attrs.evolve(inventory, keys=keys)
    plan = cmkguard.plan_snapshot_share(
        tampered, estate.cmk_snapshot, to_account=TARGET, key="alias/share"
    )
    assert "share-key-policy-public" in {i.check for i in plan.blocking}


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_share_writes_a_plan_and_rejects_bad_input(
    estate: Estate, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from cmkguard.cli import main

    saved = tmp_path / "inventory.json"
    saved.write_text(_scan(estate).to_json())
    out = tmp_path / "share.json"
    base = ["migrate", "share", estate.aws_managed_snapshot, "--from-inventory", str(saved)]
    assert main([*base, "--to-account", TARGET, "--key", "alias/share", "-o", str(out)]) == 0
    plan = cmkguard.MigrationPlan.from_json(out.read_text())
    assert [s.operation for s in plan.steps][-1] == "ModifyDBSnapshotAttribute"
    capsys.readouterr()
    for extra, message in (
        (["--to-account", "12", "--key", "alias/share"], "12-digit"),
        (["--to-account", TARGET, "--key", "alias/share", "--expires", "31/03/2027"], "ISO 8601"),
    ):
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    unknown = f"arn:aws:rds:{REGION}:{SOURCE}:snapshot:nope"
    args = ["migrate", "share", unknown, "--from-inventory", str(saved)]
    assert main([*args, "--to-account", TARGET, "--key", "alias/share"]) == 2
    assert "not in the inventory" in capsys.readouterr().err
    revoke = ["migrate", "revoke-share", estate.cmk_snapshot, "--from-inventory", str(saved)]
    assert main([*revoke, "--to-account", TARGET, "--key", "alias/share"]) == 0
    receive = ["migrate", "receive-share", estate.cmk_snapshot, "--key", estate.target_key_arn]
    assert main(receive) == 0


# -- the sharing KPI ---------------------------------------------------------------------------


def test_share_activity_counts_completed_expired_revoked_and_planned_shares(
    estate: Estate, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from cmkguard.cli import main
    from cmkguard.migrate import JsonFileJournal

    expires = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
    inventory = _scan(estate)
    share = cmkguard.plan_snapshot_share(
        inventory, estate.cmk_snapshot, to_account=TARGET, key="alias/share", expires=expires
    )
    pending = cmkguard.plan_snapshot_share(
        inventory, estate.cmk_cluster_snapshot, to_account=TARGET, key="alias/share"
    )
    journal = JsonFileJournal(tmp_path / "share.json")
    run = cmkguard.execute(share, estate.source, journal=journal, dry_run=False, waiter_config=FAST)
    assert run.completed, run.error
    # Running the same plan again (a resume) is not a second sharing operation.
    cmkguard.execute(share, estate.source, journal=journal, dry_run=False, waiter_config=FAST)

    activity = cmkguard.share_activity([tmp_path], [share, pending])
    assert (activity.completed, activity.active, activity.planned) == (1, 1, 1)
    assert (activity.revoked, activity.expired, activity.operations) == (0, 0, 1)
    done = next(s for s in activity.shares if s.shared_at is not None)
    assert (done.snapshot, done.account, done.region, done.cluster) == (
        "billing-q4",
        TARGET,
        REGION,
        False,
    )
    assert done.expires == expires
    caller = estate.source.client("sts").get_caller_identity()["Arn"]
    assert done.shared_by == caller
    later = cmkguard.share_activity([journal.path], now=expires + timedelta(seconds=1))
    assert (later.expired, later.active) == (1, 0)

    revoke = share.rollback_plan()
    assert revoke is not None
    revoked = cmkguard.execute(
        revoke, estate.source, journal=tmp_path / "revoke.json", dry_run=False, waiter_config=FAST
    )
    assert revoked.completed, revoked.error
    activity = cmkguard.share_activity([tmp_path])
    assert (activity.completed, activity.revoked, activity.active) == (1, 1, 0)
    assert activity.shares[0].revoked_by == caller

    assert main(["migrate", "shares", str(tmp_path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["completed"], document["revoked"]) == (1, 1)
    assert document["shares"][0]["status"] == "revoked"
    assert main(["migrate", "shares", str(tmp_path / "share.json")]) == 0
    assert "1 completed (1 active" in capsys.readouterr().out
    (tmp_path / "torn.log.jsonl").write_text('{"event": "run-start"}\nnot json\n{"event"')
    assert main(["migrate", "shares", str(tmp_path)]) == 2
    assert "torn.log.jsonl:2: not a JSON line" in capsys.readouterr().err
