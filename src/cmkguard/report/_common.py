"""Helpers shared by the exports: ARN parts and AWS resource-type names."""

from __future__ import annotations

from cmkguard.arn import parse_arn
from cmkguard.auditing.finding import Finding

__all__ = ["ASFF_RESOURCE_TYPES", "partition_of", "primary_arn"]

ASFF_RESOURCE_TYPES: dict[str, str] = {
    "rds:db-instance": "AwsRdsDbInstance",
    "rds:db-cluster": "AwsRdsDbCluster",
    "rds:db-snapshot": "AwsRdsDbSnapshot",
    "rds:db-cluster-snapshot": "AwsRdsDbClusterSnapshot",
    "secretsmanager:secret": "AwsSecretsManagerSecret",
    "kms:key": "AwsKmsKey",
}
"""cmkguard resource types -> Security Hub resource types (unknown ones become `Other`)."""


def partition_of(arn: str | None) -> str:
    """The partition of an ARN (`aws` when absent or unparsable)."""
    if arn:
        try:
            return parse_arn(arn).partition
        except ValueError:
            pass
    return "aws"


def primary_arn(f: Finding) -> str | None:
    """The ARN a finding is about: resource first, then key."""
    return f.resource_arn or f.key_arn
