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


def test_table_summarises_by_severity_and_rule_then_one_line_per_finding(
    inventory_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The reference inventory has a scan error: incomplete, exit 3 (the contract).
    assert main(["audit", "--from-inventory", str(inventory_file)]) == 3
    out = capsys.readouterr().out
    lines = out.splitlines()
    # The summary comes first: KPIs, the count per severity, then the rules, worst first.
    assert lines[1].startswith("CMK coverage 61.1%")
    assert "findings (critical 2, high 1, medium 12, low 3, info 3)" in out
    by_rule = lines[lines.index("By rule:") + 1 : lines.index("", lines.index("By rule:"))]
    severities = [line.split()[0] for line in by_rule]
    order = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
    assert severities == sorted(severities, key=order.index)
    # Each rule once with its fix, then one line per finding by the name people know.
    assert "HIGH  resource-unencrypted (1): Resource not encrypted at rest" in out
    assert out.count("  fix: Encrypt it:") == 1
    assert "  db-plain  111122223333 us-east-1  (rds:db-instance) is not encrypted at rest." in out
    # Each ARN at most once per line (the message's "alias (ARN)" is shortened to the alias).
    for line in lines:
        for arn in {w.strip("(),.") for w in line.split() if w.startswith(("arn:", "(arn:"))}:
            assert line.count(arn) == 1, line
    # Where the full report is (here: how to get it).
    assert lines[-1].startswith("Full report: add --report-json FILE")


def test_the_table_points_at_the_saved_report(
    inventory_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "audit.json"
    main(["audit", "--from-inventory", str(inventory_file), "--report-json", str(saved)])
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == f"Full report (JSON, every field): {saved}"
    assert json.loads(saved.read_text())["findings"]


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
