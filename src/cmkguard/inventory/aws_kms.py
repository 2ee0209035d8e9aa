"""KMS reads: list a region's keys and aliases, describe a key, read what applies to it.

Request minimisation is deliberate (a real scan is bound by round trips):

* aliases come from one region-wide `ListAliases` listing, and tags from one region-wide
  `tag:GetResources` listing (`ListResourceTags` per key only if that one is denied), never
  one call per key;
* an AWS-managed key gets only `DescribeKey`: its policy cannot be edited, its rotation is
  fixed (yearly, always), it cannot be tagged, so reading those would cost requests and tell
  nothing an audit can act on;
* `GetKeyRotationStatus` is called only where automatic rotation applies (symmetric keys with
  KMS-generated material); other keys are recorded as "not applicable" without a call;
* `ListKeyRotations` (the rotation history, for `RotationStatus.last_rotation`) is
  read once per customer-managed key where rotation applies (one page of up to 1,000
  rotations holds a key's whole history in practice), concurrently with the other reads; the
  newest `RotationDate` wins, whatever order AWS lists them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs
import botocore.exceptions as bx

from cmkguard.arn import parse_arn
from cmkguard.aws.errormap import CALL_ERRORS, error_code, failure
from cmkguard.aws.paging import iter_items
from cmkguard.inventory.values import Grant, KmsKey, RotationStatus, ScanError
from cmkguard.types import AccountId, KeyArn, Region

__all__ = [
    "AWS_MANAGED_ROTATION",
    "KEY_READS",
    "assemble_key",
    "automatic_rotation_dates",
    "describe_key",
    "key_from_metadata",
    "list_aliases",
    "list_key_arns",
    "list_key_tags",
    "newest_rotation",
    "read_key",
    "read_one",
    "rotation_applies",
]

AWS_MANAGED_ROTATION = RotationStatus(
    applicable=True,
    enabled=True,
    period_days=365,
    reason="AWS-managed keys rotate every year; this cannot be changed",
)
"""The rotation of every AWS-managed key (a fact, so it costs no request)."""

# States in which KMS refuses to report rotation (the key material is not usable at all).
_NO_ROTATION_STATES = frozenset({"PendingImport", "Unavailable", "Creating"})


def list_key_arns(client: Any) -> list[KeyArn]:
    """Every key ARN `ListKeys` returns in the client's region (paged)."""
    return [KeyArn(k["KeyArn"]) for k in iter_items(client, "ListKeys", "Keys")]


def list_aliases(client: Any) -> dict[str, str]:
    """Alias name -> target key id, for every alias in the client's region (paged)."""
    return {
        a["AliasName"]: a["TargetKeyId"]
        for a in iter_items(client, "ListAliases", "Aliases")
        if a.get("TargetKeyId")
    }


def list_key_tags(tagging_client: Any) -> dict[str, dict[str, str]]:
    """Key ARN -> tags for every tagged key of the region, in one paged `tag:GetResources`.

    One listing per region instead of one `ListResourceTags` per key; a key it does not
    return has no tags.
    """
    return {
        r["ResourceARN"]: {t["Key"]: t.get("Value", "") for t in r.get("Tags") or ()}
        for r in iter_items(
            tagging_client,
            "GetResources",
            "ResourceTagMappingList",
            {"ResourceTypeFilters": ["kms:key"]},
        )
    }


def describe_key(client: Any, key_id: str) -> dict[str, Any]:
    """`DescribeKey`'s `KeyMetadata` for any identifier form (id, ARN, alias, alias ARN)."""
    metadata: dict[str, Any] = client.describe_key(KeyId=key_id)["KeyMetadata"]
    return metadata


def rotation_applies(metadata: Mapping[str, Any]) -> str | None:
    """`None` when automatic rotation applies to the key, else why it does not."""
    spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    origin = metadata.get("Origin", "AWS_KMS")
    if spec != "SYMMETRIC_DEFAULT":
        return f"automatic rotation does not apply to {spec} keys"
    if origin != "AWS_KMS":
        return f"automatic rotation does not apply to keys with {origin} key material"
    return None


def key_from_metadata(
    metadata: Mapping[str, Any], aliases: tuple[str, ...] = (), **extra: Any
) -> KmsKey:
    """A `KmsKey` from `KeyMetadata` (without the per-key reads)."""
    arn = parse_arn(metadata["Arn"])
    return KmsKey(
        arn=KeyArn(metadata["Arn"]),
        key_id=metadata["KeyId"],
        account=AccountId(metadata.get("AWSAccountId") or arn.account),
        region=Region(arn.region),
        manager=metadata.get("KeyManager", "CUSTOMER"),
        state=metadata.get("KeyState", "Enabled" if metadata.get("Enabled") else "Disabled"),
        spec=metadata.get("KeySpec")
        or metadata.get("CustomerMasterKeySpec")
        or "SYMMETRIC_DEFAULT",
        usage=metadata.get("KeyUsage", "ENCRYPT_DECRYPT"),
        origin=metadata.get("Origin", "AWS_KMS"),
        multi_region=bool(metadata.get("MultiRegion", False)),
        description=metadata.get("Description", ""),
        creation_date=metadata.get("CreationDate"),
        deletion_date=metadata.get("DeletionDate"),
        aliases=aliases,
        **extra,
    )


