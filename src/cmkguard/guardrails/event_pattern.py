"""EventBridge event patterns: a syntax validator and a matcher (pure).

Hand-written because no maintained Python library implements EventBridge's pattern language
(AWS's own event-ruler is Java; moto's matcher is test infrastructure without validation). The
rules are those of the EventBridge user guide ("Event patterns", "Content filtering"); the tests
cross-check the matcher against moto's on the generated patterns.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cmkguard.errors import ConfigurationError

__all__ = ["MAX_PATTERN_CHARS", "event_matches", "validate_event_pattern"]

MAX_PATTERN_CHARS = 4096
"""`PutRule`'s limit on the `EventPattern` text (botocore's events model)."""

_NUMERIC_OPS = ("<", "<=", "=", ">=", ">")
_STRING_FILTERS = ("prefix", "suffix", "equals-ignore-case", "wildcard")
_FILTERS = (*_STRING_FILTERS, "anything-but", "numeric", "exists", "cidr")


def _fail(where: str, reason: str) -> ConfigurationError:
    return ConfigurationError(f"event pattern {where}: {reason}")


def validate_event_pattern(pattern: Mapping[str, Any] | str) -> dict[str, Any]:
    """Check `pattern` against EventBridge's pattern syntax; return it as a dict.

    Raises `ConfigurationError` naming the location (`detail.eventName[1]`) of the first error:
    a leaf that is not an array, an empty array or object, an unknown filter, a filter with
    the wrong operand, an `$or` that is not a list of at least two patterns, or a pattern
    longer than `MAX_PATTERN_CHARS`.
    """
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except ValueError as exc:
            raise _fail("text", f"not JSON ({exc})") from None
    if not isinstance(pattern, Mapping) or not pattern:
        raise _fail("root", "must be a non-empty JSON object")
    size = len(json.dumps(pattern, separators=(",", ":")))
    if size > MAX_PATTERN_CHARS:
        raise _fail("root", f"{size} characters, more than {MAX_PATTERN_CHARS}")
    _check_object(pattern, "")
    return dict(pattern)


def _check_object(node: Mapping[str, Any], where: str) -> None:
    if not node:
        raise _fail(where or "root", "empty object")
    for key, value in node.items():
        here = f"{where}.{key}" if where else key
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise _fail(here, "$or needs a list of at least two patterns")
            for i, alt in enumerate(value):
                if not isinstance(alt, Mapping):
                    raise _fail(f"{here}[{i}]", "each $or alternative is an object")
                _check_object(alt, f"{here}[{i}]")
        elif isinstance(value, Mapping):
            _check_object(value, here)
        elif isinstance(value, list):
            if not value:
                raise _fail(here, "empty array matches nothing")
            for i, item in enumerate(value):
                _check_matcher(item, f"{here}[{i}]")
        else:
            raise _fail(here, "a leaf must be an array of values or filters")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def _check_matcher(item: Any, where: str) -> None:
    if _is_scalar(item):
        return
    if not isinstance(item, Mapping) or len(item) != 1:
        raise _fail(where, "a filter is an object with exactly one of " + ", ".join(_FILTERS))
    ((name, operand),) = item.items()
    if name not in _FILTERS:
        raise _fail(where, f"unknown filter {name!r}")
    _check_filter(name, operand, where)


def _check_string_filter(name: str, operand: Any, where: str) -> None:
    if name in ("prefix", "suffix") and isinstance(operand, Mapping):
        if set(operand) != {"equals-ignore-case"} or not isinstance(
            operand["equals-ignore-case"], str
        ):
            raise _fail(where, f"{name} takes a string or {{'equals-ignore-case': string}}")
        return
    if not isinstance(operand, str):
        raise _fail(where, f"{name} takes a string")
    if name == "wildcard" and "**" in operand:
        raise _fail(where, "wildcard: consecutive * are not allowed")


def _check_filter(name: str, operand: Any, where: str) -> None:
    if name in _STRING_FILTERS:
        _check_string_filter(name, operand, where)
    elif name == "exists":
        if not isinstance(operand, bool):
            raise _fail(where, "exists takes true or false")
    elif name == "cidr":
        try:
            ipaddress.ip_network(operand)
        except (TypeError, ValueError):
            raise _fail(where, f"cidr {operand!r} is not a network") from None
    elif name == "numeric":
        _check_numeric(operand, where)
    else:  # anything-but
        if isinstance(operand, Mapping):
            if len(operand) != 1 or next(iter(operand)) not in _STRING_FILTERS:
                raise _fail(where, "anything-but takes values or one string filter")
            ((inner, value),) = operand.items()
            _check_string_filter(inner, value, where)
        elif isinstance(operand, list):
            if not operand or not all(isinstance(v, str | int | float) for v in operand):
                raise _fail(where, "anything-but list holds strings or numbers")
        elif not isinstance(operand, str | int | float) or isinstance(operand, bool):
            raise _fail(where, "anything-but takes a string, number, list or filter")


def _check_numeric(operand: Any, where: str) -> None:
    ok = isinstance(operand, list) and len(operand) in (2, 4)
    if ok:
        for i in range(0, len(operand), 2):
            op, num = operand[i], operand[i + 1]
            if op not in _NUMERIC_OPS or isinstance(num, bool) or not isinstance(num, int | float):
                ok = False
    if not ok:
        raise _fail(where, "numeric takes [op, number] or [op, number, op, number]")


# -- matching ------------------------------------------------------------------------------

_MISSING = object()


def event_matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether `event` matches `pattern` (validated first) as EventBridge would decide it.

    Arrays in the event match when any element matches; `exists: false` matches an absent
    field only.
    """
    validate_event_pattern(pattern)
    return _match_object(pattern, event)


