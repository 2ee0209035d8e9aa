"""A partial scan says so in every export, not only in the JSON report, SARIF and HTML.

Each CSV row, OCSF event and ASFF finding may be read alone (a spreadsheet filter, a data-lake
query, a Security Hub view), so each carries whether the scan it comes from was complete.
"""

from __future__ import annotations

import csv
import io
from types import ModuleType

import jsonschema
import pytest

import cmkguard
from cmkguard import report as export
from cmkguard.auditing import AuditReport


@pytest.fixture(name="complete")
def _complete(estate: ModuleType) -> AuditReport:
    return cmkguard.audit(estate.inventory(errors=()), now=estate.NOW)


def _validate(name: str, documents: list[dict[str, object]]) -> None:
    validator = jsonschema.Draft202012Validator(export.schema(name))
    for document in documents:
        validator.validate(document)


def test_the_reference_report_is_partial(report: AuditReport, complete: AuditReport) -> None:
    assert not report.kpis.completeness.complete
    assert complete.kpis.completeness.complete


def test_every_csv_row_says_whether_the_scan_was_complete(
    report: AuditReport, complete: AuditReport
) -> None:
    rows = list(csv.DictReader(io.StringIO(export.to_csv(report))))
    assert len(rows) == len(report.findings)
    assert {r["scan_complete"] for r in rows} == {"false"}
    assert {r["scan_gaps"] for r in rows} == {report.kpis.completeness.summary()}
    assert report.kpis.completeness.summary().startswith("INCOMPLETE: ")
    rows = list(csv.DictReader(io.StringIO(export.to_csv(complete))))
    assert {(r["scan_complete"], r["scan_gaps"]) for r in rows} == {("true", "")}
    # Columns are only appended: the earlier ones keep their positions.
    assert export.CSV_COLUMNS[-2:] == ("scan_complete", "scan_gaps")


def test_every_ocsf_event_carries_the_completeness(
    report: AuditReport, complete: AuditReport
) -> None:
    events = export.to_ocsf(report)
    _validate("ocsf-detection-finding", events)
    expected = report.kpis.completeness.to_dict()
    assert expected["complete"] is False
    assert all(e["unmapped"]["scan_completeness"] == expected for e in events)
    events = export.to_ocsf(complete)
    assert all(e["unmapped"]["scan_completeness"]["complete"] is True for e in events)


def test_every_asff_finding_carries_the_completeness(
    report: AuditReport, complete: AuditReport
) -> None:
    findings = export.to_asff(report)
    _validate("asff", findings)
    for f in findings:
        fields = f["ProductFields"]
        assert fields["cmkguard/ScanComplete"] == "false"
        assert fields["cmkguard/ScanGaps"] == report.kpis.completeness.summary()[:2048]
        assert all(isinstance(v, str) for v in fields.values())  # ASFF: string map
    for f in export.to_asff(complete):
        assert f["ProductFields"]["cmkguard/ScanComplete"] == "true"
        assert "cmkguard/ScanGaps" not in f["ProductFields"]
