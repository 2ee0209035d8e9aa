"""The one generic converter (`cmkguard._convert`): types, paths of errors, unknown fields."""

from __future__ import annotations

import enum
import pickle
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NewType

import attrs
import pytest

from cmkguard._convert import Converter, FormatProblem
from cmkguard.errors import InventoryFormatError

Name = NewType("Name", str)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Leaf:
    name: Name
    size: int
    ratio: float = 0.0
    on: bool = False
    colour: Colour = Colour.RED
    when: datetime | None = None


@attrs.frozen
class Tree:
    leaves: tuple[Leaf, ...]
    labels: Mapping[str, int] = attrs.field(factory=dict)
    extra: Any = None
    positive: int = attrs.field(default=1, validator=attrs.validators.gt(0))


class _Error(ValueError):
    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


STRICT = Converter(_Error)
LENIENT = Converter(_Error, reject_unknown_fields=False)

TREE = Tree(
    leaves=(
        Leaf(Name("a"), 1, 0.5, True, Colour.BLUE, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        Leaf(Name("b"), 2),
    ),
    labels={"x": 1},
    extra={"free": ["form", 1, None]},
)


def test_round_trip_and_canonical_form() -> None:
    data = STRICT.unstructure(TREE)
    assert data["leaves"][0] == {
        "name": "a",
        "size": 1,
        "ratio": 0.5,
        "on": True,
        "colour": "blue",
        "when": "2026-01-02T03:04:05+00:00",
    }
    assert list(data) == ["leaves", "labels", "extra", "positive"]  # attrs field order
    assert STRICT.structure(Tree, data) == TREE


@pytest.mark.parametrize(
    ("change", "location", "reason"),
    [
        (lambda d: d["leaves"][1].update(size="2"), "$.leaves[1].size", "expected an integer"),
        (lambda d: d["leaves"][1].update(size=True), "$.leaves[1].size", "got a boolean"),
        (lambda d: d["leaves"][0].update(on=1), "$.leaves[0].on", "expected true or false"),
        (lambda d: d["leaves"][0].update(ratio="x"), "$.leaves[0].ratio", "expected a number"),
        (lambda d: d["leaves"][0].update(colour="green"), "$.leaves[0].colour", "one of red"),
        (lambda d: d["leaves"][0].update(when="soon"), "$.leaves[0].when", "ISO 8601"),
        (lambda d: d["leaves"][0].update(when=5), "$.leaves[0].when", "the number 5"),
        (lambda d: d["leaves"][0].pop("name"), "$.leaves[0].name", "missing"),
        (lambda d: d["leaves"][0].update(name=None), "$.leaves[0].name", "got null"),
        (lambda d: d["labels"].update(y="1"), "$.labels.y", "expected an integer"),
        (lambda d: d.update(leaves={}), "$.leaves", "expected a list"),
        (lambda d: d.update(leaves=[[]]), "$.leaves[0]", "expected an object"),
        (lambda d: d.update(surprise=1), "$", "unknown field 'surprise'"),
        (lambda d: d.update(positive=0), "$", "must be > 0"),
    ],
)
def test_a_wrong_element_is_named_by_its_path(change: Any, location: str, reason: str) -> None:
    data = STRICT.unstructure(TREE)
    change(data)
    with pytest.raises(_Error) as info:
        STRICT.structure(Tree, data)
    assert info.value.location == location
    assert reason in info.value.reason


def test_unknown_fields_can_be_ignored_and_defaults_fill_in() -> None:
    data = {"leaves": [{"name": "a", "size": 1, "later": "field"}], "newer": True}
    assert LENIENT.structure(Tree, data) == Tree(leaves=(Leaf(Name("a"), 1),))


def test_a_hook_reads_its_annotation_and_keeps_the_path() -> None:
    def sizes(value: Any) -> int:
        if value == "big":
            return 100
        raise FormatProblem("only 'big' is a size")

    converter = Converter(_Error, hooks={int: sizes})
    data = STRICT.unstructure(TREE)
    data["leaves"][0]["size"] = "big"
    data["positive"] = "big"
    data["labels"] = {}
    data["leaves"] = data["leaves"][:1]
    assert converter.structure(Tree, data).leaves[0].size == 100
    data["positive"] = 3
    with pytest.raises(_Error) as info:
        converter.structure(Tree, data)
    assert (info.value.location, info.value.reason) == ("$.positive", "only 'big' is a size")


def test_an_annotation_it_cannot_read_is_a_bug_not_input() -> None:
    with pytest.raises(_Error, match="cannot read a"):
        STRICT.structure(bytes, b"x")


def test_inventory_format_error_pickles_with_its_location() -> None:
    error = InventoryFormatError("$.resources[0].arn", "missing (a required field)")
    again = pickle.loads(pickle.dumps(error))
    assert (again.location, again.reason, str(again)) == (
        error.location,
        error.reason,
        "not a cmkguard inventory: $.resources[0].arn: missing (a required field)",
    )
    assert isinstance(again, ValueError)