def _rotation(client: Any, metadata: Mapping[str, Any]) -> RotationStatus:
    reason = rotation_applies(metadata)
    if reason is not None:
        return RotationStatus(applicable=False, reason=reason)
    state = metadata.get("KeyState", "")
    if state in _NO_ROTATION_STATES:
        return RotationStatus(applicable=True, reason=f"rotation status unavailable: key {state}")
    try:
        status = client.get_key_rotation_status(KeyId=metadata["KeyId"])
    except bx.ClientError as exc:
        if error_code(exc) == "KMSInvalidStateException":
            return RotationStatus(applicable=True, reason=f"rotation status unavailable: {state}")
        raise
    # moto omits RotationPeriodInDays and NextRotationDate: leave them None rather than guess.
    return RotationStatus(
        applicable=True,
        enabled=bool(status.get("KeyRotationEnabled")),
        period_days=status.get("RotationPeriodInDays"),
        next_rotation=status.get("NextRotationDate"),
        on_demand_start=status.get("OnDemandRotationStartDate"),
    )


def newest_rotation(entries: Iterable[Mapping[str, Any]]) -> datetime | None:
    """The latest `RotationDate` of `ListKeyRotations` entries (`None`: never rotated).

    The API does not document an order, so the maximum is taken rather than the first or last.
    """
    dates = [e["RotationDate"] for e in entries if isinstance(e.get("RotationDate"), datetime)]
    return max(dates, default=None)


def automatic_rotation_dates(entries: Iterable[Mapping[str, Any]]) -> tuple[datetime, ...]:
    """The dates of the `AUTOMATIC` entries of `ListKeyRotations`, oldest first."""
    return tuple(
        sorted(
            e["RotationDate"]
            for e in entries
            if e.get("RotationType") == "AUTOMATIC" and isinstance(e.get("RotationDate"), datetime)
        )
    )


def _rotation_history(client: Any, metadata: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The key's `ListKeyRotations` entries (`None`: no history to read)."""
    if rotation_applies(metadata) is not None:
        return None  # no history to read: KMS refuses the call for such keys
    if metadata.get("KeyState", "") in _NO_ROTATION_STATES:
        return None
    try:
        return list(
            iter_items(client, "ListKeyRotations", "Rotations", {"KeyId": metadata["KeyId"]})
        )
    except bx.ClientError as exc:
        if error_code(exc) == "KMSInvalidStateException":
            return None
        raise


def _grant(raw: Mapping[str, Any]) -> Grant:
    return Grant(
        grant_id=raw["GrantId"],
        grantee_principal=raw.get("GranteePrincipal", ""),
        operations=tuple(raw.get("Operations", ())),
        retiring_principal=raw.get("RetiringPrincipal"),
        issuing_account=raw.get("IssuingAccount"),
        name=raw.get("Name") or None,
        creation_date=raw.get("CreationDate"),
        constraints=raw.get("Constraints") or None,
    )


KEY_READS = (
    "ListResourceTags",
    "GetKeyRotationStatus",
    "ListKeyRotations",
    "GetKeyPolicy",
    "ListGrants",
)
"""The per-key reads of a customer-managed key, each independent of the others.

A scan skips `ListResourceTags` when the region's `tag:GetResources` listing worked, and
both rotation reads make no request for a key that rotation does not apply to."""


def read_one(client: Any, metadata: Mapping[str, Any], operation: str) -> Any:
    """One of `KEY_READS` for the key `metadata` describes (raises on failure).

    Returns the tags dict, the `RotationStatus`, the rotation history entries (or `None`),
    the policy text, or the grants tuple.
    """
    key_id = metadata["KeyId"]
    if operation == "ListResourceTags":
        return {
            t["TagKey"]: t["TagValue"]
            for t in iter_items(client, "ListResourceTags", "Tags", {"KeyId": key_id})
        }
    if operation == "GetKeyRotationStatus":
        return _rotation(client, metadata)
    if operation == "ListKeyRotations":
        return _rotation_history(client, metadata)
    if operation == "GetKeyPolicy":
        return client.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    if operation == "ListGrants":
        return tuple(
            _grant(g) for g in iter_items(client, "ListGrants", "Grants", {"KeyId": key_id})
        )
    raise ValueError(f"not a key read: {operation}")


def assemble_key(
    metadata: Mapping[str, Any], aliases: tuple[str, ...], values: Mapping[str, Any]
) -> KmsKey:
    """The `KmsKey` from its metadata and the reads that succeeded (by operation)."""
    if metadata.get("KeyManager") == "AWS":
        return key_from_metadata(metadata, aliases, rotation=AWS_MANAGED_ROTATION)
    rotation: RotationStatus | None = values.get("GetKeyRotationStatus")
    history = values.get("ListKeyRotations")
    if rotation is not None and history:
        rotation = attrs.evolve(
            rotation,
            last_rotation=newest_rotation(history),
            automatic_rotations=automatic_rotation_dates(history),
        )
    return key_from_metadata(
        metadata,
        aliases,
        tags=values.get("ListResourceTags") or {},
        rotation=rotation,
        policy=values.get("GetKeyPolicy"),
        grants=values.get("ListGrants") or (),
    )


def read_key(
    client: Any,
    metadata: Mapping[str, Any],
    aliases: tuple[str, ...],
    account: str,
) -> tuple[KmsKey, list[ScanError]]:
    """The key with everything that applies to it, and the reads that failed (sequentially).

    A customer-managed key gets its tags, rotation status (where rotation applies), policy and
    grants; each read that fails becomes a `ScanError` and leaves its field empty. (The
    scan runs the same reads concurrently, one unit each.)
    """
    if metadata.get("KeyManager") == "AWS":
        return assemble_key(metadata, aliases, {}), []
    key_arn = metadata["Arn"]
    region = parse_arn(key_arn).region
    errors: list[ScanError] = []
    values: dict[str, Any] = {}
    for operation in KEY_READS:
        try:
            values[operation] = read_one(client, metadata, operation)
        except CALL_ERRORS as exc:
            code, reason = failure(exc)
            errors.append(ScanError(account, region, operation, reason, None, code, key_arn))
    return assemble_key(metadata, aliases, values), errors
