"""CloudFormation templates (YAML short forms, JSON long forms): every resource classified as a
scan would classify it once the stack is deployed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmkguard.iac import IacReport, check_iac, check_text
from cmkguard.inventory.values import KeyClass
from tests.iac.conftest import CFN_JSON, CFN_YAML

ACCOUNT = "111122223333"

# (logical id, key class, declared key it resolves to, finding ids)
YAML_EXPECTED = [
    ("DataKey", "customer_managed", "DataKey", ["key-rotation-period-too-long", "root-delegation"]),
    ("DataKeyAlias", "customer_managed", "DataKey", []),
    (
        "ExternalAccessKey",
        "customer_managed",
        "ExternalAccessKey",
        ["cross-account-access", "key-missing-tags", "key-rotation-disabled", "root-delegation"],
    ),
    (
        "SigningKey",
        "customer_managed",
        "SigningKey",
        ["key-deletion-window-short", "key-missing-tags", "key-rotation-not-applicable"],
    ),
    ("AuroraCluster", "customer_managed", "DataKey", []),
    ("AuroraWriter", "customer_managed", "DataKey", []),
    ("AuroraDefault", "aws_owned", None, ["resource-aws-owned-key"]),
    ("AuroraDefaultWriter", "aws_owned", None, ["resource-aws-owned-key"]),
    ("AuroraDefaultKey", "aws_managed", None, ["rds-cluster-aws-managed-key"]),
    ("ByAlias", "customer_managed", "DataKey", []),
    ("Imported", "unknown", None, ["resource-key-unknown"]),
    ("SharedKeyDb", "unknown", None, ["resource-key-unknown"]),
    ("DefaultedParamDb", "aws_managed", None, ["rds-instance-aws-managed-key"]),
    ("Conditional", "customer_managed", "DataKey", []),
    ("Unencrypted", "unencrypted", None, ["resource-unencrypted"]),
    ("Replica", "customer_managed", "DataKey", []),
    ("FromSnapshot", "unknown", None, ["resource-key-unknown"]),
    (
        "ApiSecret",
        "aws_managed",
        None,
        ["secret-aws-managed-key", "secret-replica-key-class-mismatch"],
    ),
    ("DbSecret", "customer_managed", "DataKey", ["secret-replica-key-class-mismatch"]),
]

JSON_EXPECTED = [
    ("SecretsKey", "customer_managed", "SecretsKey", ["key-missing-tags", "key-rotation-disabled"]),
    ("JoinedSecret", "customer_managed", "SecretsKey", []),
    ("MappedSecret", "customer_managed", None, []),
    ("SubListSecret", "customer_managed", "SecretsKey", []),
    ("DefaultSecret", "aws_managed", None, ["secret-aws-managed-key"]),
    ("OtherAccountSecret", "cross_account", None, ["resource-cross-account-key"]),
]


def _rows(report: IacReport, file: str) -> list[tuple[str, str, str | None, list[str]]]:
    return [
        (r.address, r.key_class.name.lower(), r.key_address, sorted(f.rule_id for f in r.findings))
        for r in report.resources
        if r.file == file
    ]


@pytest.fixture(name="report", scope="module")
def _report() -> IacReport:
    return check_iac([CFN_YAML.parent], account=ACCOUNT, region="eu-west-1")


def test_yaml_template_short_forms(report: IacReport) -> None:
    assert _rows(report, str(CFN_YAML)) == YAML_EXPECTED


def test_json_template_long_forms_mappings_and_joins(report: IacReport) -> None:
    assert _rows(report, str(CFN_JSON)) == JSON_EXPECTED


def test_types_outside_the_checked_set_are_skipped(report: IacReport) -> None:
    assert "Bucket" not in {r.address for r in report.resources}


def test_lines_point_at_the_logical_id() -> None:
    report = check_iac([CFN_YAML, CFN_JSON], account=ACCOUNT)
    for r in report.resources:
        assert r.line is not None
        text = Path(r.file).read_text(encoding="utf-8").splitlines()[r.line - 1]
        needle = f'"{r.address}":' if r.file.endswith(".json") else f"  {r.address}:"
        assert text.startswith(needle) or text.strip().startswith(needle.strip()), (r.address, text)


def test_aurora_members_take_their_cluster_key_and_pi_is_its_own(report: IacReport) -> None:
    writer = report.resource("AuroraWriter")
    assert writer.reason == "member of cluster AuroraCluster"
    assert [(k.purpose, k.key_class, k.key_address) for k in writer.secondary_keys] == [
        ("performance-insights", KeyClass.CUSTOMER_MANAGED, "DataKey")
    ]
    member = report.resource("AuroraDefaultWriter")
    assert member.reason is not None
    assert "AWS owned key" in member.reason


def test_unknowns_say_why(report: IacReport) -> None:
    assert "Fn::ImportValue security-DatabaseKeyArn" in (report.resource("Imported").reason or "")
    assert "--parameter SharedKeyArn=" in (report.resource("SharedKeyDb").reason or "")
    assert "not declared here" in (report.resource("FromSnapshot").reason or "")
    assert report.complete is False
    assert any("SharedKeyDb" in gap for gap in report.gaps)


def test_parameters_change_the_verdict() -> None:
    other_key = "arn:aws:kms:eu-west-1:999999999999:key/7d1f8e2a-3b4c-4d5e-8f90-a1b2c3d4e5f6"
    report = check_iac(
        [CFN_YAML],
        account=ACCOUNT,
        parameters={"SharedKeyArn": other_key, "UseCmk": "false"},
    )
    assert report.resource("SharedKeyDb").key_class is KeyClass.CROSS_ACCOUNT
    # WantCmk false: the Fn::If picks AWS::NoValue, storage encryption on -> aws/rds.
    assert report.resource("Conditional").key_class is KeyClass.AWS_MANAGED
    dev = check_iac([CFN_JSON], account=ACCOUNT, parameters={"Stage": "dev"})
    assert dev.resource("MappedSecret").key_class is KeyClass.AWS_MANAGED


def test_trusted_accounts_silence_the_cross_account_finding() -> None:
    from cmkguard.auditing.config import AuditPolicy

    report = check_iac(
        [CFN_JSON], account=ACCOUNT, policy=AuditPolicy(trusted_accounts=("999999999999",))
    )
    secret = report.resource("OtherAccountSecret")
    assert secret.key_class is KeyClass.CROSS_ACCOUNT
    assert secret.findings == ()


def test_unknown_account_makes_a_foreign_literal_unknown_not_customer_managed() -> None:
    report = check_iac([CFN_JSON])
    secret = report.resource("OtherAccountSecret")
    assert secret.key_class is KeyClass.UNKNOWN
    assert "deploying account is not known" in (secret.reason or "")


def test_aurora_storage_encrypted_false_is_unencrypted_and_no_value_is_absent() -> None:
    template = """
Resources:
  Off:
    Type: AWS::RDS::DBCluster
    Properties: {Engine: aurora-postgresql, StorageEncrypted: false}
  NoKey:
    Type: AWS::RDS::DBCluster
    Properties: {Engine: aurora-postgresql, KmsKeyId: !Ref AWS::NoValue}
  Serverless:
    Type: AWS::RDS::DBCluster
    Properties: {Engine: aurora-mysql, EngineMode: serverless}
  MultiAz:
    Type: AWS::RDS::DBCluster
    Properties: {Engine: postgres, DBClusterInstanceClass: db.m6gd.large}
"""
    report = check_text(template, "t.yaml", account=ACCOUNT)
    assert report.resource("NoKey").key_class is KeyClass.AWS_OWNED
    assert report.resource("Serverless").key_class is KeyClass.AWS_MANAGED
    assert report.resource("MultiAz").key_class is KeyClass.UNENCRYPTED
    off = report.resource("Off")
    # DescribeDBClusters reports an AWS owned key as StorageEncrypted false + StorageEncryptionType
    # sse-rds (botocore rds 2014-10-31): the Aurora default is encrypted whatever false says.
    assert off.key_class is KeyClass.AWS_OWNED
