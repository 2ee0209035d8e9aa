"""Suppressions: they silence matching findings, expire, and the report says what happened."""

from __future__ import annotations

from datetime import date, timedelta
from types import ModuleType

import cmkguard
from cmkguard.auditing import AuditPolicy, Suppression


def test_active_suppression_flags_the_finding_and_leaves_it_out_of_counts(
    estate: ModuleType,
) -> None:
    sup = Suppression(
        "rds-*-aws-managed-key", "*:snapshot:snap-*", "old snapshots", date(2027, 1, 1)
    )
    report = cmkguard.audit(estate.inventory(), AuditPolicy(suppressions=(sup,)), now=estate.NOW)
    (f,) = report.by_rule("rds-snapshot-aws-managed-key")
    assert f.suppressed
    assert f.suppression_reason == "old snapshots"
    # The instance on aws/rds is not matched by the resource glob.
    (inst,) = report.by_rule("rds-instance-aws-managed-key")
    assert not inst.suppressed
    assert f not in report.active_findings
    assert report.kpis.suppressed_findings == 1
    baseline = cmkguard.audit(estate.inventory(), now=estate.NOW)
    assert (
        report.kpis.findings_by_severity["medium"]
        == baseline.kpis.findings_by_severity["medium"] - 1
    )
    assert report.expired_suppressions == ()
    assert report.unused_suppressions == ()


def test_suppression_matches_the_key_arn_of_key_findings(estate: ModuleType) -> None:
    sup = Suppression("key-missing-tags", estate.K_UNTAGGED.arn, "tagging in progress")
    report = cmkguard.audit(estate.inventory(), AuditPolicy(suppressions=(sup,)), now=estate.NOW)
    (f,) = report.by_rule("key-missing-tags")
    assert f.suppressed


def test_expired_suppression_stops_suppressing_and_says_so(estate: ModuleType) -> None:
    expiry = estate.NOW.date() - timedelta(days=1)
    sup = Suppression("resource-unencrypted", "*:db:db-plain", "legacy, migrating", expiry)
    report = cmkguard.audit(estate.inventory(), AuditPolicy(suppressions=(sup,)), now=estate.NOW)
    (f,) = report.by_rule("resource-unencrypted")
    assert not f.suppressed
    assert f.suppression_expired
    assert f.suppression_reason == f"suppression expired on {expiry.isoformat()}: legacy, migrating"
    assert report.expired_suppressions == (sup,)
    assert f in report.at_or_above("high")
    assert "Expired suppressions" in report._repr_html_()


def test_expiry_day_itself_is_expired(estate: ModuleType) -> None:
    sup = Suppression("resource-unencrypted", "*", "r", estate.NOW.date())
    report = cmkguard.audit(estate.inventory(), AuditPolicy(suppressions=(sup,)), now=estate.NOW)
    assert not report.by_rule("resource-unencrypted")[0].suppressed


def test_an_active_suppression_wins_over_an_expired_one(estate: ModuleType) -> None:
    old = Suppression("resource-unencrypted", "*", "old", date(2020, 1, 1))
    new = Suppression("resource-unencrypted", "*", "renewed", date(2030, 1, 1))
    report = cmkguard.audit(
        estate.inventory(), AuditPolicy(suppressions=(old, new)), now=estate.NOW
    )
    (f,) = report.by_rule("resource-unencrypted")
    assert f.suppressed
    assert f.suppression_reason == "renewed"


def test_unused_suppressions_are_listed(estate: ModuleType) -> None:
    sup = Suppression("resource-unencrypted", "arn:aws:rds:*:db:nothing", "typo?")
    report = cmkguard.audit(estate.inventory(), AuditPolicy(suppressions=(sup,)), now=estate.NOW)
    assert report.unused_suppressions == (sup,)


def test_suppression_does_not_change_the_fingerprint(estate: ModuleType) -> None:
    sup = Suppression("*", "*", "everything")
    quiet = cmkguard.audit(estate.inventory(), AuditPolicy(suppressions=(sup,)), now=estate.NOW)
    loud = cmkguard.audit(estate.inventory(), now=estate.NOW)
    assert [f.fingerprint for f in quiet.findings] == [f.fingerprint for f in loud.findings]
    assert all(f.suppressed for f in quiet.findings)
    assert quiet.at_or_above("info") == ()
