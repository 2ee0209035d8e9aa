"""One generic converter between the migration values (attrs classes) and JSON-able data (pure).

Hand-written rather than cattrs on purpose: plans and journals must load with the core
dependencies alone (boto3, botocore, attrs, typing-extensions), and cattrs is not one of them.
It covers exactly the types the migration values use: `str`, `int`, `bool`, `StrEnum`s,
`tuple[X, ...]`, `Mapping[str, X]`, `X | None`, `Any` (JSON as is) and nested attrs classes.

`unstructure` gives the canonical JSON form (field order = attrs field order, tuples as lists,
enums as their values); `structure` checks every field's type and raises
`PlanFormatError` naming the JSON path of the first wrong element, never a bare
`TypeError`/`KeyError`.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from cmkguard.errors import PlanFormatError

__all__ = ["structure", "unstructure"]

_T = TypeVar("_T")


def unstructure(value: Any) -> Any:
    """The JSON-able form of an attrs value (recursively)."""
    if attrs.has(type(value)):
        return {f.name: unstructure(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): unstructure(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [unstructure(v) for v in value]
    return value


def structure(cls: type[_T], data: Any, where: str) -> _T:
    """Build ``cls`` from ``data``, checking types; `PlanFormatError` at ``where`` if wrong."""
    if not isinstance(data, Mapping):
        raise PlanFormatError(where, f"expected an object, got {_kind(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in attrs.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise PlanFormatError(where, f"unknown field {unknown[0]!r}")
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in data:
            if field.default is attrs.NOTHING:
                raise PlanFormatError(where, f"missing field {name!r}")
            continue
        kwargs[name] = _value(hints[name], data[name], f"{where}.{name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise PlanFormatError(where, str(exc)) from None


def _value(hint: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return data
    if origin in (types.UnionType, typing.Union):
        if data is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _value(inner, data, where)
    if origin is tuple:
        if not isinstance(data, list | tuple):
            raise PlanFormatError(where, f"expected a list, got {_kind(data)}")
        return tuple(_value(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
    if origin in (Mapping, dict) or hint is dict:
        if not isinstance(data, Mapping):
            raise PlanFormatError(where, f"expected an object, got {_kind(data)}")
        inner = args[1] if args else Any
        return {str(k): _value(inner, v, f"{where}.{k}") for k, v in data.items()}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except ValueError:
            known = ", ".join(str(m.value) for m in hint)
            raise PlanFormatError(where, f"unknown value {data!r} (one of {known})") from None
    if isinstance(hint, type) and attrs.has(hint):
        return structure(hint, data, where)
    if hint is bool:
        if not isinstance(data, bool):
            raise PlanFormatError(where, f"expected true or false, got {_kind(data)}")
        return data
    if hint is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise PlanFormatError(where, f"expected an integer, got {_kind(data)}")
        return data
    if hint is str:
        if not isinstance(data, str):
            raise PlanFormatError(where, f"expected a string, got {_kind(data)}")
        return data
    raise PlanFormatError(where, f"cmkguard cannot read a {hint!r} here")  # a bug, not input


def _kind(data: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    for typ, name in names.items():
        if isinstance(data, typ):
            return name
    if data is None:
        return "null"
    if isinstance(data, int | float):
        return f"the number {data!r}"
    return type(data).__name__
