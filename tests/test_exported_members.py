"""The public API is exactly ``cmkguard.__all__``: complete, sorted, and every name resolves."""

from __future__ import annotations

import cmkguard


def test_all_is_sorted_and_unique() -> None:
    names = list(cmkguard.__all__)
    assert names == sorted(names)  # plain code-point order, the order ruff's RUF022 accepts
    assert len(set(names)) == len(names)


def test_every_exported_name_resolves() -> None:
    for name in cmkguard.__all__:
        assert getattr(cmkguard, name) is not None, name


def test_no_public_name_is_left_out_of_all() -> None:
    public = {
        name
        for name, value in vars(cmkguard).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("cmkguard")
        and not isinstance(value, type(cmkguard))
    }
    assert public <= set(cmkguard.__all__), public - set(cmkguard.__all__)


def test_every_public_name_has_a_docstring() -> None:
    for name in cmkguard.__all__:
        value = getattr(cmkguard, name)
        if callable(value) and getattr(value, "__module__", "").startswith("cmkguard"):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
