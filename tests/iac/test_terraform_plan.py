"""A real Terraform plan (tests/iac/fixtures/terraform/estate, made by regen.sh): every resource
classified as a scan would classify it once applied."""

from __future__ import annotations

import json

import pytest

from cmkguard.iac import IacReport, check_iac, check_text
from cmkguard.inventory.values import KeyClass
from tests.iac.conftest import PLAN

# (address, key class, declared key it resolves to, finding ids)
EXPECTED = [
    ("aws_db_instance.after_apply", "unknown", None, ["resource-key-unknown"]),
    ("aws_db_instance.by_alias", "customer_managed", "aws_kms_key.db", []),
    ("aws_db_instance.cross_account", "cross_account", None, ["resource-cross-account-key"]),
    ("aws_db_instance.default_key", "aws_managed", None, ["rds-instance-aws-managed-key"]),
    ("aws_db_instance.legacy", "unencrypted", None, ["resource-unencrypted"]),
    (
        "aws_db_instance.orders",
        "customer_managed",
        "aws_kms_key.db",
        ["rds-performance-insights-aws-managed-key"],
    ),
    ("aws_db_instance.replica", "customer_managed", "aws_kms_key.db", []),
    ("aws_db_instance.restored", "unknown", None, ["resource-key-unknown"]),
    ("aws_db_instance.via_data", "aws_managed", None, ["rds-instance-aws-managed-key"]),
    ("aws_db_snapshot.orders", "customer_managed", "aws_kms_key.db", []),
    ("aws_db_snapshot_copy.orders", "customer_managed", "aws_kms_key.db", []),
    ("aws_db_snapshot_copy.to_default", "aws_managed", None, ["rds-snapshot-aws-managed-key"]),
    ("aws_kms_alias.db", "customer_managed", "aws_kms_key.db", []),
    ("aws_kms_key.db", "customer_managed", "aws_kms_key.db", ["root-delegation"]),
    (
        "aws_kms_key.wide",
        "customer_managed",
        "aws_kms_key.wide",
        ["key-missing-tags", "public-access", "root-delegation"],
    ),
    ("aws_rds_cluster.aurora_cmk", "customer_managed", "module.kms.aws_kms_key.this", []),
    ("aws_rds_cluster.aurora_default", "aws_owned", None, ["resource-aws-owned-key"]),
    ("aws_rds_cluster.multi_az", "unencrypted", None, ["resource-unencrypted"]),
    (
        "aws_rds_cluster_instance.aurora_cmk[0]",
        "customer_managed",
        "module.kms.aws_kms_key.this",
        ["rds-performance-insights-aws-managed-key"],
    ),
    (
        "aws_rds_cluster_instance.aurora_cmk[1]",
        "customer_managed",
        "module.kms.aws_kms_key.this",
        ["rds-performance-insights-aws-managed-key"],
    ),
    ("aws_rds_cluster_instance.aurora_default", "aws_owned", None, ["resource-aws-owned-key"]),
    ("aws_secretsmanager_secret.api", "aws_managed", None, ["secret-aws-managed-key"]),
    (
        "aws_secretsmanager_secret.db",
        "customer_managed",
        "aws_kms_key.db",
        ["secret-replica-key-class-mismatch"],
    ),
    ("module.db.aws_db_instance.this[0]", "customer_managed", "aws_kms_key.db", []),
    (
        "module.kms.aws_kms_key.this",
        "customer_managed",
        "module.kms.aws_kms_key.this",
        ["key-deletion-window-short", "key-missing-tags", "key-rotation-disabled"],
    ),
]


@pytest.fixture(name="report", scope="module")
def _report() -> IacReport:
    return check_iac([PLAN])


def test_every_resource_is_classified(report: IacReport) -> None:
    got = [
        (
            r.address,
            r.key_class.name.lower(),
            r.key_address,
            sorted(f.rule_id for f in r.findings),
        )
        for r in report.resources
    ]
    assert got == EXPECTED


def test_the_account_comes_from_caller_identity_read_at_plan_time(report: IacReport) -> None:
    assert report.account == "123456789012"


def test_lines_point_at_the_resource_changes_entry(report: IacReport) -> None:
    lines = PLAN.read_text().splitlines()
    for r in report.resources:
        assert r.line is not None
        assert json.dumps(r.address) in lines[r.line - 1], r.address
        assert '"address"' in lines[r.line - 1]


def test_inheritance_and_references_are_explained(report: IacReport) -> None:
    assert report.resource("aws_db_instance.replica").reason == (
        "read replica of aws_db_instance.orders"
    )
    member = report.resource("aws_rds_cluster_instance.aurora_default")
    assert member.reason is not None
    assert member.reason.startswith("member of cluster aws_rds_cluster.aurora_default")
    assert "after apply" in (report.resource("aws_db_instance.after_apply").reason or "")
    restored = report.resource("aws_db_instance.restored").reason or ""
    assert "orders-final-2026-11-30" in restored


def test_secondary_keys(report: IacReport) -> None:
    orders = report.resource("aws_db_instance.orders")
    assert [(k.purpose, k.key_class) for k in orders.secondary_keys] == [
        ("performance-insights", KeyClass.AWS_MANAGED)
    ]
    by_alias = report.resource("aws_db_instance.by_alias")
    assert by_alias.secondary_keys[0].key_address == "aws_kms_key.db"
    db_secret = report.resource("aws_secretsmanager_secret.db")
    assert [(k.purpose, k.region, k.key_class) for k in db_secret.secondary_keys] == [
        ("replica", "us-east-1", KeyClass.AWS_MANAGED)
    ]


def test_json_lists_every_resource_with_file_address_type_and_class(report: IacReport) -> None:
    doc = json.loads(report.to_json())
    assert len(doc["resources"]) == len(EXPECTED)
    first = doc["resources"][0]
    assert first["file"] == str(PLAN)
    assert first["address"] == "aws_db_instance.after_apply"
    assert first["resource_type"] == "aws_db_instance"
    assert first["key_class"] == "unknown"
    assert first["findings"][0]["rule_id"] == "resource-key-unknown"
    assert "logical_id" not in first
    assert doc["summary"]["key_classes"]["aws_owned"] == 2


def test_the_given_account_wins_over_the_plan(report: IacReport) -> None:
    other = check_iac([PLAN], account="999999999999")
    assert other.resource("aws_db_instance.cross_account").key_class is KeyClass.CUSTOMER_MANAGED


def test_a_plan_held_in_memory(report: IacReport) -> None:
    same = check_text(PLAN.read_text(), "plan.json")
    assert [r.key_class for r in same.resources] == [r.key_class for r in report.resources]
    assert {r.file for r in same.resources} == {"plan.json"}
