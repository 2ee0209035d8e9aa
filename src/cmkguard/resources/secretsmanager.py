"""Secrets Manager: secrets, their replicas' keys, and who owns them.

`ListSecrets` carries `KmsKeyId` (absent: `aws/secretsmanager`), `Tags`,
`OwningService` and the rotation settings, so one listing is enough for almost every secret.
Only a replicated primary (`PrimaryRegion` equal to the listing region) is described, for
its `ReplicationStatus`: each replica region has its own key. Replicas found in other scanned
regions are linked to their primary as well (`_link_replicas`), which covers services
that do not echo `PrimaryRegion` on the primary. The secret's value is never read.

A rotating secret's Lambda (`RotationLambdaARN`) handles the plaintext during rotation, and
its environment variables are encrypted with the function's own key: the scan reads each
distinct Lambda's configuration once (`GetFunctionConfiguration`; `KMSKeyArn` absent means
the AWS-managed `aws/lambda` key) and records it as a `rotation-lambda` key use on the
primary secret (a replica is rotated through its primary, so it gets none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from cmkguard.arn import parse_arn
from cmkguard.resources.base import (
    STORAGE,
    KeyRef,
    LinkedKeySource,
    RawResource,
    ResourceType,
    compact,
)
from cmkguard.resources.base import tags_from_pairs as _tags
from cmkguard.types import Region, ResourceArn, ResourceTypeName

__all__ = ["DEFAULT_ALIAS", "LAMBDA_DEFAULT_ALIAS", "RESOURCE_TYPES", "ROTATION_LAMBDA", "SECRET"]

DEFAULT_ALIAS = "alias/aws/secretsmanager"
"""The AWS-managed key a secret uses when it names none."""

LAMBDA_DEFAULT_ALIAS = "alias/aws/lambda"
"""The AWS-managed key of a Lambda function's environment when `KMSKeyArn` is absent."""

REPLICA = "replica"


def _rotation_lambda_arn(res: RawResource) -> str | None:
    arn = res.details.get("rotation_lambda_arn")
    if not isinstance(arn, str) or not arn or res.details.get("is_replica"):
        return None
    return arn


ROTATION_LAMBDA = LinkedKeySource(
    purpose="rotation-lambda",
    target=_rotation_lambda_arn,
    service="lambda",
    operation="GetFunctionConfiguration",
    request_param="FunctionName",
    key_field="KMSKeyArn",
    default_alias=LAMBDA_DEFAULT_ALIAS,
)
"""A rotating secret's Lambda and the key of its environment variables."""


def _replica_refs(item: Mapping[str, Any]) -> tuple[KeyRef, ...]:
    return tuple(
        KeyRef(
            REPLICA,
            Region(r["Region"]),
            r.get("KmsKeyId"),
            default_alias=DEFAULT_ALIAS,
            detail=r.get("Status"),
        )
        for r in item.get("ReplicationStatus") or ()
        if r.get("Region")
    )


def _secret(item: Mapping[str, Any], region: Region) -> RawResource:
    primary = item.get("PrimaryRegion")
    return RawResource(
        arn=ResourceArn(item["ARN"]),
        name=item["Name"],
        key=KeyRef(STORAGE, region, item.get("KmsKeyId"), default_alias=DEFAULT_ALIAS),
        tags=_tags(item.get("Tags")),
        details=compact(
            {
                "owning_service": item.get("OwningService"),
                "rotation_enabled": bool(item.get("RotationEnabled")),
                "rotation_lambda_arn": item.get("RotationLambdaARN"),
                "last_rotated": item.get("LastRotatedDate"),
                "primary_region": primary,
                "is_replica": bool(primary) and primary != region,
                "deleted": item.get("DeletedDate"),
            }
        ),
        secondary=_replica_refs(item),
    )


def _describe_if_replicated(item: Mapping[str, Any], region: Region) -> dict[str, Any] | None:
    # Only a replicated primary has a ReplicationStatus worth a request.
    if item.get("PrimaryRegion") == region:
        return {"SecretId": item["ARN"]}
    return None


def _link_replicas(resources: Sequence[RawResource]) -> list[RawResource]:
    """Attach replicas seen in other scanned regions to their primary (same name and account)."""
    replicas: dict[tuple[str, str], list[RawResource]] = {}
    for res in resources:
        primary = res.details.get("primary_region")
        if res.details.get("is_replica") and primary:
            arn = parse_arn(res.arn)
            replicas.setdefault((arn.account, f"{primary}:{arn.resource}"), []).append(res)
    if not replicas:
        return list(resources)
    out: list[RawResource] = []
    for res in resources:
        arn = parse_arn(res.arn)
        found = replicas.get((arn.account, f"{arn.region}:{arn.resource}"))
        if found and not res.details.get("is_replica"):
            known = {k.region for k in res.secondary if k.purpose == REPLICA}
            extra = tuple(
                attrs.evolve(r.key, purpose=REPLICA, detail="seen in its region")
                for r in found
                if r.key.region not in known
            )
            res = attrs.evolve(res, secondary=res.secondary + extra)
        out.append(res)
    return out


SECRET = ResourceType(
    name=ResourceTypeName("secretsmanager:secret"),
    service="secretsmanager",
    operation="ListSecrets",
    result_key="SecretList",
    parse=_secret,
    iam_actions=(
        "secretsmanager:ListSecrets",
        "secretsmanager:DescribeSecret",
        ROTATION_LAMBDA.iam_action,
    ),
    description="Secrets, with their replicas' keys, owning service and rotation Lambda's key",
    detail_operation="DescribeSecret",
    detail_request=_describe_if_replicated,
    link=_link_replicas,
    linked=(ROTATION_LAMBDA,),
)

RESOURCE_TYPES = (SECRET,)
"""The types this module registers."""