def _match_object(pattern: Mapping[str, Any], event: Any) -> bool:
    for key, sub in pattern.items():
        if key == "$or":
            if not any(_match_object(alt, event) for alt in sub):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(sub, Mapping):
            if isinstance(value, list):
                if not any(_match_object(sub, v) for v in value):
                    return False
            elif not _match_object(sub, value if value is not _MISSING else {}):
                return False
        elif not _match_leaf(sub, value):
            return False
    return True


def _match_leaf(matchers: Sequence[Any], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for m in matchers:
        if isinstance(m, Mapping) and "exists" in m:
            if (value is not _MISSING) == m["exists"]:
                return True
            continue
        if value is _MISSING:
            continue
        if any(_match_one(m, v) for v in values):
            return True
    return False


def _match_one(m: Any, v: Any) -> bool:
    if not isinstance(m, Mapping):
        # JSON true is not 1: booleans equal booleans only.
        return bool(m == v) and isinstance(m, bool) == isinstance(v, bool)
    ((name, operand),) = m.items()
    if name == "numeric":
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        checks = {"<": v.__lt__, "<=": v.__le__, "=": v.__eq__, ">=": v.__ge__, ">": v.__gt__}
        return all(checks[operand[i]](operand[i + 1]) for i in range(0, len(operand), 2))
    if name == "cidr":
        try:
            return ipaddress.ip_address(v) in ipaddress.ip_network(operand)
        except (TypeError, ValueError):
            return False
    if name == "anything-but":
        if isinstance(operand, Mapping):
            return isinstance(v, str) and not _match_one(operand, v)
        banned = operand if isinstance(operand, list) else [operand]
        return v not in banned
    return isinstance(v, str) and _string_filter(name, operand, v)


def _string_filter(name: str, operand: Any, v: str) -> bool:
    if isinstance(operand, Mapping):  # prefix/suffix with equals-ignore-case
        target, v = operand["equals-ignore-case"].lower(), v.lower()
    else:
        target = operand
    if name == "prefix":
        return v.startswith(target)
    if name == "suffix":
        return v.endswith(target)
    if name == "equals-ignore-case":
        return v.lower() == str(target).lower()
    return _wildcard(target, v)


def _wildcard(pattern: str, text: str) -> bool:
    """`*` matches any run of characters (linear-time two-pointer match, no backtracking)."""
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] != "*" and pattern[p] == text[t]:
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            t = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)
