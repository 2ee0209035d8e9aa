"""``cmkguard audit``: formats, the --fail-on gate, saved inventories and reports, bad input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from cmkguard.auditing import AuditReport
from cmkguard.cli import main


@pytest.fixture(name="inventory_file")
def _inventory_file(tmp_path: Path, estate: ModuleType) -> Path:
    path = tmp_path / "inventory.json"
    path.write_text(estate.inventory().to_json())
    return path


@pytest.fixture(name="clean_inventory_file")
def _clean_inventory_file(tmp_path: Path, estate: ModuleType) -> Path:
    e = estate
    path = tmp_path / "clean.json"
    path.write_text(e.inventory(resources=(e.R_GOOD,), keys=(e.K_GOOD,), errors=()).to_json())
    return path


def test_table_is_grouped_by_severity_with_remediation(
    inventory_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The reference inventory has a scan error: incomplete, exit 3 (the contract).
    assert main(["audit", "--from-inventory", str(inventory_file)]) == 3
    out = capsys.readouterr().out
    headings = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert headings[:5] == ["CRITICAL (2)", "HIGH (1)", "MEDIUM (12)", "LOW (3)", "INFO (3)"]
    assert "  resource-unencrypted  arn:aws:rds:us-east-1:111122223333:db:db-plain" in out
    assert "    fix: Encrypt it:" in out
    assert "CMK coverage 61.1%" in out


@pytest.mark.parametrize(("level", "code"), [("critical", 1), ("low", 1), ("info", 1)])
def test_fail_on_trips_when_a_finding_is_at_or_above(
    inventory_file: Path, level: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--from-inventory", str(inventory_file), "--fail-on", level]) == code
    assert f"at or above {level}" in capsys.readouterr().err


def test_fail_on_passes_on_a_clean_estate(clean_inventory_file: Path) -> None:
    assert main(["audit", "--from-inventory", str(clean_inventory_file), "--fail-on", "info"]) == 0


def test_suppressed_findings_do_not_trip_the_gate(
    clean_inventory_file: Path, inventory_file: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[suppressions]]\nrule_id = "*"\nresource = "*"\nreason = "accepted"\n'
        "expires = 2999-01-01\n"
    )
    args = ["audit", "--from-inventory", str(inventory_file), "--policy", str(policy)]
    assert main([*args, "--fail-on", "low"]) == 3  # the gate passes; the inventory is incomplete
    assert main([*args, "--fail-on", "low", "--allow-incomplete"]) == 0


@pytest.mark.parametrize("fmt", ["json", "csv", "ocsf", "asff", "sarif"])
def test_formats_write_parseable_output(inventory_file: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out.{fmt}"
    args = ["audit", "--from-inventory", str(inventory_file), "--format", fmt, "-o", str(out)]
    assert main([*args, "--allow-incomplete"]) == 0
    text = out.read_text()
    if fmt == "csv":
        assert len(list(csv.DictReader(io.StringIO(text)))) == 21
    elif fmt == "json":
        assert len(AuditReport.from_json(text).findings) == 21
    elif fmt == "sarif":
        assert len(json.loads(text)["runs"][0]["results"]) == 21
    else:
        assert len(json.loads(text)) == 21


def test_previous_report_keeps_first_seen(inventory_file: Path, tmp_path: Path) -> None:
    first = tmp_path / "day1.json"
    assert (
        main(
            ["audit", "--from-inventory", str(inventory_file), "--format", "json", "-o", str(first)]
        )
        == 3
    )
    second = tmp_path / "day2.json"
    args = ["audit", "--from-inventory", str(inventory_file), "--previous", str(first)]
    assert main([*args, "--format", "json", "-o", str(second), "--allow-incomplete"]) == 0
    old = AuditReport.from_json(first.read_text())
    new = AuditReport.from_json(second.read_text())
    assert [f.first_seen for f in new.findings] == [f.first_seen for f in old.findings]
    assert new.generated_at > old.generated_at


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--from-inventory", "/nonexistent/inv.json"], "cannot read inventory"),
        (["--from-inventory", "{inv}", "--regions", "us-east-1"], "drop the scan options"),
        (
            ["--from-inventory", "{inv}", "--policy", "/nonexistent.toml"],
            "cannot read audit policy",
        ),
        (["--from-inventory", "{bad}"], "is not a cmkguard inventory"),
        (["--from-inventory", "{inv}", "--policy", "{badpolicy}"], "max_rotation_days"),
        (["--from-inventory", "{inv}", "--previous", "{bad}"], "is not a cmkguard audit report"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    inventory_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "resources": [{"arn": "x"}]}')
    badpolicy = tmp_path / "policy.toml"
    badpolicy.write_text("max_rotation_days = -1\n")
    args = [a.format(inv=inventory_file, bad=bad, badpolicy=badpolicy) for a in extra]
    assert main(["audit", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_unknown_fail_on_level_is_a_usage_error(
    inventory_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--from-inventory", str(inventory_file), "--fail-on", "urgent"]) == 2
    err = capsys.readouterr().err
    assert "urgent" in err
    assert len(err.strip().splitlines()) == 1


def test_demo_audits_a_seeded_emulated_account(tmp_path: Path) -> None:
    # A separate process: moto's backends are process-wide, and this test session already has
    # an emulated account of its own (the e2e tests') that --demo must not collide with.
    out = tmp_path / "report.json"
    args = ["audit", "--demo", "--format", "json", "-o", str(out), "--fail-on", "critical"]
    proc = subprocess.run(
        [sys.executable, "-m", "cmkguard", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr  # a key pending deletion is still in use
    report = AuditReport.from_json(out.read_text())
    assert report.by_rule("resource-key-pending-deletion")
    assert report.scan.resources > 0
    assert "demo: started an emulated AWS account" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_fail_on_high_does_not_pass_an_incomplete_inventory(
    inventory_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[suppressions]]\nrule_id = "*"\nresource = "*"\nreason = "accepted"\n'
        "expires = 2999-01-01\n"
    )
    args = ["audit", "--from-inventory", str(inventory_file), "--policy", str(policy)]
    assert main([*args, "--fail-on", "high"]) == 3
    err = capsys.readouterr().err
    assert "incomplete inventory: 1 thing(s) could not be read" in err
    assert "DescribeDBInstances" in err


@pytest.mark.parametrize(
    "document",
    ['{"schema_version": 1}', '{"schema_version": 1, "findings": [], "kpis": {}}', "[1, 2]"],
)
def test_from_inventory_refuses_what_is_not_an_inventory(
    document: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "not-inventory.json"
    path.write_text(document)
    assert main(["audit", "--from-inventory", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"cmkguard: error: {path} is not a cmkguard inventory")
    assert len(err.splitlines()) == 1


def test_from_inventory_refuses_json_nested_100000_deep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["audit", "--from-inventory", str(path)]) == 2
    assert "nested" in capsys.readouterr().err
