"""diff() between reports (with first-seen dates) and the KPIs of an audit."""

from __future__ import annotations

from datetime import timedelta
from types import ModuleType

import pytest

import cmkguard
from cmkguard.auditing import AuditPolicy, AuditReport, Suppression


def _day(estate: ModuleType, n: int, **inv: object) -> cmkguard.AuditReport:
    return cmkguard.audit(estate.inventory(**inv), now=estate.NOW + timedelta(days=n))


def test_diff_new_resolved_persisting(estate: ModuleType) -> None:
    old = _day(estate, 0)
    fixed = tuple(r for r in estate.RESOURCES if r is not estate.R_PLAIN)
    new = _day(
        estate,
        3,
        resources=(
            *fixed,
            estate.R_AWS_DB.__class__.from_dict(
                {**estate.R_AWS_DB.to_dict(), "arn": estate.R_AWS_DB.arn + "-2", "name": "db-aws-2"}
            ),
        ),
    )
    d = cmkguard.diff(old, new)
    assert [(f.rule_id, f.target) for f in d.resolved] == [
        ("resource-unencrypted", estate.R_PLAIN.arn)
    ]
    assert [(f.rule_id, f.target) for f in d.new] == [
        ("rds-instance-aws-managed-key", estate.R_AWS_DB.arn + "-2")
    ]
    assert len(d.persisting) == len(old.findings) - 1
    assert all(f.first_seen == estate.NOW for f in d.persisting)
    assert d.has_changes
    assert d.mean_time_to_remediate() == timedelta(days=3)
    text = d.summary()
    assert text.startswith("cmkguard: 1 new, 1 resolved")
    assert "+ [medium] rds-instance-aws-managed-key" in text
    assert "- [high] resource-unencrypted" in text


def test_first_seen_is_carried_through_audit_previous(estate: ModuleType) -> None:
    day0 = _day(estate, 0)
    day1 = cmkguard.audit(estate.inventory(), previous=day0, now=estate.NOW + timedelta(days=1))
    day2 = cmkguard.audit(estate.inventory(), previous=day1, now=estate.NOW + timedelta(days=2))
    assert {f.first_seen for f in day2.findings} == {estate.NOW}
    fresh = _day(estate, 2)
    assert {f.first_seen for f in fresh.findings} == {estate.NOW + timedelta(days=2)}


def test_diff_works_on_saved_reports(estate: ModuleType) -> None:
    old = AuditReport.from_json(_day(estate, 0).to_json())
    new = AuditReport.from_json(_day(estate, 1).to_json())
    d = cmkguard.diff(old, new)
    assert not d.has_changes
    assert d.mean_time_to_remediate() is None
    assert {f.first_seen for f in d.persisting} == {estate.NOW}


def test_suppressing_a_finding_resolves_it_for_the_bot(estate: ModuleType) -> None:
    old = _day(estate, 0)
    policy = AuditPolicy(suppressions=(Suppression("key-unused", "*", "ok"),))
    new = cmkguard.audit(estate.inventory(), policy, now=estate.NOW + timedelta(days=1))
    d = cmkguard.diff(old, new)
    assert [f.rule_id for f in d.resolved] == ["key-unused"]
    assert d.to_dict()["resolved"][0]["rule_id"] == "key-unused"


def test_kpis(estate: ModuleType) -> None:
    k = _day(estate, 0).kpis
    assert k.resources == len(estate.RESOURCES)
    # 19 resources, 1 unknown -> 18 measured; CMK: good, pending, disabled, pi, replica, norot,
    # longrot, untagged, a, b, imported = 11.
    assert (k.coverage.measured, k.coverage.on_cmk) == (18, 11)
    assert k.cmk_coverage == pytest.approx(61.11)
    snaps = k.coverage_by_resource_type["rds:db-snapshot"]
    assert (snaps.total, snaps.on_cmk, snaps.percent) == (1, 0, 0.0)
    assert set(k.coverage_by_region) == {"us-east-1"}
    assert set(k.coverage_by_account) == {estate.ACCOUNT}
    # CMKs not pending deletion: good, disabled, norot, longrot, asym, untagged, shared, unused,
    # imported = 9; rotation applies to 7 (not asym, imported); compliant: all but norot, longrot.
    assert k.customer_keys == 9
    assert (k.rotation_applicable, k.rotation_compliant) == (7, 5)
    assert k.rotation_compliance == pytest.approx(71.43)
    assert k.findings_by_severity == {"critical": 2, "high": 1, "medium": 12, "low": 3, "info": 3}
    assert k.scan_errors == 1
    assert k.resources_by_key_class["unencrypted"] == 1


def test_kpis_round_trip_and_empty_inventory() -> None:
    report = cmkguard.audit(cmkguard.Inventory())
    assert report.kpis.cmk_coverage is None
    assert report.kpis.rotation_compliance is None
    assert AuditReport.from_json(report.to_json()) == report
