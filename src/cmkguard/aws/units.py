"""The units of work of a scan, and the function that runs one: plain data in, plain data out.

Every unit names an account, a region and a :class:`~cmkguard.aws.spec.SessionSpec`, so any
``concurrent.futures.Executor`` (threads, processes, a dask/ray adapter) can run
:func:`run_unit`. Results are frozen values that pickle. Failed calls become
:class:`~cmkguard.models.ScanError` records in the result; only bugs raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import botocore

from cmkguard.arn import parse_arn
from cmkguard.aws import kms
from cmkguard.aws.errormap import CALL_ERRORS, failure
from cmkguard.aws.paging import iter_items
from cmkguard.aws.spec import SessionSpec, client_for
from cmkguard.models import KmsKey, ScanError
from cmkguard.resources import RawResource, get_resource_type
from cmkguard.types import KeyArn

__all__ = [
    "DescribeUnit",
    "KeyListUnit",
    "KeyReadUnit",
    "KeyUnit",
    "LinkedUnit",
    "ResourceUnit",
    "ScanUnit",
    "UnitResult",
    "run_unit",
]


@attrs.frozen
class ResourceUnit:
    """List one resource type in one account and region."""

    spec: SessionSpec
    account: str
    region: str
    resource_type: str

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/{self.resource_type}"


@attrs.frozen
class KeyListUnit:
    """List the KMS keys and aliases of one account and region."""

    spec: SessionSpec
    account: str
    region: str

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/kms:keys"


@attrs.frozen
class KeyUnit:
    """Describe one key and read what applies to it (tags, rotation, policy, grants)."""

    spec: SessionSpec
    account: str
    region: str
    key_arn: str
    aliases: tuple[str, ...] = ()
    tags: Mapping[str, str] | None = attrs.field(default=None, hash=False)
    """The key's tags from the region's tag listing; ``None``: read them per key."""

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/kms:key {self.key_arn}"


@attrs.frozen
class KeyReadUnit:
    """One of a described customer-managed key's reads (tags, rotation, policy, grants)."""

    spec: SessionSpec
    account: str
    region: str
    key_arn: str
    operation: str
    metadata: Mapping[str, Any] = attrs.field(hash=False)

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/kms:{self.operation} {self.key_arn}"


@attrs.frozen
class DescribeUnit:
    """Describe a key identifier no listing resolved (another account's key, a missing alias)."""

    spec: SessionSpec
    account: str
    region: str
    reference: str

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/kms:describe {self.reference}"


@attrs.frozen
class LinkedUnit:
    """Read one linked resource's key (a secret's rotation Lambda), once per ARN and account.

    ``resource_type`` and ``purpose`` name the :class:`~cmkguard.resources.LinkedKeySource`
    (of that type's spec) that says what to call; ``region`` is the linked resource's own.
    """

    spec: SessionSpec
    account: str
    region: str
    resource_type: str
    purpose: str
    arn: str

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/{self.purpose} {self.arn}"


ScanUnit = ResourceUnit | KeyListUnit | KeyUnit | KeyReadUnit | DescribeUnit | LinkedUnit
"""Any unit :func:`run_unit` accepts."""


@attrs.frozen
class UnitResult:
    """What a unit produced. ``listing_failed``: the unit's main listing could not be read."""

    unit: ScanUnit
    resources: tuple[RawResource, ...] = ()
    key: KmsKey | None = None
    key_arns: tuple[KeyArn, ...] = ()
    aliases: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    errors: tuple[ScanError, ...] = ()
    listing_failed: bool = False
    denied_reason: str | None = None
    metadata: Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    value: Any = attrs.field(default=None, hash=False)
    key_tags: Mapping[str, Mapping[str, str]] | None = attrs.field(default=None, hash=False)

    @property
    def items(self) -> int:
        """How many things the unit found (resources, keys)."""
        return len(self.resources) + len(self.key_arns) + (1 if self.key else 0)


def _error(
    unit: ScanUnit,
    operation: str,
    exc: BaseException,
    resource_type: str | None = None,
    target: str | None = None,
) -> ScanError:
    code, reason = failure(exc)
    return ScanError(unit.account, unit.region, operation, reason, resource_type, code, target)


