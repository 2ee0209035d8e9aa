"""Escaped HTML tables: the one building block of every `_repr_html_` (pure, stdlib only).

It sits at the bottom of the layers so that the policy analyser, the migration plan and the
reports render alike. Everything in a cell comes from AWS (names, tags, ARNs, policy text) or from
the user, so every cell is escaped: a resource named `<script>` renders as text.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from html import escape
from typing import Any

__all__ = ["MAX_ROWS", "cell", "table"]

MAX_ROWS = 200
"""Rows shown per table before the rest is counted (a notebook is not a data lake)."""


def cell(value: Any) -> str:
    """One cell's escaped text: `None` is empty, floats have one decimal."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return escape(str(value))


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    max_rows: int = MAX_ROWS,
    code: Collection[int] = (),
) -> str:
    """An escaped HTML table; rows beyond `max_rows` are counted, not shown.

    Cells of the column indexes in `code` are set in `<code>` (requests, identifiers).
    """
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body: list[str] = []
    extra = 0
    for i, row in enumerate(rows):
        if i >= max_rows:
            extra += 1
            continue
        cells = (
            f"<td><code>{cell(v)}</code></td>" if n in code else f"<td>{cell(v)}</td>"
            for n, v in enumerate(row)
        )
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p>... and {extra} more rows</p>" if extra else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"
