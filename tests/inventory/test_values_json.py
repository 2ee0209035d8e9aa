"""The inventory's JSON form: a file saved before the cattrs converter loads, and writes back
the same document; bad documents raise `InventoryFormatError` naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cmkguard import (
    ConfigurationError,
    EncryptedResource,
    Grant,
    Inventory,
    InventoryFormatError,
    KeyClass,
    KmsKey,
    RotationStatus,
    ScanError,
)

SAVED = Path(__file__).with_name("data") / "inventory-v1-before-house.json"


@pytest.fixture(name="saved")
def _saved() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SAVED.read_text(encoding="utf-8"))
    return data


def test_an_inventory_saved_before_loads_and_writes_the_same_document(
    saved: dict[str, Any],
) -> None:
    inv = Inventory.from_json(SAVED.read_text(encoding="utf-8"))
    assert len(inv.resources) == 54
    assert len(inv.keys) == 26
    assert len(inv.external_keys) == 2
    assert {e.operation for e in inv.errors} == {"DescribeDBClusterSnapshots"}
    assert isinstance(inv.scanned_at, datetime)
    assert inv.scanned_at.tzinfo is not None
    assert all(isinstance(r.key_class, KeyClass) for r in inv.resources)
    (granted,) = [k for k in inv.keys.values() if k.grants]
    assert granted.grants[0].constraints == {"EncryptionContextSubset": {"app": "orders"}}
    assert granted.grants[0].operations == ("Decrypt", "Encrypt")
    rotated = [k for k in inv.keys.values() if k.rotation and k.rotation.last_rotation]
    assert rotated
    assert isinstance(rotated[0].rotation, RotationStatus)
    assert any(r.secondary_keys for r in inv.resources)
    assert inv.to_dict() == saved  # the format did not change, field for field
    assert inv.to_json() == SAVED.read_text(encoding="utf-8")  # nor byte for byte
    assert Inventory.from_json(inv.to_json()) == inv


def test_every_value_round_trips_through_its_dict() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    key = KmsKey(
        arn="arn:aws:kms:us-east-1:111122223333:key/k",  # type: ignore[arg-type]
        key_id="k",
        account="111122223333",  # type: ignore[arg-type]
        region="us-east-1",  # type: ignore[arg-type]
        manager="CUSTOMER",
        state="Enabled",
        creation_date=when,
        aliases=("alias/a",),
        tags={"owner": "me"},
        rotation=RotationStatus(applicable=True, enabled=True, last_rotation=when),
        grants=(Grant("g", "arn:aws:iam::1:role/r", ("Decrypt",), creation_date=when),),
    )
    for value in (key, key.rotation, key.grants[0], ScanError("1", "r", "Op", "why")):
        assert value is not None
        data = value.to_dict()
        json.dumps(data)  # JSON-able
        assert type(value).from_dict(data) == value
    assert key.to_dict()["creation_date"] == "2026-01-02T03:04:05+00:00"
    assert key.to_dict()["aliases"] == ["alias/a"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["resources"][1].update(key_class="purple"), "$.resources[1].key_class"),
        (lambda d: d["resources"][0].pop("arn"), "$.resources[0].arn"),
        (lambda d: d["resources"][0].update(name=5), "$.resources[0].name"),
        (lambda d: d["keys"][2].update(creation_date=[]), "$.keys[2].creation_date"),
        (lambda d: d.update(errors="nope"), "$.errors"),
        (lambda d: d.update(scanned_at="yesterday"), "$.scanned_at"),
    ],
)
def test_a_bad_field_is_named(saved: dict[str, Any], change: Any, where: str) -> None:
    change(saved)
    with pytest.raises(InventoryFormatError, match="not a cmkguard inventory") as info:
        Inventory.from_dict(saved)
    assert where in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ConfigurationError)


def test_an_unknown_schema_version_is_refused(saved: dict[str, Any]) -> None:
    saved["schema_version"] = 2
    with pytest.raises(InventoryFormatError, match="schema_version 2"):
        Inventory.from_dict(saved)


def test_nulls_and_empty_key_arns_read_as_before() -> None:
    data = EncryptedResource(
        arn="arn:aws:rds:us-east-1:1:db:x",  # type: ignore[arg-type]
        resource_type="rds:db-instance",  # type: ignore[arg-type]
        account="1",  # type: ignore[arg-type]
        region="us-east-1",  # type: ignore[arg-type]
        name="x",
        key_class=KeyClass.UNENCRYPTED,
    ).to_dict()
    data.update(tags=None, details=None, key_arn="")
    again = EncryptedResource.from_dict(data)
    assert (again.tags, again.details, again.key_arn) == ({}, {}, None)


def test_lookups_by_arn_and_by_key_are_indexed(saved: dict[str, Any]) -> None:
    inv = Inventory.from_dict(saved)
    for r in inv.resources:
        assert inv.resource(r.arn) is next(x for x in inv.resources if x.arn == r.arn)
    for arn in inv.keys:
        slow = tuple(
            r
            for r in inv.resources
            if r.key_arn == arn or any(k.key_arn == arn for k in r.secondary_keys)
        )
        assert inv.resources_on_key(arn) == slow
    assert inv.resources_on_key("arn:aws:kms:us-east-1:1:key/none") == ()
    with pytest.raises(KeyError):
        inv.resource("arn:aws:rds:us-east-1:1:db:none")
