"""One generic converter between cmkguard's frozen values (attrs classes) and JSON-able data.

Hand-written rather than cattrs on purpose: saved inventories, plans and journals must load with
the core dependencies alone (boto3, botocore, attrs, typing-extensions), and cattrs is not one of
them. It covers the types the values use: `str`, `int`, `float`, `bool`, `NewType`s of those,
enums (by value), `datetime` (ISO 8601 text), `tuple[X, ...]`, `Mapping[str, X]`, `X | None`,
`Any` (JSON as is) and nested attrs classes. A package makes one `Converter` with its own error
type and its special cases (`hooks`), once, at import.

`unstructure` gives the canonical JSON form (field order = attrs field order, tuples as lists,
enums as their values, datetimes as `isoformat()`); `structure` checks every field's type and
raises the package's error naming the JSON path of the first wrong element
(`$.resources[3].key_class`), never a bare `TypeError`/`KeyError`.
"""

from __future__ import annotations

import enum
import functools
import sys
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs

__all__ = ["Converter", "FormatProblem", "kind_of"]

_T = TypeVar("_T")

Hook = Callable[[Any], Any]
"""A special case: the JSON value in, the Python value out; `FormatProblem` if it is wrong."""


class FormatProblem(Exception):
    """What is wrong with one JSON value, and where (the path is filled in on the way out)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []


OMIT_IF_DEFAULT = "cmkguard.omit_if_default"
"""attrs field metadata key: leave the field out of the JSON form while it holds its default."""


class Converter:
    """Structure/unstructure attrs values; one per package, made once at import.

    `error(location, reason)` builds the package's typed error (`InventoryFormatError`...).
    `reject_unknown_fields`: a field the class does not have is an error (plans) or ignored
    (inventories, which older and newer versions may extend). `hooks` maps an annotation
    (`KeyArn | None`, `Mapping[str, str]`) to a function that reads that value instead.

    Each annotation is compiled once into a reader (and each attrs class into a writer), kept
    in the converter's two tables: a large inventory costs no more than hand-written loaders.
    """

    def __init__(
        self,
        error: Callable[[str, str], Exception],
        *,
        reject_unknown_fields: bool = True,
        hooks: Mapping[Any, Hook] | None = None,
    ) -> None:
        self._error = error
        self._reject_unknown = reject_unknown_fields
        self._readers: dict[Any, Hook] = dict(hooks or {})
        self._writers: dict[type, Hook] = {}

    def unstructure(self, value: Any) -> Any:
        """The JSON-able form of `value` (recursively)."""
        writer = self._writers.get(type(value))
        if writer is not None:
            return writer(value)
        if attrs.has(type(value)):
            return self._writer_of_class(type(value))(value)
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, Mapping):
            return {str(k): self.unstructure(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.unstructure(v) for v in value]
        return value

    def structure(self, kind: Any, data: Any, where: str = "$") -> Any:
        """`data` read as `kind` (an attrs class or an annotation), or the package's error."""
        try:
            return self._reader(kind)(data)
        except FormatProblem as problem:
            location = where + "".join(reversed(problem.path))
            raise self._error(location, problem.reason) from None

    def reader(self, kind: Any) -> Hook:
        """The compiled reader of `kind`, for a hook built on another reading (it raises
        `FormatProblem`, so the path of a wrong element is kept)."""
        return self._reader(kind)

    # Readers: annotation -> function of the JSON value, compiled once per annotation.

    def _reader(self, hint: Any) -> Hook:
        reader = self._readers.get(hint)
        if reader is None:
            reader = self._readers[hint] = self._compile_reader(hint)
        return reader

    def _compile_reader(self, hint: Any) -> Hook:
        if hint is Any or hint is object:
            return _same
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (types.UnionType, typing.Union):
            return self._optional_reader(args)
        if origin is tuple:
            return self._tuple_reader(args[0])
        if origin in (Mapping, dict) or hint is dict:
            return self._mapping_reader(args[1] if args else Any)
        supertype = getattr(hint, "__supertype__", None)  # a NewType: read as what it wraps
        if supertype is not None:
            return self._reader(supertype)
        if isinstance(hint, type) and attrs.has(hint):
            return self._class_reader(hint)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return functools.partial(_enum, hint)
        if hint is datetime:
            return _datetime
        if hint in _SCALARS:
            return functools.partial(_scalar, hint, *_SCALARS[hint])
        raise FormatProblem(f"cmkguard cannot read a {hint!r} here")  # a bug, not input

    def _optional_reader(self, args: tuple[Any, ...]) -> Hook:
        others = [a for a in args if a is not type(None)]
        if len(others) != 1:
            raise FormatProblem(f"cmkguard cannot read a union of {others!r}")  # a bug
        inner = self._reader(others[0])
        if type(None) not in args:
            return inner

        def read(data: Any) -> Any:
            return None if data is None else inner(data)

        return read

    def _tuple_reader(self, item_hint: Any) -> Hook:
        inner = self._reader(item_hint)

        def read(data: Any) -> tuple[Any, ...]:
            if not isinstance(data, list | tuple):
                raise FormatProblem(f"expected a list, got {kind_of(data)}")
            try:
                return tuple([inner(item) for item in data])
            except FormatProblem as problem:
                problem.path.append(f"[{_first_failing(inner, data)}]")
                raise

        return read

    def _mapping_reader(self, value_hint: Any) -> Hook:
        inner = self._reader(value_hint)

        def read(data: Any) -> dict[str, Any]:
            if not isinstance(data, Mapping):
                raise FormatProblem(f"expected an object, got {kind_of(data)}")
            if inner is _same:
                return dict(data)
            key = ""
            try:
                out = {}
                for key, item in data.items():
                    out[str(key)] = inner(item)
            except FormatProblem as problem:
                problem.path.append(f".{key}")
                raise
            return out

        return read

    def _class_reader(self, cls: type) -> Hook:
        # Compiled lazily on first use: a class may refer to itself or to a later class.
        fields: list[tuple[str, Hook, bool]] = []
        names: frozenset[str] = frozenset()

        def read(data: Any) -> Any:
            nonlocal names
            if not isinstance(data, Mapping):
                raise FormatProblem(f"expected an object, got {kind_of(data)}")
            if not fields:
                fields.extend((n, self._reader(h), req) for n, h, req in _resolved_fields(cls))
                names = frozenset(n for n, _, _ in fields)
            if self._reject_unknown and not names.issuperset(data):
                raise FormatProblem(f"unknown field {sorted(set(data) - names)[0]!r}")
            kwargs: dict[str, Any] = {}
            name = ""
            try:
                for name, reader, required in fields:
                    if name in data:
                        kwargs[name] = reader(data[name])
                    elif required:
                        raise FormatProblem("missing (a required field)")
            except FormatProblem as problem:
                problem.path.append(f".{name}")
                raise
            try:
                return cls(**kwargs)
            except (TypeError, ValueError) as exc:  # an attrs converter or validator refused it
                raise FormatProblem(str(exc)) from None

        return read

    # Writers: attrs class -> function of the value, compiled once per class.

    def _writer_of_class(self, cls: type) -> Hook:
        writer = self._writers.get(cls)
        if writer is None:
            plan = tuple((name, self._writer_of(hint)) for name, hint, _ in _resolved_fields(cls))
            # A field added after a format shipped is written only when it differs from its
            # default, so documents without it stay byte-identical to what older code wrote.
            optional = {
                f.name: f.default
                for f in attrs.fields(cls)
                if f.metadata.get(OMIT_IF_DEFAULT) and f.default is not attrs.NOTHING
            }

            def writer(value: Any) -> dict[str, Any]:
                out = {}
                for name, write in plan:
                    item = getattr(value, name)
                    if name in optional and item == optional[name]:
                        continue
                    out[name] = write(item)
                return out

            self._writers[cls] = writer
        return writer

    def _writer_of(self, hint: Any) -> Hook:
        """A writer for values of annotation `hint`: plain JSON types pass through as they are."""
        if getattr(hint, "__supertype__", None) in (str, int, float, bool):
            return _same
        if hint in _SCALARS:
            return _same
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (types.UnionType, typing.Union) and type(None) in args:
            others = [a for a in args if a is not type(None)]
            inner = self._writer_of(others[0]) if len(others) == 1 else self.unstructure
            if inner is _same:
                return _same
            return lambda value: None if value is None else inner(value)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            inner = self._writer_of(args[0])
            if inner is _same:
                return list
            return lambda value: [inner(item) for item in value]
        if hint is Any:
            return _same  # free-form JSON data, written as it is held
        if origin in (Mapping, dict) and len(args) == 2 and (args[1] in _SCALARS or args[1] is Any):
            return dict
        if isinstance(hint, type) and attrs.has(hint):
            return self._writer_of_class(hint)  # (no value class contains itself)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return _enum_value
        if hint is datetime:
            return datetime.isoformat
        return self.unstructure  # Any, nested values, mappings of values: by what they hold


