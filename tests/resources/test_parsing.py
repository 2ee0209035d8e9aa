"""Resource specs read API items purely: the fields moto does not return are tested here."""

from __future__ import annotations

from datetime import UTC, datetime

from cmkguard.resources import get_resource_type
from cmkguard.types import Region

EU = Region("eu-west-1")


def test_an_instance_records_its_performance_insights_and_master_secret_keys() -> None:
    item = {
        "DBInstanceArn": "arn:aws:rds:eu-west-1:111122223333:db:orders",
        "DBInstanceIdentifier": "orders",
        "StorageEncrypted": True,
        "KmsKeyId": "arn:aws:kms:eu-west-1:111122223333:key/1",
        "PerformanceInsightsEnabled": True,
        "PerformanceInsightsKMSKeyId": "arn:aws:kms:eu-west-1:111122223333:key/2",
        "MasterUserSecret": {"SecretArn": "arn:aws:secretsmanager:eu-west-1:1:secret:rds!db"},
        "Engine": "postgres",
        "DBInstanceClass": "db.r6g.large",
        "MultiAZ": True,
        "ReadReplicaSourceDBInstanceIdentifier": "primary",
        "InstanceCreateTime": datetime(2026, 1, 1, tzinfo=UTC),
        "TagList": [{"Key": "team", "Value": "orders"}],
    }
    raw = get_resource_type("rds:db-instance").parse(item, EU)
    assert raw is not None
    assert raw.key.reference == "arn:aws:kms:eu-west-1:111122223333:key/1"
    uses = {k.purpose: k for k in raw.secondary}
    assert uses["performance-insights"].reference.endswith("key/2")  # type: ignore[union-attr]
    secret = uses["master-user-secret"]
    assert secret.reference is None
    assert secret.default_alias == "alias/aws/secretsmanager"
    assert raw.details["read_replica_source"] == "primary"
    assert raw.details["multi_az"] is True
    assert raw.tags == {"team": "orders"}


def test_an_unencrypted_snapshot_has_no_key_reference() -> None:
    item = {
        "DBSnapshotArn": "arn:aws:rds:eu-west-1:1:snapshot:s",
        "DBSnapshotIdentifier": "s",
        "Encrypted": False,
        "SnapshotType": "automated",
        "SnapshotCreateTime": datetime(2026, 1, 1, tzinfo=UTC),
    }
    raw = get_resource_type("rds:db-snapshot").parse(item, EU)
    assert raw is not None
    assert (raw.key.encrypted, raw.key.reference) == (False, None)
    # None values are dropped and datetimes are ISO text, so details survive JSON.
    assert raw.details == {"snapshot_type": "automated", "created": "2026-01-01T00:00:00+00:00"}


def test_a_replicated_primary_secret_lists_each_replica_key() -> None:
    spec = get_resource_type("secretsmanager:secret")
    item = {
        "ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:app-x",
        "Name": "app",
        "PrimaryRegion": "eu-west-1",
        "RotationLambdaARN": "arn:aws:lambda:eu-west-1:1:function:rotate",
        "RotationEnabled": True,
        "ReplicationStatus": [
            {"Region": "us-east-1", "KmsKeyId": "alias/app", "Status": "InSync"},
            {"Region": "ap-east-1", "Status": "InSync"},
        ],
    }
    assert spec.detail_request is not None
    assert spec.detail_request(item, EU) == {"SecretId": item["ARN"]}
    assert spec.detail_request({**item, "PrimaryRegion": "us-east-1"}, EU) is None
    raw = spec.parse(item, EU)
    assert raw is not None
    assert raw.key.reference is None
    assert raw.key.default_alias == "alias/aws/secretsmanager"
    replicas = [(k.region, k.reference, k.default_alias) for k in raw.secondary]
    assert replicas == [
        ("us-east-1", "alias/app", "alias/aws/secretsmanager"),
        ("ap-east-1", None, "alias/aws/secretsmanager"),
    ]
    assert raw.details["rotation_lambda_arn"].endswith(":rotate")
