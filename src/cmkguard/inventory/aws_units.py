"""The AWS edge of a scan: `run_unit` runs one unit (plain data in, plain data out).

It runs in whichever thread or process the executor chose. Failed calls become
`ScanError` records in the result; only bugs raise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import botocore

from cmkguard._json import json_safe
from cmkguard.arn import parse_arn
from cmkguard.aws.errormap import CALL_ERRORS, UNREADABLE_CODES, failure
from cmkguard.aws.paging import iter_items
from cmkguard.inventory import aws_kms as kms
from cmkguard.inventory.units import (
    AliasListUnit,
    DescribeUnit,
    KeyListUnit,
    KeyReadUnit,
    KeyTagsUnit,
    KeyUnit,
    LinkedUnit,
    ResourceUnit,
    ScanUnit,
    UnitResult,
)
from cmkguard.inventory.values import ScanError
from cmkguard.resources import RawResource, get_resource_type

__all__ = ["run_unit"]


def _error(
    unit: ScanUnit,
    operation: str,
    exc: BaseException,
    resource_type: str | None = None,
    target: str | None = None,
) -> ScanError:
    code, reason = failure(exc)
    return ScanError(unit.account, unit.region, operation, reason, resource_type, code, target)


_CLOCK_FIELDS = frozenset({"LatestRestorableTime"})
"""Describe fields that are a clock reading (they change every second without any change to
the resource): left out of the kept record, so two scans of an unchanged estate are equal."""


def _record(item: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = json_safe({k: v for k, v in item.items() if k not in _CLOCK_FIELDS})
    return record


def _run_resources(unit: ResourceUnit) -> UnitResult:
    rtype = get_resource_type(unit.resource_type)
    client = unit.access.client(rtype.service, unit.region)
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
                # Kept whole: the migration planner restores from these settings, so a plan
                # needs no second round of describes (and no second set of permissions).
                out.append(attrs.evolve(parsed, record=_record(merged)))
    except CALL_ERRORS as exc:
        failed = True
        errors.append(_error(unit, rtype.operation, exc, rtype.name))
    return UnitResult(unit, resources=tuple(out), errors=tuple(errors), listing_failed=failed)


def _run_key_list(unit: KeyListUnit) -> UnitResult:
    client = unit.access.client("kms", unit.region)
    try:
        arns = tuple(kms.list_key_arns(client))
    except CALL_ERRORS as exc:
        return UnitResult(unit, errors=(_error(unit, "ListKeys", exc),), listing_failed=True)
    return UnitResult(unit, key_arns=arns)


def _run_alias_list(unit: AliasListUnit) -> UnitResult:
    client = unit.access.client("kms", unit.region)
    try:
        return UnitResult(unit, aliases=kms.list_aliases(client))
    except CALL_ERRORS as exc:
        return UnitResult(unit, aliases_failed=True, errors=(_error(unit, "ListAliases", exc),))


def _run_key_tags(unit: KeyTagsUnit) -> UnitResult:
    try:
        tags = kms.list_key_tags(unit.access.client("resourcegroupstaggingapi", unit.region))
    except CALL_ERRORS:
        # Not an error: each key's tags are then read with kms:ListResourceTags instead.
        return UnitResult(unit, key_tags=None)
    return UnitResult(unit, key_tags=tags)


def _run_key(unit: KeyUnit) -> UnitResult:
    """Describe the key; an AWS-managed key is then complete, a CMK's reads follow as units."""
    client = unit.access.client("kms", unit.region)
    try:
        metadata = kms.describe_key(client, unit.key_arn)
    except CALL_ERRORS as exc:
        error = _error(unit, "DescribeKey", exc, target=unit.key_arn)
        return UnitResult(unit, errors=(error,), denied_reason=error.reason)
    if metadata.get("KeyManager") == "AWS":
        return UnitResult(unit, key=kms.assemble_key(metadata, unit.aliases, {}))
    return UnitResult(unit, metadata=metadata)


def _run_key_read(unit: KeyReadUnit) -> UnitResult:
    client = unit.access.client("kms", unit.region)
    try:
        value = kms.read_one(client, unit.metadata, unit.operation)
    except CALL_ERRORS as exc:
        return UnitResult(unit, errors=(_error(unit, unit.operation, exc, target=unit.key_arn),))
    return UnitResult(unit, value=value)


def _run_describe(unit: DescribeUnit) -> UnitResult:
    client = unit.access.client("kms", unit.region)
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
    """`value` is the key reference the linked resource reports (`None`: its default)."""
    source = get_resource_type(unit.resource_type).linked_source(unit.purpose)
    client = unit.access.client(source.service, unit.region)
    try:
        response = getattr(client, botocore.xform_name(source.operation))(
            **{source.request_param: unit.arn}
        )
    except CALL_ERRORS as exc:
        return UnitResult(
            unit, errors=(_error(unit, source.operation, exc, unit.resource_type, unit.arn),)
        )
    return UnitResult(unit, value=response.get(source.key_field) or None)


_RUNNERS: dict[type, Callable[[Any], UnitResult]] = {
    ResourceUnit: _run_resources,
    KeyListUnit: _run_key_list,
    AliasListUnit: _run_alias_list,
    KeyTagsUnit: _run_key_tags,
    KeyUnit: _run_key,
    KeyReadUnit: _run_key_read,
    LinkedUnit: _run_linked,
    DescribeUnit: _run_describe,
}


REREADS = 2
"""Times a unit is run again when an answer could not be read at all (a truncated or garbled
body, a proxy's HTML page): botocore retries throttling, 5xx and dropped connections itself,
but not an answer it cannot parse, which a second request usually gets right."""


def run_unit(unit: ScanUnit) -> UnitResult:
    """Run one unit in this thread or process and return what it found.

    Units only read, so one whose answer was unreadable (`UNREADABLE_CODES`) is run again, up
    to `REREADS` times; the errors of its last run are reported.
    """
    runner = _RUNNERS[type(unit)]
    result = runner(unit)
    for _ in range(REREADS):
        if not any(e.error_code in UNREADABLE_CODES for e in result.errors):
            break
        result = runner(unit)
    return result
