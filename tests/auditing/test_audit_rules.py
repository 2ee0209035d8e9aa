"""The audit's own rules on hand-built inventories: each reports exactly what it should."""

from __future__ import annotations

from datetime import timedelta
from types import ModuleType

import attrs
import pytest

import cmkguard
from cmkguard import KeyClass, KeyUse, RotationStatus, Severity
from cmkguard.auditing import FINDING_CATALOGUE, AuditPolicy
from cmkguard.auditing.catalogue import _AUDIT_RULES as AUDIT_RULES
from cmkguard.types import Region


def _pairs(report: cmkguard.AuditReport) -> set[tuple[str, str]]:
    return {(f.rule_id, f.target) for f in report.findings}


def _audit(
    estate: ModuleType, policy: AuditPolicy | None = None, **inv: object
) -> cmkguard.AuditReport:
    return cmkguard.audit(estate.inventory(**inv), policy, now=estate.NOW)


def test_reference_estate_reports_exactly_the_expected_findings(estate: ModuleType) -> None:
    assert _pairs(_audit(estate)) == set(estate.EXPECTED)


def test_every_audit_rule_is_exercised_by_the_reference_estate(estate: ModuleType) -> None:
    exercised = {rule for rule, _ in estate.EXPECTED}
    # Not in the reference estate: covered by dedicated tests below.
    dedicated = {
        "resource-aws-managed-key",
        "resource-key-unavailable",
        "secret-rotation-lambda-key-class-mismatch",
        "key-policy-unparseable",
        "resource-aws-owned-key",
        # Infrastructure code only (a deployed key does not expose its deletion window):
        # tests/iac.
        "key-deletion-window-short",
        # Only with a tenant tag key (crypto-shredding readiness): tests/auditing/test_shred.py.
        "tenant-key-shared",
        "tenant-key-not-shreddable",
        # Only after a migration: tests/auditing/test_leftover_snapshots.py.
        "rds-snapshot-left-on-aws-managed-key",
    }
    assert set(AUDIT_RULES) - exercised == dedicated


def test_only_the_dangerous_problems_are_high_or_critical(estate: ModuleType) -> None:
    report = _audit(estate)
    severe = {(f.rule_id, f.target) for f in report.at_or_above(Severity.HIGH)}
    assert severe == {
        ("resource-key-pending-deletion", estate.R_PENDING.arn),
        ("resource-key-disabled", estate.R_DISABLED.arn),
        ("resource-unencrypted", estate.R_PLAIN.arn),
    }


def test_a_clean_estate_has_no_findings(estate: ModuleType) -> None:
    report = _audit(estate, resources=(estate.R_GOOD,), keys=(estate.K_GOOD,), errors=())
    assert report.findings == ()
    assert report.kpis.cmk_coverage == 100.0
    assert report.kpis.rotation_compliance == 100.0


def test_every_finding_uses_a_catalogue_id_with_its_text(estate: ModuleType) -> None:
    for f in _audit(estate).findings:
        spec = FINDING_CATALOGUE[f.rule_id]
        assert f.title == spec.title
        assert f.remediation == spec.remediation
        assert f.severity is spec.severity


def test_pending_deletion_states_date_and_days_left(estate: ModuleType) -> None:
    (f,) = _audit(estate).by_rule("resource-key-pending-deletion")
    assert f.severity is Severity.CRITICAL
    assert f.key_arn == estate.K_PENDING.arn
    assert f.evidence["days_left"] == 6
    assert f.evidence["deletion_date"].startswith("2026-11-28")
    assert "2026-11-28 (6 days left)" in f.message


def test_pending_deletion_in_the_past_counts_zero_days(estate: ModuleType) -> None:
    report = cmkguard.audit(estate.inventory(), now=estate.NOW + timedelta(days=30))
    (f,) = report.by_rule("resource-key-pending-deletion")
    assert f.evidence["days_left"] == 0


def test_secondary_key_pending_deletion_is_critical_too(estate: ModuleType) -> None:
    res = attrs.evolve(
        estate.R_GOOD,
        secondary_keys=(
            KeyUse(
                "performance-insights",
                Region("us-east-1"),
                estate.K_PENDING.arn,
                KeyClass.CUSTOMER_MANAGED,
            ),
        ),
    )
    report = _audit(estate, resources=(res,), keys=(estate.K_GOOD, estate.K_PENDING), errors=())
    (f,) = report.by_rule("resource-key-pending-deletion")
    assert f.resource_arn == res.arn
    assert f.discriminator == "performance-insights@us-east-1"
    assert "performance-insights in us-east-1" in f.message


def test_key_in_another_unusable_state(estate: ModuleType) -> None:
    k = attrs.evolve(estate.K_GOOD, state="PendingImport")
    report = _audit(estate, resources=(estate.R_GOOD,), keys=(k,), errors=())
    assert _pairs(report) == {("resource-key-unavailable", estate.R_GOOD.arn)}
    assert report.findings[0].severity is Severity.HIGH


