"""Docstrings are Markdown (mkdocstrings renders them as such): no reST markup anywhere in src/.

reST roles (`:func:` and friends), ``double backticks`` and `::` literal-block markers are not
Markdown: in the API reference they show as literal text, and `mkdocs build --strict` does not
catch them. Every string statement counts (module, class and function docstrings, and the
attribute docstrings mkdocstrings also renders); comments are not rendered and not checked.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
DOCS = Path(__file__).resolve().parents[1] / "docs"

REST_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|data|attr|mod|exc|obj|const|ref):`")
# Two backticks not part of a Markdown fence (three or more).
DOUBLE_BACKTICKS = re.compile(r"(?<!`)``(?!`)")
LITERAL_BLOCK = re.compile(r"::\s*$", re.MULTILINE)
REST_DIRECTIVE = re.compile(r"^\s*\.\. [a-z-]+::", re.MULTILINE)
REST_FIELD = re.compile(r"^\s*:(?:param|returns?|raises?|rtype|type)\b", re.MULTILINE)


def docstrings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string statement of a module: (line, text)."""
    return [
        (node.lineno, node.value.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]


def rest_markup(text: str) -> list[str]:
    """What in `text` is reST rather than Markdown (empty when clean)."""
    checks = {
        "reST role": REST_ROLE,
        "double backticks": DOUBLE_BACKTICKS,
        "reST literal block '::'": LITERAL_BLOCK,
        "reST directive": REST_DIRECTIVE,
        "reST field list": REST_FIELD,
    }
    return [name for name, pattern in checks.items() if pattern.search(text)]


def test_no_rest_markup_in_any_docstring_under_src() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}: {', '.join(found)}"
        for path in sorted(SRC.rglob("*.py"))
        for line, text in docstrings(ast.parse(path.read_text(encoding="utf-8")))
        if (found := rest_markup(text))
    ]
    assert not offenders, "reST markup in docstrings (write Markdown):\n" + "\n".join(offenders)


def test_no_rest_roles_in_docs_pages() -> None:
    offenders = [
        f"{page.relative_to(DOCS)}:{number}"
        for page in sorted(DOCS.rglob("*.md"))
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if REST_ROLE.search(line)
    ]
    assert not offenders, "reST roles in docs pages:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("See :func:`cmkguard.scan`.", ["reST role"]),
        ("See :class:`~cmkguard.Inventory`.", ["reST role"]),
        ("The ``None`` value.", ["double backticks"]),
        ("Use it like this::\n\n    scan()\n", ["reST literal block '::'"]),
        ("Text.\n\n.. note::\n   careful\n", ["reST literal block '::'", "reST directive"]),
        (":param x: the x\n", ["reST field list"]),
        ("See `cmkguard.scan` and [scan][cmkguard.scan].\n\n```python\nscan()\n```\n", []),
        ('A `service:Operation` key and a `{"a": 1}` value.', []),
    ],
)
def test_the_checker_tells_rest_from_markdown(text: str, found: list[str]) -> None:
    assert rest_markup(text) == found
