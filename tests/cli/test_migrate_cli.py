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
    for step in data["steps"]:  # each step once, as it ends
        assert captured.err.count(f" done {step['id']}") == 1, step["id"]
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


def test_dry_run_of_a_blocked_plan_says_blocked_and_exits_1(
    small_estate: dict[str, str],
    cmkguard_emulated_aws: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cmkguard_emulated_aws.session("us-east-1").client("kms").disable_key(
        KeyId=small_estate["key"].rsplit("/", 1)[1]
    )
    plan_file = tmp_path / "plan.json"
    assert _plan(small_estate, plan_file) == 1
    capsys.readouterr()
    run = ["migrate", "run", str(plan_file), "--journal", str(tmp_path / "j.json")]
    assert main([*run, "--endpoint-url", small_estate["endpoint"]]) == 1
    captured = capsys.readouterr()
    assert "BLOCKED: 1 blocking pre-flight item(s): key-enabled" in captured.out
    assert not (tmp_path / "j.json").exists()  # a dry run writes no journal
    assert captured.err.startswith("BLOCKED:")
    assert "--execute would refuse it" in captured.out
    assert "add --execute" not in captured.out
    # Executing it is the gate failing too (exit 1), one line, nothing sent or journaled.
    fast = ["--waiter-delay", "0", "--waiter-max-attempts", "3"]
    assert main([*run, "--endpoint-url", small_estate["endpoint"], *fast, "--execute"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("BLOCKED:")
    assert "key-enabled" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "j.json").exists()


def test_only_signed_plans_run_when_a_signature_is_required(
    small_estate: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan_file = tmp_path / "plan.json"
    assert _plan(small_estate, plan_file) == 0
    run = ["migrate", "run", str(plan_file), "--journal", str(tmp_path / "j.json")]
    endpoint = ["--endpoint-url", small_estate["endpoint"], "--require-signature"]
    assert main([*run, *endpoint]) == 2  # no key in the environment
    assert "CMKGUARD_PLAN_SIGNING_KEY" in capsys.readouterr().err
    monkeypatch.setenv("CMKGUARD_PLAN_SIGNING_KEY", "reviewer-secret")
    assert main([*run, *endpoint]) == 2
    assert "not signed" in capsys.readouterr().err
    assert main(["migrate", "sign", str(plan_file)]) == 0
    assert "reviewer-secret" not in plan_file.read_text()
    capsys.readouterr()
    assert main([*run, *endpoint]) == 0
    assert "dry run: nothing was changed" in capsys.readouterr().out
    monkeypatch.setenv("CMKGUARD_PLAN_SIGNING_KEY", "someone-else")
    assert main([*run, *endpoint]) == 2
    assert "signature does not match" in capsys.readouterr().err


def test_verbose_logs_steps_quiet_shows_no_progress_and_a_missing_journal_dir_exits_2(
    small_estate: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.json"
    assert _plan(small_estate, plan_file) == 0
    capsys.readouterr()
    fast = ["--waiter-delay", "0", "--waiter-max-attempts", "3", "--execute"]
    endpoint = ["--endpoint-url", small_estate["endpoint"]]
    missing = ["migrate", "run", str(plan_file), "--journal", str(tmp_path / "nope" / "j.json")]
    assert main([*missing, *endpoint, *fast]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*missing, *endpoint]) == 2  # the dry run finds it too, before anything else
    err = capsys.readouterr().err
    assert "does not exist" in err
    assert len(err.strip().splitlines()) == 1
    quiet = ["migrate", "run", str(plan_file), "--journal", str(tmp_path / "q.json"), "-q"]
    assert main([*quiet, *endpoint]) == 0  # a dry run (the real run comes next)
    captured = capsys.readouterr()
    assert " 1/" not in captured.err
    assert "[1/" not in captured.err
    assert captured.out.startswith("execution dry-run")
    verbose = ["migrate", "run", str(plan_file), "--journal", str(tmp_path / "v.json"), "-v"]
    try:
        assert main([*verbose, *endpoint, *fast]) == 0
    finally:
        import logging

        logging.getLogger("cmkguard").handlers.clear()
        logging.getLogger("cmkguard").setLevel(logging.NOTSET)
    captured = capsys.readouterr()
    err = captured.err
    assert captured.out.startswith("execution completed")
    assert "INFO cmkguard.migrate: executing plan" in err
    assert err.count(" 1/") + err.count("[1/") == 1  # one progress line per step, the list once


def test_plan_takes_a_secrets_name_or_partial_arn_and_names_the_full_arn(
    small_estate: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partial = small_estate["secret"].rsplit("-", 1)[0]
    for reference in ("shop", partial):
        out = tmp_path / "plan.json"
        argv = ["migrate", "plan", reference, "--key", "alias/cli", "--regions", "us-east-1"]
        endpoint = ["--endpoint-url", small_estate["endpoint"]]
        assert main([*argv, *endpoint, "-o", str(out)]) == 0, capsys.readouterr().err
        data = json.loads(out.read_text())
        assert data["resources"] == [small_estate["secret"]]
    argv = ["migrate", "plan", "shopp", "--key", "alias/cli", "--regions", "us-east-1"]
    assert main([*argv, "--endpoint-url", small_estate["endpoint"]]) == 2
    err = capsys.readouterr().err
    assert "'shopp' is not an ARN, and no scanned secret has that name" in err


def test_plan_from_the_scan_alone_with_no_capture_is_executable(
    small_estate: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.json"
    assert _plan(small_estate, plan_file, "--no-capture") == 0, capsys.readouterr().err
    data = json.loads(plan_file.read_text())
    restore = next(s for s in data["steps"] if s["operation"] == "RestoreDBInstanceFromDBSnapshot")
    assert restore["params"]["BackupRetentionPeriod"] == 4  # from the scan's record
