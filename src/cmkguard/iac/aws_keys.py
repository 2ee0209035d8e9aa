"""AWS edge of the infrastructure-code check: resolve literal key identifiers with DescribeKey.

Optional: `check_iac(..., describe=describe_with(access))` looks every literal key id, alias or
ARN up once per region (cached), so that a literal that is really `aws/rds`'s ARN is AWS-managed,
a disabled or pending-deletion key is reported, and a key the caller cannot describe is unknown
with the reason. References to keys declared in the same file never call AWS.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from cmkguard.aws.access import AwsAccess
from cmkguard.aws.errormap import MalformedResponseError
from cmkguard.iac.classify import Describe, KeyFacts

if TYPE_CHECKING:
    import boto3

__all__ = ["describe_with"]


def describe_with(access: AwsAccess | boto3.Session, default_region: str | None = None) -> Describe:
    """A `describe` callable for `check_iac` that calls `kms:DescribeKey` through `access`.

    `access` is an `AwsAccess` (the caller owns its lifetime: close it after the check);
    passing a `boto3.Session` still works for one release, with a `DeprecationWarning`
    (wrap it: `AwsAccess.from_session(session)`). `default_region` is used for identifiers
    whose region the file does not say (an alias name, a key id); it defaults to the access's.
    """
    if not isinstance(access, AwsAccess):
        warnings.warn(
            "describe_with(session) is deprecated: pass an AwsAccess "
            "(cmkguard.aws.AwsAccess.from_session(session))",
            DeprecationWarning,
            stacklevel=2,
        )
        access = AwsAccess.from_session(access)
    return _describer(access, default_region or access.region)


def _describer(access: AwsAccess, default_region: str | None) -> Describe:
    cache: dict[tuple[str, str], KeyFacts] = {}

    def describe(identifier: str, region: str | None) -> KeyFacts | None:
        where = _region_of(identifier) or region or default_region
        if not where:
            return KeyFacts(error="no region to look the key up in")
        if (identifier, where) not in cache:
            cache[(identifier, where)] = _describe_key(access.client("kms", where), identifier)
        return cache[(identifier, where)]

    return describe


def _describe_key(client: Any, identifier: str) -> KeyFacts:
    try:
        meta = client.describe_key(KeyId=identifier)["KeyMetadata"]
    except ClientError as exc:
        err = exc.response.get("Error", {})
        return KeyFacts(error=f"{err.get('Code', 'error')}: {err.get('Message', '')}".strip())
    except (BotoCoreError, MalformedResponseError) as exc:  # unreadable answer: unknown, why
        return KeyFacts(error=str(exc))
    return KeyFacts(
        arn=meta.get("Arn"),
        account=meta.get("AWSAccountId"),
        manager=meta.get("KeyManager"),
        state=meta.get("KeyState"),
    )


def _region_of(identifier: str) -> str | None:
    parts = identifier.split(":")
    return parts[3] if identifier.startswith("arn:") and len(parts) > 3 and parts[3] else None