def test_snapshot_on_aws_managed_key_says_it_cannot_be_shared(estate: ModuleType) -> None:
    (f,) = _audit(estate).by_rule("rds-snapshot-aws-managed-key")
    assert "cannot be shared with another account" in f.message
    assert f.evidence["snapshot_type"] == "manual"
    (c,) = _audit(estate).by_rule("rds-instance-aws-managed-key")
    assert "cannot be shared" not in c.message


def test_unknown_resource_type_on_aws_managed_key_uses_the_generic_rule(estate: ModuleType) -> None:
    res = attrs.evolve(estate.R_AWS_DB, resource_type="dynamodb:table", arn="arn:aws:dynamodb:x")
    report = _audit(estate, resources=(res,), keys=(), errors=())
    assert _pairs(report) == {("resource-aws-managed-key", "arn:aws:dynamodb:x")}


def test_an_aws_owned_cluster_has_its_own_finding_and_is_not_cmk_coverage(
    estate: ModuleType,
) -> None:
    owned = attrs.evolve(estate.R_AWS_CLUSTER, key_class=KeyClass.AWS_OWNED, key_arn=None)
    report = _audit(estate, resources=(owned, estate.R_GOOD), keys=(estate.K_GOOD,), errors=())
    (f,) = [f for f in report.findings if f.target == owned.arn]
    assert f.rule_id == "resource-aws-owned-key"
    assert "AWS owned key" in f.message
    assert report.kpis.cmk_coverage == 50.0
    assert report.kpis.resources_by_key_class["aws-owned"] == 1


def test_rds_managed_secret_on_default_key_points_to_the_owning_service(estate: ModuleType) -> None:
    res = attrs.evolve(estate.R_AWS_SECRET, details={"owning_service": "rds"})
    (f,) = _audit(estate, resources=(res,), keys=(), errors=()).findings
    assert f.rule_id == "secret-aws-managed-key"
    assert "managed by rds" in f.message
    assert f.evidence["owning_service"] == "rds"


def test_trusted_account_keys_are_not_reported(estate: ModuleType) -> None:
    policy = AuditPolicy(trusted_accounts=(estate.OTHER,))
    assert not _audit(estate, policy).by_rule("resource-cross-account-key")
    (f,) = _audit(estate).by_rule("resource-cross-account-key")
    assert f.evidence["key_account"] == estate.OTHER


def test_rotation_lambda_on_another_key_class(estate: ModuleType) -> None:
    res = attrs.evolve(
        estate.R_GOOD,
        resource_type="secretsmanager:secret",
        details={"rotation_lambda_arn": "arn:aws:lambda:us-east-1:111122223333:function:rot"},
        secondary_keys=(
            KeyUse("rotation-lambda", Region("us-east-1"), None, KeyClass.AWS_MANAGED),
        ),
    )
    report = _audit(estate, resources=(res,), keys=(estate.K_GOOD,), errors=())
    (f,) = report.findings
    assert f.rule_id == "secret-rotation-lambda-key-class-mismatch"
    assert "function:rot" in f.message


@pytest.mark.parametrize("purpose", ["rotation-lambda", "replica"])
def test_an_unreadable_secondary_key_is_no_mismatch(estate: ModuleType, purpose: str) -> None:
    # The scan error behind an UNKNOWN class is reported on its own; a second, lower finding
    # claiming a key-class mismatch would be a guess.
    res = attrs.evolve(
        estate.R_GOOD,
        resource_type="secretsmanager:secret",
        secondary_keys=(
            KeyUse(purpose, Region("us-east-1"), None, KeyClass.UNKNOWN, reason="AccessDenied"),
        ),
    )
    report = _audit(estate, resources=(res,), keys=(estate.K_GOOD,), errors=())
    assert report.findings == ()


def test_replica_on_the_same_key_class_is_fine(estate: ModuleType) -> None:
    (f,) = _audit(estate).by_rule("secret-replica-key-class-mismatch")
    assert f.evidence["secondary_region"] == "us-west-2"  # eu-west-1 is on a CMK like the primary


def test_rotation_period_compared_with_the_policy_maximum(estate: ModuleType) -> None:
    strict = AuditPolicy(max_rotation_days=180)
    too_long = {f.key_arn for f in _audit(estate, strict).by_rule("key-rotation-period-too-long")}
    # Every rotating key (365 days) now exceeds 180; the 730-day one too.
    assert estate.K_LONGROT.arn in too_long
    assert estate.K_GOOD.arn in too_long
    lax = AuditPolicy(max_rotation_days=800)
    assert not _audit(estate, lax).by_rule("key-rotation-period-too-long")


