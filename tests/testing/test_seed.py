"""seed_estate: the ground truth matches what the emulated AWS reports, resource by resource.

The estate is seeded once for the module (``cmkguard_seeded_estate_module``): these tests only read.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from cmkguard import KeyClass
from cmkguard.testing import EmulatedAWS, GroundTruth
from cmkguard.testing.pytest_plugin import EstateFixture

REGIONS = ("us-east-1", "eu-west-1")
PRIMARY = "111122223333"


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items.extend(page[key])
    return items


def _reported(aws: EmulatedAWS, region: str) -> dict[str, tuple[str, str | None, dict[str, Any]]]:
    """ARN -> (resource type, key identifier as reported, raw record) for one region."""
    rds = aws.client("rds", region=region)
    sm = aws.client("secretsmanager", region=region)
    out: dict[str, tuple[str, str | None, dict[str, Any]]] = {}
    for db in _pages(rds, "describe_db_instances", "DBInstances"):
        out[db["DBInstanceArn"]] = ("rds:db-instance", db.get("KmsKeyId"), db)
    for cluster in _pages(rds, "describe_db_clusters", "DBClusters"):
        out[cluster["DBClusterArn"]] = ("rds:db-cluster", cluster.get("KmsKeyId"), cluster)
    for snap in _pages(rds, "describe_db_snapshots", "DBSnapshots"):
        out[snap["DBSnapshotArn"]] = ("rds:db-snapshot", snap.get("KmsKeyId"), snap)
    for snap in _pages(rds, "describe_db_cluster_snapshots", "DBClusterSnapshots"):
        out[snap["DBClusterSnapshotArn"]] = (
            "rds:db-cluster-snapshot",
            snap.get("KmsKeyId"),
            snap,
        )
    for secret in _pages(sm, "list_secrets", "SecretList"):
        out[secret["ARN"]] = ("secretsmanager:secret", secret.get("KmsKeyId"), secret)
    return out


def _key_arn(aws: EmulatedAWS, region: str, identifier: str) -> tuple[str, str]:
    """(key ARN, KeyManager) of a key identifier, described where the identifier points."""
    if identifier.startswith("arn:"):
        region = identifier.split(":")[3]
    meta = aws.client("kms", region=region).describe_key(KeyId=identifier)["KeyMetadata"]
    return meta["Arn"], meta["KeyManager"]


@pytest.fixture(name="estate", scope="module")
def _estate(cmkguard_seeded_estate_module: EstateFixture) -> EstateFixture:
    return cmkguard_seeded_estate_module


def test_every_reported_resource_is_in_the_truth_and_back(estate: EstateFixture) -> None:
    reported: dict[str, tuple[str, str | None, dict[str, Any]]] = {}
    for region in REGIONS:
        reported.update(_reported(estate.aws, region))
    assert set(reported) == set(estate.truth.resources)
    for arn, (resource_type, _, _) in reported.items():
        assert estate.truth.resources[arn].resource_type == resource_type, arn


def test_every_resource_key_matches_what_aws_reports(estate: EstateFixture) -> None:
    aws = estate.aws
    for region in REGIONS:
        for arn, (_, identifier, raw) in _reported(aws, region).items():
            expected = estate.truth.resources[arn]
            if expected.key_class is KeyClass.UNENCRYPTED:
                assert identifier is None, arn
                continue
            if expected.key_class is KeyClass.AWS_OWNED:
                # How RDS reports an AWS owned key (botocore's RDS model): sse-rds, no key id.
                assert identifier is None, arn
                assert raw["StorageEncryptionType"] == "sse-rds", arn
                assert raw.get("StorageEncrypted") is False, arn
                continue
            if identifier is None:
                # Only a secret on aws/secretsmanager omits its key.
                assert expected.resource_type == "secretsmanager:secret", arn
                assert expected.key_class is KeyClass.AWS_MANAGED, arn
                identifier = "alias/aws/secretsmanager"
            key_arn, manager = _key_arn(aws, region, identifier)
            assert expected.key_arn == key_arn, arn
            if expected.key_class is KeyClass.AWS_MANAGED:
                assert manager == "AWS", arn
            else:
                assert manager == "CUSTOMER", arn
                owner = key_arn.split(":")[4]
                cross = expected.key_class is KeyClass.CROSS_ACCOUNT
                assert (owner != expected.account) == cross, arn
            assert "default_kms_key_id" not in json.dumps(raw, default=str)


def test_keys_match_kms(estate: EstateFixture) -> None:
    aws = estate.aws
    seen: set[str] = set()
    for account in aws.accounts:
        for region in REGIONS:
            kms = aws.client("kms", region=region, account=account)
            for entry in kms.list_keys()["Keys"]:
                meta = kms.describe_key(KeyId=entry["KeyId"])["KeyMetadata"]
                expected = estate.truth.keys[meta["Arn"]]
                seen.add(meta["Arn"])
                assert expected.manager == meta["KeyManager"]
                assert expected.state == meta["KeyState"]
                rotation = kms.get_key_rotation_status(KeyId=entry["KeyId"])
                assert rotation["KeyRotationEnabled"] == expected.rotation_enabled, meta["Arn"]
    assert seen == set(estate.truth.keys)


def test_aws_managed_keys_exist_in_each_region_used(estate: EstateFixture) -> None:
    managed = [k for k in estate.truth.keys.values() if k.manager == "AWS"]
    assert Counter((k.region, k.aliases) for k in managed) == {
        (region, (alias,)): 1
        for region in REGIONS
        for alias in ("alias/aws/rds", "alias/aws/secretsmanager", "alias/aws/lambda")
    }
    # The second account only lends a CMK: it never used an AWS-managed key.
    assert all(k.account == PRIMARY for k in managed)


def test_the_estate_has_every_kind_of_problem(estate: EstateFixture) -> None:
    truth = estate.truth
    for problem in (
        "public-access",
        "cross-account-access",
        "wildcard-actions",
        "rotation-disabled",
        "missing-tags",
        "pending-deletion-in-use",
        "disabled-in-use",
    ):
        assert truth.keys_with_problem(problem), problem
    for problem in ("aws-managed-key", "unencrypted", "cross-account-key"):
        assert truth.resources_with_problem(problem), problem
    for key_class in KeyClass:
        if key_class is not KeyClass.UNKNOWN:
            assert truth.key_class_counts()[key_class] > 0, key_class


def test_keys_in_trouble_are_really_in_use(estate: EstateFixture) -> None:
    truth = estate.truth
    used = {r.key_arn for r in truth.resources.values()}
    for problem in ("pending-deletion-in-use", "disabled-in-use"):
        for key in truth.keys_with_problem(problem):
            assert key.arn in used


def test_resource_types_and_special_resources_are_present(estate: EstateFixture) -> None:
    truth = estate.truth
    types = {r.resource_type for r in truth.resources.values()}
    assert types == {
        "rds:db-instance",
        "rds:db-cluster",
        "rds:db-snapshot",
        "rds:db-cluster-snapshot",
        "secretsmanager:secret",
    }
    snapshot_types = {
        r.details["snapshot_type"] for r in truth.resources_of_type("rds:db-snapshot")
    }
    assert snapshot_types == {"manual", "automated"}
    secrets = truth.resources_of_type("secretsmanager:secret")
    assert any(r.details.get("owning_service") == "rds" for r in secrets)
    assert any(r.details.get("primary_region") for r in secrets)
    assert any(r.details.get("replica_regions") for r in secrets)


def test_rds_managed_secret_is_owned_by_rds(estate: EstateFixture) -> None:
    secret = next(
        r
        for r in estate.truth.resources_of_type("secretsmanager:secret")
        if r.details.get("owning_service") == "rds"
    )
    described = estate.aws.client("secretsmanager", region=secret.region).describe_secret(
        SecretId=secret.arn
    )
    assert described["OwningService"] == "rds"


def test_ground_truth_round_trips_through_json(estate: EstateFixture) -> None:
    text = estate.truth.to_json()
    assert GroundTruth.from_json(text) == estate.truth
    json.loads(text)


def test_expected_values_are_hashable(estate: EstateFixture) -> None:
    resources = set(estate.truth.resources.values())
    keys = set(estate.truth.keys.values())
    assert len(resources) == len(estate.truth.resources)
    assert len(keys) == len(estate.truth.keys)
