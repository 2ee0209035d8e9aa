"""Identifier types shared across cmkguard (NewTypes: free at run time, checked by mypy)."""

from __future__ import annotations

from typing import NewType

__all__ = ["AccountId", "KeyArn", "OrgId", "Region", "ResourceArn", "ResourceTypeName"]

AccountId = NewType("AccountId", str)
"""A 12-digit AWS account id."""
Region = NewType("Region", str)
"""An AWS region name such as `eu-west-1`."""
KeyArn = NewType("KeyArn", str)
"""A KMS key ARN: `arn:aws:kms:<region>:<account>:key/<key-id>`."""
ResourceArn = NewType("ResourceArn", str)
"""The ARN of an encrypted resource (DB instance, snapshot, secret...)."""
ResourceTypeName = NewType("ResourceTypeName", str)
"""A registry name such as `rds:db-instance` or `secretsmanager:secret`."""
OrgId = NewType("OrgId", str)
"""An AWS Organizations id such as `o-a1b2c3d4e5`."""
