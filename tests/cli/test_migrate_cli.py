"""``cmkguard migrate plan`` / ``cmkguard migrate run`` against the emulated account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cmkguard.cli import main

ACCOUNT = "111122223333"


@pytest.fixture(name="small_estate")
def _small_estate(cmkguard_emulated_aws: Any) -> dict[str, str]:
    session = cmkguard_emulated_aws.session("us-east-1")
    kms = session.client("kms")
    key = kms.create_key(Description="cli CMK")["KeyMetadata"]
    kms.create_alias(AliasName="alias/cli", TargetKeyId=key["KeyId"])
    db = session.client("rds").create_db_instance(
        DBInstanceIdentifier="shop",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="password123",
        AllocatedStorage=20,
        StorageEncrypted=True,
        BackupRetentionPeriod=4,
    )["DBInstance"]
    secret = session.client("secretsmanager").create_secret(Name="shop", SecretString="x")
    return {
        "endpoint": cmkguard_emulated_aws.endpoint_url,
        "key": key["Arn"],
        "db": db["DBInstanceArn"],
        "secret": secret["ARN"],
    }


def _plan(estate: dict[str, str], out: Path, *extra: str) -> int:
    return main(
        [
            "migrate",
            "plan",
            estate["db"],
            estate["secret"],
            "--key",
            "alias/cli",
            "--endpoint-url",
            estate["endpoint"],
            "--regions",
            "us-east-1",
            "-o",
            str(out),
            *extra,
        ]
    )


def test_plan_then_dry_run_then_execute_then_resume(
    small_estate: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.json"
    assert _plan(small_estate, plan_file, "--cutover") == 0
    out = capsys.readouterr().out
    assert "Phase cutover:" in out
    assert "RestoreDBInstanceFromDBSnapshot" in out
    data = json.loads(plan_file.read_text())
    assert data["target_key_arns"] == {"us-east-1": small_estate["key"]}
    restore = next(s for s in data["steps"] if s["operation"] == "RestoreDBInstanceFromDBSnapshot")
    assert restore["params"]["BackupRetentionPeriod"] == 4  # captured from the source

    journal = tmp_path / "journal.json"
    run = ["migrate", "run", str(plan_file), "--journal", str(journal)]
    endpoint = ["--endpoint-url", small_estate["endpoint"]]
    assert main([*run, *endpoint]) == 0
    out = capsys.readouterr().out
    assert "dry run: nothing was changed" in out
    assert "rds.CopyDBSnapshot(" in out
    assert not journal.exists()

    fast = ["--waiter-delay", "0", "--waiter-max-attempts", "3"]
    assert main([*run, *endpoint, *fast, "--execute"]) == 0
    captured = capsys.readouterr()
    assert f"[1/{len(data['steps'])}]" in captured.err  # progress per step
    assert "completed" in captured.out
    assert main([*run, *endpoint, *fast, "--execute"]) == 0  # resume of a finished run
    assert "skipped" in capsys.readouterr().out


def test_blocking_preflight_exits_1(
    small_estate: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "migrate",
            "plan",
            small_estate["secret"],
            "--key",
            "alias/missing",
            "--endpoint-url",
            small_estate["endpoint"],
            "--regions",
            "us-east-1",
        ]
    )
    assert code == 1
    assert "BLOCKING" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["migrate", "run", "missing.json", "--journal", "j.json"],
        ["migrate", "plan", "arn:aws:rds:us-east-1:1:db:x", "--key", "k", "--consumer", "oops"],
        [
            "migrate",
            "plan",
            "arn:aws:rds:us-east-1:1:db:x",
            "--key",
            "k",
            "--from-inventory",
            "nope.json",
        ],
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("cmkguard: error:")
    assert len(err.strip().splitlines()) == 1


def test_a_modified_plan_or_another_plans_journal_is_refused(
    small_estate: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.json"
    assert _plan(small_estate, plan_file) == 0
    data = json.loads(plan_file.read_text())
    data["steps"][1]["params"]["DBSnapshotIdentifier"] = "tampered"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))
    assert main(["migrate", "run", str(tampered), "--journal", str(tmp_path / "j")]) == 2
    assert "modified" in capsys.readouterr().err
    journal = tmp_path / "other.journal.json"
    journal.write_text(json.dumps({"plan_fingerprint": "0" * 64, "steps": {}}))
    assert main(["migrate", "run", str(plan_file), "--journal", str(journal)]) == 2
    assert "journal belongs to plan" in capsys.readouterr().err


def test_an_arn_that_does_not_exist_is_a_blocking_item_not_a_traceback(
    small_estate: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    ghost = small_estate["db"].replace(":db:shop", ":db:ghost")
    code = main(
        [
            "migrate",
            "plan",
            ghost,
            "--key",
            "alias/cli",
            "--endpoint-url",
            small_estate["endpoint"],
            "--regions",
            "us-east-1",
        ]
    )
    assert code == 1
    assert "not in the inventory" in capsys.readouterr().out