def _run_resources(unit: ResourceUnit) -> UnitResult:
    rtype = get_resource_type(unit.resource_type)
    client = client_for(unit.spec, rtype.service, unit.region)
    region = unit.region
    out: list[RawResource] = []
    errors: list[ScanError] = []
    failed = False
    try:
        for item in iter_items(client, rtype.operation, rtype.result_key, rtype.params):
            merged: Mapping[str, Any] = item
            if rtype.detail_request is not None and rtype.detail_operation is not None:
                request = rtype.detail_request(item, region)  # type: ignore[arg-type]
                if request is not None:
                    try:
                        call = getattr(client, botocore.xform_name(rtype.detail_operation))
                        detail = call(**request)
                        merged = {**item, **detail}
                    except CALL_ERRORS as exc:
                        target = str(request.get("SecretId") or next(iter(request.values()), ""))
                        errors.append(_error(unit, rtype.detail_operation, exc, rtype.name, target))
            try:
                parsed = rtype.parse(merged, region)  # type: ignore[arg-type]
            except (KeyError, TypeError, ValueError) as exc:
                errors.append(
                    ScanError(
                        unit.account,
                        region,
                        rtype.operation,
                        f"unexpected response shape ({type(exc).__name__}: {exc})",
                        rtype.name,
                    )
                )
                continue
            if parsed is not None:
                out.append(parsed)
    except CALL_ERRORS as exc:
        failed = True
        errors.append(_error(unit, rtype.operation, exc, rtype.name))
    return UnitResult(unit, resources=tuple(out), errors=tuple(errors), listing_failed=failed)


def _run_key_list(unit: KeyListUnit) -> UnitResult:
    client = client_for(unit.spec, "kms", unit.region)
    errors: list[ScanError] = []
    try:
        arns = tuple(kms.list_key_arns(client))
    except CALL_ERRORS as exc:
        return UnitResult(unit, errors=(_error(unit, "ListKeys", exc),), listing_failed=True)
    aliases: dict[str, str] = {}
    try:
        aliases = kms.list_aliases(client)
    except CALL_ERRORS as exc:
        errors.append(_error(unit, "ListAliases", exc))
    tags: dict[str, dict[str, str]] | None = None
    if arns:
        try:
            tags = kms.list_key_tags(client_for(unit.spec, "resourcegroupstaggingapi", unit.region))
        except CALL_ERRORS:
            # Not an error: each key's tags are then read with kms:ListResourceTags instead.
            tags = None
    return UnitResult(unit, key_arns=arns, aliases=aliases, errors=tuple(errors), key_tags=tags)


def _run_key(unit: KeyUnit) -> UnitResult:
    """Describe the key; an AWS-managed key is then complete, a CMK's reads follow as units."""
    client = client_for(unit.spec, "kms", unit.region)
    try:
        metadata = kms.describe_key(client, unit.key_arn)
    except CALL_ERRORS as exc:
        error = _error(unit, "DescribeKey", exc, target=unit.key_arn)
        return UnitResult(unit, errors=(error,), denied_reason=error.reason)
    if metadata.get("KeyManager") == "AWS":
        return UnitResult(unit, key=kms.assemble_key(metadata, unit.aliases, {}))
    return UnitResult(unit, metadata=metadata)


def _run_key_read(unit: KeyReadUnit) -> UnitResult:
    client = client_for(unit.spec, "kms", unit.region)
    try:
        value = kms.read_one(client, unit.metadata, unit.operation)
    except CALL_ERRORS as exc:
        return UnitResult(unit, errors=(_error(unit, unit.operation, exc, target=unit.key_arn),))
    return UnitResult(unit, value=value)


def _run_describe(unit: DescribeUnit) -> UnitResult:
    client = client_for(unit.spec, "kms", unit.region)
    try:
        metadata = kms.describe_key(client, unit.reference)
    except CALL_ERRORS as exc:
        error = _error(unit, "DescribeKey", exc, target=unit.reference)
        return UnitResult(unit, errors=(error,), denied_reason=error.reason)
    # Another account's key: metadata only (its policy and grants are not ours to read).
    owner = metadata.get("AWSAccountId") or parse_arn(metadata["Arn"]).account
    if owner != unit.account or metadata.get("KeyManager") == "AWS":
        rotation = kms.AWS_MANAGED_ROTATION if metadata.get("KeyManager") == "AWS" else None
        return UnitResult(unit, key=kms.key_from_metadata(metadata, rotation=rotation))
    key, errors = kms.read_key(client, metadata, (), unit.account)
    return UnitResult(unit, key=key, errors=tuple(errors))


def _run_linked(unit: LinkedUnit) -> UnitResult:
    """``value`` is the key reference the linked resource reports (``None``: its default)."""
    source = get_resource_type(unit.resource_type).linked_source(unit.purpose)
    client = client_for(unit.spec, source.service, unit.region)
    try:
        response = getattr(client, botocore.xform_name(source.operation))(
            **{source.request_param: unit.arn}
        )
    except CALL_ERRORS as exc:
        return UnitResult(
            unit, errors=(_error(unit, source.operation, exc, unit.resource_type, unit.arn),)
        )
    return UnitResult(unit, value=response.get(source.key_field) or None)


def run_unit(unit: ScanUnit) -> UnitResult:
    """Run one unit in this thread or process and return what it found."""
    if isinstance(unit, ResourceUnit):
        return _run_resources(unit)
    if isinstance(unit, KeyListUnit):
        return _run_key_list(unit)
    if isinstance(unit, KeyUnit):
        return _run_key(unit)
    if isinstance(unit, KeyReadUnit):
        return _run_key_read(unit)
    if isinstance(unit, LinkedUnit):
        return _run_linked(unit)
    return _run_describe(unit)
