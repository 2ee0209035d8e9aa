"""Saved documents read back: anything that is not one is a typed `DocumentError`."""

from __future__ import annotations

import pytest

from cmkguard import Inventory
from cmkguard.auditing import AuditReport
from cmkguard.errors import CmkGuardError, DocumentError


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[" * 100_000 + "]" * 100_000,
        "[" * 200 + "]" * 200,
        '{"schema_version": 1}',
        '{"schema_version": 1, "findings": []}',
        '{"schema_version": 1, "resources": "abc", "keys": [], "errors": [], "accounts": [], '
        '"regions": []}',
        b"\xff\xfe",
        "5",
    ],
)
def test_inventory_from_json_raises_a_typed_error(text: str | bytes) -> None:
    with pytest.raises((DocumentError, ValueError)):
        Inventory.from_json(text)


@pytest.mark.parametrize("text", ["{", "[" * 100_000 + "]" * 100_000, "[]", '{"a": 1}'])
def test_audit_report_from_json_raises_a_typed_error(text: str) -> None:
    with pytest.raises(CmkGuardError):
        AuditReport.from_json(text)


def test_an_inventory_round_trips_and_knows_it_is_complete() -> None:
    inventory = Inventory()
    assert Inventory.from_json(inventory.to_json()) == inventory
    assert inventory.is_complete
