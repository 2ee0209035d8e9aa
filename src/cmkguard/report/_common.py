"""Helpers shared by the exports: ARN parts and AWS resource-type names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cmkguard.arn import parse_arn
from cmkguard.auditing.finding import Finding

if TYPE_CHECKING:
    from cmkguard.inventory.values import Inventory

__all__ = ["ASFF_RESOURCE_TYPES", "key_users", "partition_of", "primary_arn"]

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


def key_users(inventory: Inventory) -> dict[str, int]:
    """Per key ARN, how many resources use it (as their key or a secondary one: a replica's,
    a rotation Lambda's), each resource counted once per key."""
    users: dict[str, int] = {}
    for r in inventory.resources:
        for arn in {r.key_arn, *(k.key_arn for k in r.secondary_keys)}:
            if arn:
                users[arn] = users.get(arn, 0) + 1
    return users
