"""One JSON converter for cmkguard's frozen values (cattrs, attrs' companion library).

`make_converter()` gives a `cattrs.Converter` that writes what the hand-written `to_dict`
methods used to write, so documents saved before still load: datetimes as ISO 8601 text,
enums by value, tuples as lists, mappings as plain dicts, `Any` passed through. A package
registers hooks for its own special cases on the converter it makes.

`structure_error_text(exc)` turns cattrs' nested validation errors into one line naming the
first bad field (`$.resources[3].key_class: ...`), for the loaders' typed errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import cattrs

__all__ = ["make_converter", "structure_error_text"]


def _datetime_from_json(value: Any, _type: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 date-time string, not {type(value).__name__}")
    return datetime.fromisoformat(value)


def _passthrough(value: Any, _type: Any) -> Any:
    return value


def _strict_str(value: Any, _type: Any) -> str:
    # cattrs' default would turn 5 into "5": a wrong field type is bad input, not data.
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {type(value).__name__}")
    return value


def make_converter() -> cattrs.Converter:
    """A converter with cmkguard's JSON conventions (see the module docstring)."""
    converter = cattrs.Converter(unstruct_collection_overrides={tuple: list})
    converter.register_unstructure_hook(datetime, datetime.isoformat)
    converter.register_structure_hook(datetime, _datetime_from_json)
    converter.register_structure_hook(str, _strict_str)
    converter.register_unstructure_hook_func(lambda t: t is Any or t is object, lambda value: value)
    converter.register_structure_hook_func(lambda t: t is Any or t is object, _passthrough)
    converter.register_unstructure_hook_func(
        lambda t: getattr(t, "__origin__", None) is Mapping, lambda value: dict(value)
    )
    return converter


def structure_error_text(exc: Exception, path: str = "$") -> str:
    """The first problem cattrs found, as one line naming where (`$.path: message`)."""
    if isinstance(exc, cattrs.BaseValidationError):
        messages = cattrs.transform_error(exc, path=path)
        return messages[0] if messages else str(exc)
    if isinstance(exc, KeyError):
        return f"missing field {exc} @ {path}"
    return f"{exc} @ {path}"