def test_rotation_not_applicable_is_info_with_the_reason(estate: ModuleType) -> None:
    found = {f.key_arn: f for f in _audit(estate).by_rule("key-rotation-not-applicable")}
    assert found[estate.K_ASYM.arn].severity is Severity.INFO
    assert "asymmetric" in found[estate.K_ASYM.arn].message
    assert "EXTERNAL" in found[estate.K_IMPORTED.arn].message


def test_missing_tags_lists_them_and_ignores_case_and_empty_values(estate: ModuleType) -> None:
    (f,) = _audit(estate).by_rule("key-missing-tags")
    # "Application" is present but empty: still missing. "owner" is present.
    assert f.evidence["missing"] == ["application", "data-sensitivity", "cost-center"]
    policy = AuditPolicy(required_tags=("OWNER",))
    assert not _audit(estate, policy).by_rule("key-missing-tags")


def test_shared_key_names_the_applications(estate: ModuleType) -> None:
    (f,) = _audit(estate).by_rule("key-shared-across-applications")
    assert set(f.evidence["applications"]) == {"billing", "crm"}


def test_aws_managed_keys_get_no_key_findings(estate: ModuleType) -> None:
    report = _audit(estate)
    assert not [
        f for f in report.findings if f.key_arn == estate.K_AWS_RDS.arn and f.resource_arn is None
    ]


def test_scan_errors_become_inventory_incomplete(estate: ModuleType) -> None:
    (f,) = _audit(estate).by_rule("inventory-incomplete")
    assert f.account == estate.ACCOUNT
    assert f.region == "eu-central-1"
    assert f.resource_type == "rds:db-instance"
    assert f.evidence["operation"] == "DescribeDBInstances"
    assert "AccessDenied" in f.message


def test_severity_override_changes_severity_not_fingerprint(estate: ModuleType) -> None:
    base = {f.fingerprint: f for f in _audit(estate).findings}
    policy = AuditPolicy(severity_overrides={"key-unused": Severity.HIGH})
    overridden = {f.fingerprint: f for f in _audit(estate, policy).findings}
    assert base.keys() == overridden.keys()
    (fp,) = [fp for fp, f in base.items() if f.rule_id == "key-unused"]
    assert overridden[fp].severity is Severity.HIGH


def test_fingerprints_are_unique_and_stable(estate: ModuleType) -> None:
    a = _audit(estate)
    b = cmkguard.audit(estate.inventory(), now=estate.NOW + timedelta(days=1))
    assert len({f.fingerprint for f in a.findings}) == len(a.findings)
    assert [f.fingerprint for f in a.findings] == [f.fingerprint for f in b.findings]


def test_findings_are_sorted_most_severe_first(estate: ModuleType) -> None:
    ranks = [f.severity.rank for f in _audit(estate).findings]
    assert ranks == sorted(ranks, reverse=True)


def test_rotation_status_unknown_is_not_reported(estate: ModuleType) -> None:
    k = attrs.evolve(estate.K_GOOD, rotation=RotationStatus(applicable=True, enabled=None))
    report = _audit(estate, resources=(estate.R_GOOD,), keys=(k,), errors=())
    assert report.findings == ()
    assert report.kpis.rotation_applicable == 0


@pytest.mark.parametrize("state", ["PendingDeletion"])
def test_keys_pending_deletion_skip_rotation_and_tag_rules(estate: ModuleType, state: str) -> None:
    k = attrs.evolve(estate.K_NOROT, state=state, tags={})
    report = _audit(estate, resources=(), keys=(k,), errors=())
    assert {f.rule_id for f in report.findings} == {"key-pending-deletion"}


def test_the_inventory_key_index_the_rules_read_matches_a_linear_search(
    estate: ModuleType,
) -> None:
    # The audit's rules ask `Inventory.resources_on_key` (indexed) for every key: same answer,
    # in inventory order, as looking at every resource's storage and secondary keys.
    inv = estate.inventory()
    for arn in [*inv.keys, estate.karn("theirs", estate.OTHER), "arn:aws:kms:nowhere"]:
        linear = tuple(
            r for r in inv.resources if arn in {r.key_arn, *(u.key_arn for u in r.secondary_keys)}
        )
        assert inv.resources_on_key(arn) == linear
    assert set(inv.resources_on_key(estate.K_AWS_RDS.arn)) >= {estate.R_AWS_DB, estate.R_PI}


def test_scan_style_details_are_read_too(estate: ModuleType) -> None:
    res = attrs.evolve(
        estate.R_AWS_SECRET,
        details={"owning_service": "rds", "is_replica": True, "primary_region": "eu-west-1"},
    )
    (f,) = _audit(estate, resources=(res,), keys=(), errors=()).findings
    assert f.evidence["owning_service"] == "rds"
    assert "managed by rds" in f.message
    assert "replica of the secret in eu-west-1" in f.message
