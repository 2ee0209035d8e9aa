"""Line numbers of object keys in a JSON text (the standard library's decoder keeps none).

Hand-written on purpose: no well-kept JSON library on our dependency list reports positions, and
SARIF needs a line per resource. The scanner only tracks strings, brackets and commas, records the
line of every key whose path is at most `max_depth` deep, and leaves validation to `json.loads`
(which runs first, so the text is known to be valid JSON here).
"""

from __future__ import annotations

import re

__all__ = ["key_lines"]

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:\n]')

PathKey = tuple[str | int, ...]


def key_lines(text: str, max_depth: int = 3) -> dict[PathKey, int]:
    """`{path: line}` for every object key up to `max_depth` levels deep (1-based lines).

    A path is the tuple of keys and array indices leading to the key, the key included:
    `("Resources", "DbKey")`, `("resource_changes", 3, "address")`.
    """
    out: dict[PathKey, int] = {}
    line = 1
    # One frame per open container: [is_object, current key or index, expecting_key]
    stack: list[list[object]] = []
    for match in _TOKEN.finditer(text):
        tok = match.group()
        if tok == "\n":
            line += 1
            continue
        if tok in "{[":
            stack.append([tok == "{", None if tok == "{" else 0, tok == "{"])
        elif tok in "}]":
            stack.pop()
        elif tok == ",":
            frame = stack[-1]
            if frame[0]:
                frame[2] = True
            else:
                frame[1] = int(frame[1]) + 1  # type: ignore[call-overload]
        elif tok == ":":
            stack[-1][2] = False
        elif stack and stack[-1][0] and stack[-1][2]:
            key = _decode(tok)
            stack[-1][1] = key
            if len(stack) <= max_depth:
                path = tuple(f[1] for f in stack)
                out.setdefault(path, line)  # type: ignore[arg-type]
        else:
            line += tok.count("\n")  # a string value cannot hold a raw newline, but be safe
    return out


def _decode(token: str) -> str:
    import json

    value: str = json.loads(token)
    return value
