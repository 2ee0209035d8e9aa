"""AWS edge of the infrastructure-code check: resolve literal key identifiers with DescribeKey.

Optional: `check_iac(..., describe=describe_with(session))` looks every literal key id, alias or
ARN up once per region (cached), so that a literal that is really `aws/rds`'s ARN is AWS-managed,
a disabled or pending-deletion key is reported, and a key the caller cannot describe is unknown
with the reason. References to keys declared in the same file never call AWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from cmkguard.iac.classify import Describe, KeyFacts

if TYPE_CHECKING:
    import boto3

__all__ = ["describe_with"]


def describe_with(session: boto3.Session, default_region: str | None = None) -> Describe:
    """A `describe` callable for `check_iac` that calls `kms:DescribeKey` through `session`.

    `default_region` is used for identifiers whose region the file does not say (an alias name,
    a key id); it defaults to the session's region.
    """
    clients: dict[str, object] = {}
    cache: dict[tuple[str, str], KeyFacts] = {}

    def describe(identifier: str, region: str | None) -> KeyFacts | None:
        where = _region_of(identifier) or region or default_region or session.region_name
        if not where:
            return KeyFacts(error="no region to look the key up in")
        if (identifier, where) in cache:
            return cache[(identifier, where)]
        client = clients.get(where)
        if client is None:
            client = clients[where] = session.client("kms", region_name=where)
        try:
            meta = client.describe_key(KeyId=identifier)["KeyMetadata"]  # type: ignore[attr-defined]
            facts = KeyFacts(
                arn=meta.get("Arn"),
                account=meta.get("AWSAccountId"),
                manager=meta.get("KeyManager"),
                state=meta.get("KeyState"),
            )
        except ClientError as exc:
            err = exc.response.get("Error", {})
            facts = KeyFacts(error=f"{err.get('Code', 'error')}: {err.get('Message', '')}".strip())
        except BotoCoreError as exc:
            facts = KeyFacts(error=str(exc))
        cache[(identifier, where)] = facts
        return facts

    return describe


def _region_of(identifier: str) -> str | None:
    parts = identifier.split(":")
    return parts[3] if identifier.startswith("arn:") and len(parts) > 3 and parts[3] else None
