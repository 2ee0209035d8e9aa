"""Saved documents read back: anything that is not one is a typed `DocumentError`."""

from __future__ import annotations

import pytest

from cmkguard import Inventory, MigrationPlan
from cmkguard.auditing import AuditReport
from cmkguard.errors import CmkGuardError, DocumentError
from cmkguard.testing import GroundTruth

HOSTILE = {
    "not-json": "not json",
    "deep-100000": "[" * 100_000 + "]" * 100_000,
    "deep-200": "[" * 200 + "]" * 200,
    "not-utf8": b"\xff\xfe",
    "a-number": "5",
    "a-list": "[]",
    "another-object": '{"a": 1}',
    "wrong-types": '{"accounts": "abc", "regions": 5, "resources": [1, 2], "keys": {}}',
    "wrong-entries": '{"accounts": [], "regions": [], "resources": [1, 2], "keys": []}',
}


@pytest.mark.parametrize("cls", [Inventory, MigrationPlan, AuditReport, GroundTruth])
@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_every_from_json_raises_a_typed_one_line_error(cls: type, text: str | bytes) -> None:
    """The whole `from_json` family: never a bare ValueError, JSONDecodeError or
    RecursionError, and never an empty document accepted."""
    with pytest.raises(CmkGuardError) as caught:
        cls.from_json(text)  # type: ignore[attr-defined]
    assert len(str(caught.value).splitlines()) == 1


def test_a_ground_truth_round_trips_and_names_what_is_wrong() -> None:
    truth = GroundTruth(resources={}, keys={}, accounts=("111122223333",), regions=("us-east-1",))
    assert GroundTruth.from_json(truth.to_json()) == truth
    with pytest.raises(DocumentError, match="not a cmkguard ground truth: invalid JSON"):
        GroundTruth.from_json("{")


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
    with pytest.raises(CmkGuardError):
        Inventory.from_json(text)


@pytest.mark.parametrize("text", ["{", "[" * 100_000 + "]" * 100_000, "[]", '{"a": 1}'])
def test_audit_report_from_json_raises_a_typed_error(text: str) -> None:
    with pytest.raises(CmkGuardError):
        AuditReport.from_json(text)


def test_an_inventory_round_trips_and_knows_it_is_complete() -> None:
    inventory = Inventory()
    assert Inventory.from_json(inventory.to_json()) == inventory
    assert inventory.is_complete
