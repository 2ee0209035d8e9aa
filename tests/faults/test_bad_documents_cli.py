"""Hostile files given to the CLI: each is one line on stderr and exit code 2, never a
traceback (deeply nested inventories and plans, non-plans, structurally wrong journals). A journal
path in a missing directory is tested on `execute` (tests/migrate/test_journal.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmkguard.cli import main
from tests.migrate.test_plan import RECORD, _instance, _plan

DEEP = "[" * 100_000 + "]" * 100_000
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.fixture(name="plan_file")
def _plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(_plan(_instance(), settings={_instance().arn: RECORD}).to_json())
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (DEEP, "nested too deeply"),
        ("not json", "not JSON"),
        ('{"schema_version": 1, "findings": []}', "not a"),
    ],
    ids=["deep", "not-json", "an-audit-report"],
)
def test_a_bad_plan_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    plan = tmp_path / "bad-plan.json"
    plan.write_text(text)
    _one_line_exit_2(
        capsys, ["migrate", "run", str(plan), "--journal", str(tmp_path / "j")], message
    )


def test_a_deep_inventory_for_a_plan_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = tmp_path / "deep.json"
    inventory.write_text(DEEP)
    argv = ["migrate", "plan", KEY, "--key", "alias/target", "--from-inventory", str(inventory)]
    _one_line_exit_2(capsys, argv, "nested deeper than")


@pytest.mark.parametrize("steps", ["abc", 5, [1, 2]], ids=["a-string", "a-number", "a-list"])
def test_a_structurally_wrong_journal_is_one_line_exit_2(
    tmp_path: Path, plan_file: Path, capsys: pytest.CaptureFixture[str], steps: object
) -> None:
    plan = json.loads(plan_file.read_text())
    journal = tmp_path / "journal.json"
    journal.write_text(json.dumps({"plan_fingerprint": plan["fingerprint"], "steps": steps}))
    argv = ["migrate", "run", str(plan_file), "--journal", str(journal)]
    _one_line_exit_2(capsys, argv, "not a cmkguard journal")