_SCALARS: dict[Any, tuple[type | tuple[type, ...], str]] = {
    bool: (bool, "true or false"),
    int: (int, "an integer"),
    float: ((int, float), "a number"),
    str: (str, "a string"),
}


def _same(value: Any) -> Any:
    return value


def _enum_value(value: enum.Enum) -> Any:
    return value.value


def _scalar(hint: type, wanted: type | tuple[type, ...], name: str, data: Any) -> Any:
    if not isinstance(data, wanted) or (hint is not bool and isinstance(data, bool)):
        raise FormatProblem(f"expected {name}, got {kind_of(data)}")
    return data


def _first_failing(reader: Hook, items: Any) -> int:
    """The index of the first item `reader` refuses (the slow path, after a failure)."""
    for i, item in enumerate(items):
        try:
            reader(item)
        except FormatProblem:
            return i
    return -1


def _resolved_fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """Each field's name, evaluated annotation and whether it is required.

    Only the fields' own annotations are evaluated (in the class's module), not every
    annotation of the class as `typing.get_type_hints` would: a slotted attrs class also
    annotates its cached properties, whose types (analysers) a value module names only for
    type checkers.
    """
    namespace = vars(sys.modules[cls.__module__])
    out = []
    for field in attrs.fields(cls):
        hint = field.type
        if isinstance(hint, str):
            hint = eval(hint, namespace)  # our own source's annotation text, as typing does
        out.append((field.name, hint, field.default is attrs.NOTHING))
    return tuple(out)


def _enum(hint: type[enum.Enum], data: Any) -> enum.Enum:
    try:
        return hint(data)
    except ValueError:
        known = ", ".join(str(m.value) for m in hint)
        raise FormatProblem(f"unknown value {data!r} (one of {known})") from None


def _datetime(data: Any) -> datetime:
    if not isinstance(data, str):
        raise FormatProblem(f"expected an ISO 8601 date-time string, got {kind_of(data)}")
    try:
        return datetime.fromisoformat(data)
    except ValueError:
        raise FormatProblem(f"not an ISO 8601 date-time: {data!r}") from None


def kind_of(data: Any) -> str:
    """What a JSON value is, for messages ("a list", "the number 5", "null")."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    for typ, name in names.items():
        if isinstance(data, typ):
            return name
    if data is None:
        return "null"
    if isinstance(data, int | float):
        return f"the number {data!r}"
    return type(data).__name__
