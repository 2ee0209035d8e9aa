"""Key-policy and grant findings: on the key, and on every resource the key protects."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import attrs
import pytest

import cmkguard
from cmkguard import Grant, KeyClass, KeyUse, Severity
from cmkguard.auditing import FINDING_CATALOGUE, AuditPolicy
from cmkguard.types import Region

pytest.importorskip("cmkguard.policy.analysis")

ACCOUNT = "111122223333"
ROOT = {
    "Sid": "root",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
PUBLIC = {
    "Sid": "pub",
    "Effect": "Allow",
    "Principal": "*",
    "Action": "kms:Decrypt",
    "Resource": "*",
}
PARTNER = {
    "Sid": "partner",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
    "Action": "kms:Decrypt",
    "Resource": "*",
}


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _inventory(estate: ModuleType, policy: str | None, grants: tuple[Grant, ...] = ()) -> Any:
    key = attrs.evolve(estate.K_GOOD, policy=policy, grants=grants)
    pi = KeyUse("performance-insights", Region("us-east-1"), key.arn, KeyClass.CUSTOMER_MANAGED)
    db = attrs.evolve(
        estate.R_AWS_DB, name="db-pi-only", arn=estate.R_AWS_DB.arn + "-pi", secondary_keys=(pi,)
    )
    aws_key = attrs.evolve(estate.K_AWS_RDS, policy=_policy(ROOT, PUBLIC))
    return (
        estate.inventory(
            resources=(estate.R_GOOD, estate.R_PI, db), keys=(key, aws_key), errors=()
        ),
        key,
        db,
    )


def _pairs(report: cmkguard.AuditReport, rule: str) -> set[str]:
    return {f.target for f in report.by_rule(rule)}


def test_policy_catalogue_is_merged() -> None:
    for rule in (
        "public-access",
        "cross-account-access",
        "wildcard-actions",
        "grant-cross-account",
    ):
        assert FINDING_CATALOGUE[rule].source == "policy"
        assert FINDING_CATALOGUE[rule].scope == "key+resources"


def test_public_key_is_reported_on_the_key_and_every_resource_it_protects(
    estate: ModuleType,
) -> None:
    inv, key, db = _inventory(estate, _policy(ROOT, PUBLIC))
    report = cmkguard.audit(inv, now=estate.NOW)
    # Storage key of db-good and db-pi; Performance Insights key of the third: all exposed.
    assert _pairs(report, "public-access") == {key.arn, estate.R_GOOD.arn, estate.R_PI.arn, db.arn}
    on_key = next(f for f in report.by_rule("public-access") if f.resource_arn is None)
    assert on_key.severity is Severity.CRITICAL
    assert on_key.evidence["statement_index"] == 1
    assert on_key.evidence["principal"] == "*"
    assert set(on_key.evidence["protected_resources"]) == {
        estate.R_GOOD.arn,
        estate.R_PI.arn,
        db.arn,
    }
    copies = [f for f in report.by_rule("public-access") if f.resource_arn]
    assert {c.evidence["key_finding"] for c in copies} == {on_key.fingerprint}
    assert all(c.key_arn == key.arn for c in copies)
    # The AWS-managed key is AWS's business: its policy is not audited.
    assert not [
        f
        for f in report.findings
        if f.key_arn == estate.K_AWS_RDS.arn and f.rule_id == "public-access"
    ]


def test_info_findings_stay_on_the_key_unless_asked(estate: ModuleType) -> None:
    inv, key, _ = _inventory(estate, _policy(ROOT))
    report = cmkguard.audit(inv, now=estate.NOW)
    assert _pairs(report, "root-delegation") == {key.arn}
    everything = AuditPolicy(blast_radius_min_severity=Severity.INFO)
    wide = cmkguard.audit(inv, everything, now=estate.NOW)
    assert len(_pairs(wide, "root-delegation")) == 4


def test_trusted_accounts_downgrade_cross_account_access(estate: ModuleType) -> None:
    inv, key, _ = _inventory(estate, _policy(ROOT, PARTNER))
    plain = cmkguard.audit(inv, now=estate.NOW)
    (f,) = [f for f in plain.by_rule("cross-account-access") if f.resource_arn is None]
    assert f.severity is Severity.HIGH
    assert len(plain.by_rule("cross-account-access")) == 4
    trusted = cmkguard.audit(inv, AuditPolicy(trusted_accounts=("444455556666",)), now=estate.NOW)
    found = trusted.by_rule("cross-account-access")
    assert [g.target for g in found] == [key.arn]  # info: not copied onto resources
    assert found[0].severity < Severity.HIGH
    assert found[0].evidence["downgraded"] is True
    # Same problem, same fingerprint, whatever the severity.
    assert found[0].fingerprint == f.fingerprint


def test_grant_to_another_account(estate: ModuleType) -> None:
    grant = Grant(
        grant_id="g-1",
        grantee_principal="arn:aws:iam::444455556666:role/reader",
        operations=("Decrypt",),
    )
    inv, key, _ = _inventory(estate, _policy(ROOT), grants=(grant,))
    report = cmkguard.audit(inv, now=estate.NOW)
    found = report.by_rule("grant-cross-account")
    assert {f.target for f in found} >= {key.arn, estate.R_GOOD.arn}
    assert all(f.evidence["source"] == "grant" for f in found)


def test_unparseable_policy_is_its_own_finding(estate: ModuleType) -> None:
    inv, key, _ = _inventory(estate, '{"Statement": [{"Effect": "Allow", "Action": "kms:*"}]}')
    report = cmkguard.audit(inv, now=estate.NOW)
    (f,) = report.by_rule("key-policy-unparseable")
    assert f.key_arn == key.arn
    assert "Principal" in f.message or "principal" in f.message.lower()


def test_policy_severity_override_applies(estate: ModuleType) -> None:
    inv, _, _ = _inventory(estate, _policy(ROOT, PUBLIC))
    policy = AuditPolicy(severity_overrides={"public-access": Severity.HIGH})
    report = cmkguard.audit(inv, policy, now=estate.NOW)
    assert {f.severity for f in report.by_rule("public-access")} == {Severity.HIGH}


def test_protected_resources_evidence_is_capped(estate: ModuleType) -> None:
    inv, _key, _ = _inventory(estate, _policy(ROOT, PUBLIC))
    many = [
        attrs.evolve(estate.R_GOOD, arn=f"{estate.R_GOOD.arn}-{i}", name=f"db-{i}")
        for i in range(60)
    ]
    report = cmkguard.audit(attrs.evolve(inv, resources=many), now=estate.NOW)
    (on_key,) = [f for f in report.by_rule("public-access") if f.resource_arn is None]
    assert on_key.evidence["protected_count"] == 60
    assert len(on_key.evidence["protected_resources"]) == 50
    assert len(report.by_rule("public-access")) == 61
