"""SARIF that GitHub code scanning ingests: the 2.1.0 schema and GitHub's documented rules.

Each log is checked twice: against OASIS's SARIF 2.1.0 JSON schema (shipped in the package) and
by `github_problems`, which asserts what docs.github.com ("SARIF support for code scanning")
requires beyond the schema: a physical location with a repository-relative URI and a start
line on every result, `security-severity` on every rule, help text, fingerprints.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import jsonschema
import pytest

import cmkguard
from cmkguard import report as export
from cmkguard.auditing import FINDING_CATALOGUE, AuditReport
from cmkguard.cli import main
from cmkguard.report.sarif import (
    SECURITY_SEVERITY,
    SarifLocation,
    artifact_path,
    finding_lines,
    github_problems,
)

IAC_FIXTURES = Path(__file__).parents[1] / "iac" / "fixtures"


def _validate(log: dict[str, Any]) -> None:
    schema = export.schema("sarif-2.1.0")
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    assert github_problems(log) == []


def test_audit_sarif_validates_and_meets_githubs_rules(report: AuditReport) -> None:
    log = export.to_sarif(report, artifact_uri="reports/audit.json")
    _validate(log)
    run = log["runs"][0]
    assert len(run["results"]) == len(report.findings)
    assert run["automationDetails"] == {"id": "cmkguard/audit/"}
    assert run["artifacts"][0]["location"]["uri"] == "reports/audit.json"
    for result in run["results"]:
        (location,) = result["locations"]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == "reports/audit.json"
        names = [n["fullyQualifiedName"] for n in location["logicalLocations"]]
        assert len(names) == len(set(names))  # each ARN at most once


def test_each_result_points_at_its_finding_in_the_saved_report(report: AuditReport) -> None:
    text = report.to_json()
    lines = text.splitlines()
    log = export.to_sarif(report, report_json=text)
    by_fingerprint = {f.fingerprint: f for f in report.findings}
    for result in log["runs"][0]["results"]:
        fp = result["partialFingerprints"]["cmkguard/v1"]
        line = result["locations"][0]["physicalLocation"]["region"]["startLine"]
        assert f'"fingerprint": "{fp}"' in lines[line - 1]
        f = by_fingerprint[fp]
        logical = result["locations"][0]["logicalLocations"]
        assert logical[0]["fullyQualifiedName"] == (f.resource_arn or f.key_arn or f.target)
        if f.suppressed:
            assert result["suppressions"][0]["justification"] == f.suppression_reason
    assert len(finding_lines(text)) == len(report.findings)


def test_rules_carry_severity_scores_and_the_catalogues_remediation(report: AuditReport) -> None:
    rules = export.to_sarif(report)["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted({f.rule_id for f in report.findings})
    for rule in rules:
        spec = FINDING_CATALOGUE[rule["id"]]
        assert rule["properties"]["security-severity"] == SECURITY_SEVERITY[spec.severity]
        assert spec.remediation in rule["help"]["text"]
        assert spec.remediation in rule["help"]["markdown"]
        assert "security" in rule["properties"]["tags"]
    # GitHub's bands: critical >= 9.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9
    bands = {"critical": (9.0, 10.0), "high": (7.0, 8.9), "medium": (4.0, 6.9), "low": (0.1, 3.9)}
    for severity, score in SECURITY_SEVERITY.items():
        low, high = bands.get(severity.value, (0.1, 3.9))
        assert low <= float(score) <= high, severity


def test_completeness_is_in_the_run_properties(report: AuditReport) -> None:
    props = export.to_sarif(report)["runs"][0]["properties"]
    assert props["completeness"] == report.kpis.completeness.to_dict()
    assert props["completeness"]["complete"] is False  # the reference estate has a scan error


def test_an_empty_audit_is_a_valid_log() -> None:
    log = export.to_sarif(cmkguard.audit(cmkguard.Inventory()))
    _validate(log)
    assert log["runs"][0]["results"] == []


def test_iac_sarif_shares_the_writer_and_validates() -> None:
    plan = IAC_FIXTURES / "terraform" / "estate" / "plan.json"
    cfn = IAC_FIXTURES / "cloudformation" / "estate.yaml"
    log = export.iac_to_sarif(cmkguard.check_iac([plan, cfn]))
    _validate(log)
    run = log["runs"][0]
    assert run["automationDetails"] == {"id": "cmkguard/iac/"}
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert uris
    assert all(u.endswith((".json", ".yaml")) for u in uris)


def test_github_problems_catches_what_github_refuses(report: AuditReport) -> None:
    good = export.to_sarif(report)
    cases = {
        "no physical location": lambda r: r["results"][0]["locations"][0].pop("physicalLocation"),
        "absolute uri": lambda r: r["results"][0]["locations"][0]["physicalLocation"][
            "artifactLocation"
        ].update(uri="/tmp/x.json"),
        "no start line": lambda r: r["results"][0]["locations"][0]["physicalLocation"].pop(
            "region"
        ),
        "no security-severity": lambda r: r["tool"]["driver"]["rules"][0]["properties"].pop(
            "security-severity"
        ),
        "zero security-severity": lambda r: r["tool"]["driver"]["rules"][0]["properties"].update(
            {"security-severity": "0.0"}
        ),
        "no fingerprints": lambda r: r["results"][0].pop("partialFingerprints"),
        "unknown rule": lambda r: r["results"][0].update(ruleId="nope"),
        "no help": lambda r: r["tool"]["driver"]["rules"][0].pop("help"),
    }
    for name, breaks in cases.items():
        log = copy.deepcopy(good)
        breaks(log["runs"][0])
        assert github_problems(log), name


@pytest.mark.parametrize(
    "bad", ["/etc/passwd", "https://example.com/r.json", "../outside.json", "", "a\\b.json"]
)
def test_artifact_uris_must_be_repository_relative(bad: str) -> None:
    with pytest.raises(ValueError, match="SARIF"):
        SarifLocation(uri=bad) if "\\" in bad or not bad else artifact_path(bad)


def test_artifact_path_makes_paths_under_the_working_directory_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert artifact_path(str(tmp_path / "out" / "r.json")) == "out/r.json"
    assert artifact_path("./out/r.json") == "out/r.json"


def test_cli_sarif_points_at_the_report_it_saved(
    tmp_path: Path, estate: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "inventory.json").write_text(estate.inventory().to_json())
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    argv = ["audit", "--from-inventory", "inventory.json", "--format", "sarif"]
    code = main([*argv, "-o", "audit.sarif", "--report-json", "out/audit.json"])
    assert code == 3  # the reference estate has a scan error: incomplete
    log = json.loads((tmp_path / "audit.sarif").read_text())
    _validate(log)
    saved = (tmp_path / "out" / "audit.json").read_text().splitlines()
    for result in log["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "out/audit.json"
        fp = result["partialFingerprints"]["cmkguard/v1"]
        assert fp in saved[physical["region"]["startLine"] - 1]
    # Without --report-json the inventory read is the artifact.
    assert main([*argv, "-o", "inv.sarif"]) == 3
    log = json.loads((tmp_path / "inv.sarif").read_text())
    _validate(log)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert uris == {"inventory.json"}


def test_where_narrows_a_report_and_says_so(report: AuditReport) -> None:
    high = report.where(severity=">=high")
    assert high.findings
    assert all(f.severity >= cmkguard.Severity.HIGH for f in high.findings)
    assert high.filters == ("severity>=high",)
    assert sum(high.kpis.findings_by_severity.values()) == len(high.active_findings)
    one = report.findings[0]
    chained = report.where(rule=one.rule_id).where(account=one.account)
    assert one in chained.findings
    assert all(f.rule_id == one.rule_id for f in chained.findings)
    assert report.where(rule="rds-*").findings == tuple(
        f for f in report.findings if f.rule_id.startswith("rds-")
    )
    assert report.where(suppressed=True).findings == tuple(
        f for f in report.findings if f.suppressed
    )
    assert AuditReport.from_json(high.to_json()).filters == high.filters
    with pytest.raises(cmkguard.ConfigurationError, match="unknown level"):
        report.where(severity=">=severe")
    with pytest.raises(cmkguard.ConfigurationError, match="comparison"):
        report.where(severity="=>high")
    assert attrs.evolve(report, findings=()).where(severity="high").findings == ()


def test_html_shows_a_partial_banner_names_and_filters(report: AuditReport) -> None:
    html = report._repr_html_()
    assert "role='alert'" in html
    assert "partial" in html
    assert report.kpis.completeness.summary().split(":")[0] in html
    named = next(f for f in report.findings if f.name)
    assert f"<td>{named.name}</td>" in html or named.name in html
    assert "Filtered: severity&gt;=high" in report.where(severity=">=high")._repr_html_()
    clean = attrs.evolve(
        report, kpis=attrs.evolve(report.kpis, completeness=cmkguard.Completeness())
    )
    assert "role='alert'" not in clean._repr_html_()
