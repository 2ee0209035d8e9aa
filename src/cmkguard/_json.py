"""Reading saved JSON documents back without surprises (a leaf: only `cmkguard.errors`).

`json.loads` raises `JSONDecodeError` on bad text and `RecursionError` on text nested ~100,000
deep, and a document nested a few thousand deep parses but breaks whatever walks it later
(`json.dumps`, `attrs.evolve`...). No cmkguard document nests deeper than `MAX_DEPTH`, so a
deeper one is refused here, once, as a typed `DocumentError`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cmkguard.errors import DocumentError

__all__ = ["MAX_DEPTH", "json_safe", "load_document_json"]

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects accepted (cmkguard's own documents stay under 10;
a key policy is stored as text, not nested)."""


def load_document_json(text: str | bytes, kind: str) -> Any:
    """Parse `text` as JSON; `DocumentError` (naming `kind`) for anything unreadable."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError(
                kind, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
    if not isinstance(text, str):
        raise DocumentError(kind, f"expected JSON text, got {type(text).__name__}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            kind, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise DocumentError(kind, f"JSON nested deeper than {MAX_DEPTH} levels") from None
    _check_depth(data, kind)
    return data


def _check_depth(data: Any, kind: str) -> None:
    """Walk `data` without recursion; refuse nesting deeper than `MAX_DEPTH`."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise DocumentError(kind, f"JSON nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def json_safe(value: Any) -> Any:
    """An AWS response as plain JSON data: datetimes as ISO 8601 text, bytes as base64 text,
    decimals as numbers, tuples as lists, botocore's `ResponseMetadata` dropped.

    Describe records kept in an inventory or a plan go through here, so they survive
    `json.dumps` and come back equal after a round trip.
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
