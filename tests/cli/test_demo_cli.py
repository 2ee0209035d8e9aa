"""``cmkguard demo migrate``: the whole migration on one emulated account, from one command.

The demo starts its own emulator (no fixture): what a newcomer runs from a clean clone. The
assertions read the documents it leaves behind (inventories, plan, journal, execution logs), so
"it printed something" is never what passes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cmkguard import Inventory, KeyClass, MigrationPlan
from cmkguard.cli import main


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_demo_migrates_rescans_and_rolls_back(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    # A process of its own, as a user runs it (moto's state is per process: no other test's
    # emulator can leak into the demo's account).
    done = subprocess.run(
        [sys.executable, "-m", "cmkguard", "demo", "migrate", "--dir", str(work), "--rollback"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for stage in ("1/7", "2/7", "3/7", "4/7", "5/7", "6/7", "7/7"):
        assert f"== {stage} " in out
    # The audit's word on what is not done: the old snapshots stay on aws/rds.
    leftovers = out.split("still on aws/rds", 1)[1].split("== 7/7", 1)[0]
    assert "orders-before-upgrade " in leftovers
    assert "never expires (manual)" in leftovers
    before = Inventory.from_json((work / "inventory-before.json").read_text())
    after = Inventory.from_json((work / "inventory-after.json").read_text())
    plan = MigrationPlan.from_json((work / "plan.json").read_text())
    assert plan.executable
    (key_arn,) = plan.target_key_arns.values()
    for arn in plan.resources:
        assert before.resource(arn).key_class is KeyClass.AWS_MANAGED, arn
    # After the cutover the re-keyed instance and cluster carry the originals' names (ARNs),
    # the secret is re-keyed in place, the snapshot has a re-keyed copy.
    by_name = {r.name: r for r in after.resources}
    for name in ("orders", "ledger", "ledger-1", "ledger-2", "orders/api-token"):
        assert by_name[name].key_arn == key_arn, name
    assert by_name["orders-before-upgrade-cmk"].key_arn == key_arn
    assert by_name["orders-pre-cmk"].key_class is KeyClass.AWS_MANAGED  # kept, untouched
    journal = json.loads((work / "journal.json").read_text())
    assert journal["plan_fingerprint"] == plan.fingerprint
    log = _lines(work / "journal.log.jsonl")
    assert {entry["step"] for entry in log if entry.get("outcome") == "done"} >= {
        s.id for s in plan.steps
    }
    rollback = _lines(work / "rollback-journal.log.jsonl")
    rollback_plan = MigrationPlan.from_json((work / "rollback-plan.json").read_text())
    assert rollback_plan.is_rollback
    assert {e["step"] for e in rollback if e.get("outcome") == "done"} >= {
        s.id for s in rollback_plan.steps
    }
    # No password of the demo databases reached any document.
    for path in work.iterdir():
        assert "demo-password-1" not in path.read_text(encoding="utf-8"), path.name


def test_the_demo_refuses_a_directory_that_holds_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "journal.json").write_text("{}")
    assert main(["demo", "migrate", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "already holds a demo run" in err
    assert len(err.strip().splitlines()) == 1


def test_the_demo_keeps_to_its_own_state_beside_another_emulator(
    cmkguard_emulated_aws: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from typing import Any

    aws: Any = cmkguard_emulated_aws
    # What the demo seeds, already there in the other emulator's account.
    kms, rds = aws.client("kms"), aws.client("rds")
    key = kms.create_key(Description="theirs")["KeyMetadata"]
    kms.create_alias(AliasName="alias/orders", TargetKeyId=key["KeyId"])
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="theirs",
        MasterUserPassword="their-password-1",
        AllocatedStorage=20,
        StorageEncrypted=True,
    )
    before = rds.describe_db_instances()["DBInstances"]
    before_snapshots = rds.describe_db_snapshots()["DBSnapshots"]

    assert main(["demo", "migrate", "--dir", str(tmp_path / "demo"), "-q"]) == 0
    assert "account 9" in capsys.readouterr().out  # an account of the demo's own
    plan = MigrationPlan.from_json((tmp_path / "demo" / "plan.json").read_text())
    assert aws.primary_account not in {arn.split(":")[4] for arn in plan.resources}
    # The other emulator's resources are as they were: no rename, no re-key, no new key.
    after = rds.describe_db_instances()["DBInstances"]
    assert {k: v for k, v in after[0].items() if k != "LatestRestorableTime"} == {
        k: v for k, v in before[0].items() if k != "LatestRestorableTime"
    }
    assert len(after) == 1
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/orders"] == key["KeyId"]
    assert rds.describe_db_snapshots()["DBSnapshots"] == before_snapshots
