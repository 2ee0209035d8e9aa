"""EventBridge rules for high-risk KMS events and resource creations off the approved CMKs.

Pure: each `AlertRule` carries its event pattern (checked by `validate_event_pattern`), a
description that says what it catches and its caveats. CloudTrail delivers these management
events to EventBridge on the default bus of the region where the call was made; deploy the rules
in every region you use (and `us-east-1` is not special for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from cmkguard.guardrails.event_pattern import validate_event_pattern

__all__ = [
    "HIGH_RISK_KMS_EVENTS",
    "RDS_CREATION_EVENTS",
    "SECRET_KEY_EVENTS",
    "AlertRule",
    "alert_rules",
]

HIGH_RISK_KMS_EVENTS: tuple[str, ...] = (
    "DisableKey",
    "ScheduleKeyDeletion",
    "PutKeyPolicy",
    "DeleteAlias",
    "UpdateAlias",
    "DisableKeyRotation",
    "DeleteImportedKeyMaterial",
)
"""KMS API calls that can cut a resource off its key or widen who can use it."""

RDS_CREATION_EVENTS: tuple[str, ...] = (
    "CreateDBInstance",
    "CreateDBCluster",
    "CreateDBInstanceReadReplica",
    "RestoreDBInstanceFromDBSnapshot",
    "RestoreDBInstanceToPointInTime",
    "RestoreDBInstanceFromS3",
    "RestoreDBClusterFromS3",
    "RestoreDBClusterFromSnapshot",
    "RestoreDBClusterToPointInTime",
    "CopyDBSnapshot",
    "CopyDBClusterSnapshot",
)
"""RDS calls that create storage which may land on `aws/rds`."""

SECRET_KEY_EVENTS: tuple[str, ...] = ("CreateSecret", "UpdateSecret", "ReplicateSecretToRegions")
"""Secrets Manager calls that choose (or revert) a secret's key."""

_CLOUDTRAIL = "AWS API Call via CloudTrail"


@attrs.frozen
class AlertRule:
    """One EventBridge rule: `name`, `description` (with caveats) and `pattern`."""

    name: str
    description: str
    pattern: Mapping[str, Any] = attrs.field(hash=False)

    def __attrs_post_init__(self) -> None:
        validate_event_pattern(self.pattern)

    def to_dict(self) -> dict[str, Any]:
        """`PutRule`'s shape: `Name`, `Description`, `EventPattern` (an object here)."""
        return {"Name": self.name, "Description": self.description, "EventPattern": self.pattern}


_AWS_ALIAS = ["", {"prefix": "alias/aws/"}, {"wildcard": "arn:*:kms:*:*:alias/aws/*"}]
"""An empty key (revert to the default), an `alias/aws/...` name or such an alias's ARN."""


def _aws_managed_key() -> list[Any]:
    # ...or no key at all: the service's default key.
    return [{"exists": False}, *_AWS_ALIAS]


def alert_rules(*, name_prefix: str = "cmkguard") -> tuple[AlertRule, ...]:
    """The alert rules: high-risk KMS events, grants made by a caller, creations off CMKs."""
    return (
        AlertRule(
            f"{name_prefix}-kms-high-risk",
            "KMS calls that disable, delete or re-point a key or widen its policy.",
            {
                "source": ["aws.kms"],
                "detail-type": [_CLOUDTRAIL],
                "detail": {
                    "eventSource": ["kms.amazonaws.com"],
                    "eventName": list(HIGH_RISK_KMS_EVENTS),
                },
            },
        ),
        AlertRule(
            f"{name_prefix}-kms-grant-by-caller",
            "kms:CreateGrant called directly by a principal, not by an AWS service on its "
            "behalf (service calls carry userIdentity.invokedBy).",
            {
                "source": ["aws.kms"],
                "detail-type": [_CLOUDTRAIL],
                "detail": {
                    "eventSource": ["kms.amazonaws.com"],
                    "eventName": ["CreateGrant"],
                    "userIdentity": {"invokedBy": [{"exists": False}]},
                },
            },
        ),
        AlertRule(
            f"{name_prefix}-rds-default-key",
            "RDS storage created without a KMS key or on alias/aws/rds. Caveat: restores, "
            "read replicas and Aurora instances legitimately omit the key (they take the "
            "snapshot's, source's or cluster's): review those, the audit tells the final key.",
            {
                "source": ["aws.rds"],
                "detail-type": [_CLOUDTRAIL],
                "detail": {
                    "eventSource": ["rds.amazonaws.com"],
                    "eventName": list(RDS_CREATION_EVENTS),
                    "requestParameters": {"kmsKeyId": _aws_managed_key()},
                },
            },
        ),
        AlertRule(
            f"{name_prefix}-secret-default-key",
            "A secret created on the default key, reverted to it (UpdateSecret with an empty "
            "or alias/aws/ key) or replicated (ReplicateSecretToRegions: check each replica's "
            "key).",
            {
                "source": ["aws.secretsmanager"],
                "detail-type": [_CLOUDTRAIL],
                "detail": {
                    "eventSource": ["secretsmanager.amazonaws.com"],
                    "$or": [
                        {
                            "eventName": ["CreateSecret"],
                            "requestParameters": {"kmsKeyId": _aws_managed_key()},
                        },
                        {
                            "eventName": ["UpdateSecret"],
                            "requestParameters": {"kmsKeyId": list(_AWS_ALIAS)},
                        },
                        {"eventName": ["ReplicateSecretToRegions"]},
                    ],
                },
            },
        ),
    )
