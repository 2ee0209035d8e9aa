"""Escaped HTML tables: the one building block of every `_repr_html_` (pure, stdlib only).

It sits at the bottom of the layers so that the policy analyser, the migration plan and the
reports render alike. Everything in a cell comes from AWS (names, tags, ARNs, policy text) or from
the user, so every cell is escaped: a resource named `<script>` renders as text.

Jupyter's own stylesheet right-aligns every table cell, fixes the table layout (so `eu-west-1`
wraps at its hyphens) and centres tables. `document` wraps a view in a
`div.cmkguard` with a scoped `<style>` whose selectors are more specific than JupyterLab's
(`:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td`, two classes and an element) and the
classic notebook's (`.rendered_html td`): the class is written twice
(`div.cmkguard.cmkguard table td`, two classes and three elements) so no Jupyter rule outranks
it. Text is left-aligned, numbers right-aligned, identifiers never wrap. Hand-written rather
than a template library: a few lines of CSS and strings, and the core stays dependency-free.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from html import escape
from typing import Any

import attrs

__all__ = ["MAX_ROWS", "STYLE", "Hover", "Raw", "cell", "document", "prose", "table"]

MAX_ROWS = 200
"""Rows shown per table before the rest is counted (a notebook is not a data lake)."""

_SCOPE = "div.cmkguard.cmkguard"
_RULES = (
    ("table", "table-layout:auto;border-collapse:collapse;margin:0.4em 0;width:auto"),
    (
        "table th,{s} table td",
        "text-align:left;vertical-align:top;padding:2px 8px;white-space:normal;"
        "max-width:none;border-bottom:1px solid #ddd",
    ),
    (
        "table th.num,{s} table td.num",
        "text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap",
    ),
    ("table th.nowrap,{s} table td.nowrap", "white-space:nowrap"),
    ("p,{s} h3,{s} h4,{s} summary", "text-align:left"),
    ("details>p,{s} details>table", "margin-left:1.2em"),
    # Plain disclosure widgets: themes (mkdocs-material) restyle <details> as admonitions.
    (
        "details",
        "margin:2px 0;padding:0;border:0;box-shadow:none;background:none;font-size:inherit",
    ),
    (
        "details>summary",
        "display:list-item;cursor:pointer;padding:2px 0;margin:0;border:0;background:none;"
        "font-weight:normal;min-height:0",
    ),
    ("details>summary::before,{s} details>summary::after", "content:none;display:none"),
    (
        ".sev",
        "display:inline-block;min-width:5.5em;padding:0 4px;margin-right:6px;border-radius:3px;"
        "color:#fff;font-weight:bold;text-align:center;font-size:90%",
    ),
    ("span.name", "white-space:nowrap;text-decoration:underline dotted"),
)
STYLE = (
    "<style>"
    + "".join(f"{_SCOPE} {sel.format(s=_SCOPE)}{{{body}}}" for sel, body in _RULES)
    + "</style>"
)
"""The scoped stylesheet every view carries (see the module docstring for why)."""


@attrs.frozen
class Hover:
    """A cell whose text is the name people know and whose tooltip (`title`) is the full
    identifier, e.g. a key's alias with its ARN on hover."""

    text: str
    title: str


@attrs.frozen
class Raw:
    """A cell of HTML the caller has already escaped (a list of `Hover` names, a badge)."""

    html: str


def prose(text: str) -> str:
    """Escaped text whose Markdown code spans (a command in backticks) are set in `<code>`."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def cell(value: Any) -> str:
    """One cell's escaped text: `None` is empty, floats have one decimal."""
    if value is None:
        return ""
    if isinstance(value, Raw):
        return value.html
    if isinstance(value, Hover):
        if not value.title or value.title == value.text:
            return escape(value.text)
        return f'<span class="name" title="{escape(value.title)}">{escape(value.text)}</span>'
    if isinstance(value, float):
        return f"{value:.1f}"
    return escape(str(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric_columns(rows: Sequence[Sequence[Any]], width: int) -> set[int]:
    """Columns whose every non-empty cell is a number (they align right, header included)."""
    return {
        n
        for n in range(width)
        if any(row[n] is not None for row in rows)
        and all(row[n] is None or _is_number(row[n]) for row in rows)
    }


def _td(value: Any, n: int, classes: dict[int, str], code: Collection[int], tag: str) -> str:
    attr = f' class="{classes[n]}"' if n in classes else ""
    text = cell(value) if tag == "td" else escape(str(value))
    if n in code and tag == "td":
        text = f"<code>{text}</code>"
    return f"<{tag}{attr}>{text}</{tag}>"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    max_rows: int = MAX_ROWS,
    code: Collection[int] = (),
    nowrap: Collection[int] = (),
    numeric: Collection[int] = (),
) -> str:
    """An escaped HTML table; rows beyond `max_rows` are counted, not shown.

    Cells of the column indexes in `code` are set in `<code>` (requests, identifiers); columns
    in `nowrap` never wrap (regions, accounts, types); columns of numbers, and those in
    `numeric` (formatted figures such as `"87.5%"`), align right.
    """
    every = [tuple(row) for row in rows]
    shown = every[:max_rows]
    classes = dict.fromkeys(nowrap, "nowrap")
    classes.update(dict.fromkeys(_numeric_columns(shown, len(headers)) | set(numeric), "num"))
    head = "".join(_td(h, n, classes, code, "th") for n, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(_td(v, n, classes, code, "td") for n, v in enumerate(row)) + "</tr>"
        for row in shown
    )
    extra = len(every) - len(shown)
    more = f"<p>... and {extra} more rows</p>" if extra else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def document(kind: str, *parts: str) -> str:
    """A view: `parts` in a `div.cmkguard.cmkguard-<kind>` that carries `STYLE`."""
    return f'<div class="cmkguard cmkguard-{escape(kind)}">{STYLE}{"".join(parts)}</div>'
