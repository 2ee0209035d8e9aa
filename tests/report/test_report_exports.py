"""Every export validates against its documented schema and carries what its consumers need."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from types import ModuleType

import attrs
import jsonschema
import pytest

import cmkguard
from cmkguard import MissingExtraError
from cmkguard import report as export
from cmkguard.auditing import AuditReport
from cmkguard.report import SCHEMAS, schema
from cmkguard.report.csv import CSV_COLUMNS
from cmkguard.report.frames import FINDING_COLUMNS


def _validator(name: str) -> jsonschema.Draft202012Validator:
    s = schema(name)
    jsonschema.Draft202012Validator.check_schema(s)
    return jsonschema.Draft202012Validator(s, format_checker=jsonschema.FormatChecker())


def test_shipped_schemas_are_valid_json_schemas() -> None:
    for name in SCHEMAS:
        _validator(name)
    with pytest.raises(ValueError, match="unknown schema"):
        schema("nope")


def test_report_schema_lists_exactly_the_severities() -> None:
    text = json.dumps(schema("report"))
    values = {s.value for s in cmkguard.Severity}
    lists = re.findall(r'\[("critical"[^\]]*)\]', text)
    assert len(lists) == 2  # findings_by_severity's required keys and the severity enum
    for listed in lists:
        assert set(json.loads(f"[{listed}]")) == values


def test_json_report_validates_and_round_trips(report: AuditReport) -> None:
    doc = json.loads(report.to_json())
    _validator("report").validate(doc)
    assert doc["schema_version"] == 1
    assert AuditReport.from_json(report.to_json()) == report


def test_report_schema_rejects_a_broken_document(report: AuditReport) -> None:
    doc = json.loads(report.to_json())
    doc["findings"][0]["severity"] = "urgent"
    del doc["findings"][1]["fingerprint"]
    errors = list(_validator("report").iter_errors(doc))
    assert len(errors) == 2


def test_from_json_refuses_another_schema_version(report: AuditReport) -> None:
    doc = json.loads(report.to_json())
    doc["schema_version"] = 99
    with pytest.raises(ValueError, match="schema_version 99"):
        AuditReport.from_json(json.dumps(doc))


def test_ocsf_events_validate_with_required_fields(report: AuditReport) -> None:
    events = export.to_ocsf(report)
    assert len(events) == len(report.findings)
    v = _validator("ocsf-detection-finding")
    for event in events:
        v.validate(event)
    required = {
        "activity_id",
        "category_uid",
        "class_uid",
        "finding_info",
        "metadata",
        "severity_id",
        "time",
        "type_uid",
    }
    for event in events:
        assert required <= set(event)
        assert event["class_uid"] == 2004
        assert event["type_uid"] == 200401
        assert {"uid", "title"} <= set(event["finding_info"])
    by_uid = {e["finding_info"]["uid"]: e for e in events}
    crit = next(f for f in report.findings if f.rule_id == "resource-key-pending-deletion")
    assert by_uid[crit.fingerprint]["severity_id"] == 5
    suppressed = next(f for f in report.findings if f.suppressed)
    assert by_uid[suppressed.fingerprint]["status"] == "Suppressed"


def test_asff_findings_validate_with_required_fields(report: AuditReport) -> None:
    findings = export.to_asff(report)
    v = _validator("asff")
    for f in findings:
        v.validate(f)
    required = {
        "SchemaVersion",
        "Id",
        "ProductArn",
        "GeneratorId",
        "AwsAccountId",
        "Types",
        "CreatedAt",
        "UpdatedAt",
        "Severity",
        "Title",
        "Description",
        "Resources",
    }
    assert all(required <= set(f) for f in findings)
    assert len({f["Id"] for f in findings}) == len(findings)
    incomplete = next(f for f in findings if f["GeneratorId"] == "cmkguard/inventory-incomplete")
    assert incomplete["Resources"][0]["Type"] == "AwsAccount"
    snap = next(f for f in findings if f["GeneratorId"] == "cmkguard/rds-snapshot-aws-managed-key")
    assert snap["Resources"][0]["Type"] == "AwsRdsDbSnapshot"
    assert (
        snap["ProductArn"]
        == "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default"
    )
    custom = export.to_asff(
        report,
        product_arn="arn:aws:securityhub:eu-west-1:999999999999:product/999999999999/default",
    )
    assert {f["ProductArn"] for f in custom} == {
        "arn:aws:securityhub:eu-west-1:999999999999:product/999999999999/default"
    }


def test_asff_title_and_description_respect_limits(report: AuditReport) -> None:
    long = attrs.evolve(report.findings[0], message="x" * 5000, title="t" * 400)
    (f,) = export.to_asff(attrs.evolve(report, findings=(long,)))
    _validator("asff").validate(f)
    assert len(f["Description"]) == 1024


def test_csv(report: AuditReport) -> None:
    rows = list(csv.DictReader(io.StringIO(export.to_csv(report))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["fingerprint"] for r in rows] == [f.fingerprint for f in report.findings]
    assert json.loads(rows[0]["evidence"]) == dict(report.findings[0].evidence)
    assert {r["suppressed"] for r in rows} == {"true", "false"}


def test_sarif(report: AuditReport) -> None:
    log = export.to_sarif(report)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert len(run["results"]) == len(report.findings)
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"}
    assert any("suppressions" in r for r in run["results"])


def test_dataframe(report: AuditReport) -> None:
    frame = report.to_dataframe()
    assert len(frame) == len(report.findings)
    assert list(frame.columns) == list(FINDING_COLUMNS)
    text = [c for c, kind in FINDING_COLUMNS.items() if kind == "string"]
    assert {str(frame[c].dtype) for c in text} == {"string"}  # suppression_reason included
    key_only = frame[frame.resource_arn.isna()]
    assert not key_only.empty
    assert key_only.target.notna().all()
    assert frame["severity"].max() == "critical"
    assert next(iter(frame.sort_values("severity")["severity"])) == "info"


def test_dataframe_without_pandas_names_the_extra(
    report: AuditReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingExtraError, match=r"cmkguard\[pandas\]"):
        report.to_dataframe()


def test_coverage_dataframe_and_chart(report: AuditReport) -> None:
    from cmkguard.report.frames import coverage_to_dataframe

    frame = coverage_to_dataframe(report.kpis, by="region")
    assert list(frame["region"]) == ["us-east-1"]
    chart = report.coverage_chart(by="resource_type")
    svg = chart._repr_svg_()
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert "rds:db-snapshot" in svg
    assert "0.0%" in svg
    with pytest.raises(ValueError, match="by must be one of"):
        report.coverage_chart(by="colour")


def test_repr_html_escapes_everything(estate: ModuleType) -> None:
    evil = attrs.evolve(estate.R_PLAIN, name="<script>alert(1)</script>", tags={"a": "<b>"})
    inv = estate.inventory(resources=(evil,))
    report = cmkguard.audit(inv, now=estate.NOW)
    for html in (report._repr_html_(), inv._repr_html_()):
        assert "<script>" not in html
        assert "&lt;script&gt;" in html
    assert "CRITICAL" in report._repr_html_() or "HIGH" in report._repr_html_()
    assert "<table>" in inv._repr_html_()
    assert "Not read" in inv._repr_html_()


def test_repr_is_short(report: AuditReport) -> None:
    text = repr(report)
    assert text.startswith("<AuditReport ")
    assert "critical=2" in text


def test_diff_renders_in_jupyter(estate: ModuleType, report: AuditReport) -> None:
    evil = attrs.evolve(estate.R_PLAIN, arn="arn:aws:rds:us-east-1:111122223333:db:<img>")
    later = cmkguard.audit(estate.inventory(resources=(*estate.RESOURCES, evil)), now=estate.NOW)
    html = cmkguard.diff(report, later)._repr_html_()
    assert "<h4>New</h4>" in html
    assert "&lt;img&gt;" in html
    assert "<img>" not in html
