"""The escaped HTML table behind every ``_repr_html_``."""

from __future__ import annotations

from cmkguard._html import table


def test_every_cell_and_header_is_escaped() -> None:
    html = table(("<h>",), [("<script>alert(1)</script>",), (None,), (12.345,)])
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<th>&lt;h&gt;</th>" in html
    assert "<td></td>" in html
    assert "<td>12.3</td>" in html


def test_code_columns_are_set_in_code_and_still_escaped() -> None:
    html = table(("id", "request"), [("s1", '{"Name": "<x>"}')], code={1})
    assert "<td>s1</td>" in html
    assert "<td><code>{&quot;Name&quot;: &quot;&lt;x&gt;&quot;}</code></td>" in html


def test_rows_beyond_the_cap_are_counted_not_shown() -> None:
    html = table(("n",), [(i,) for i in range(5)], max_rows=3)
    assert html.count("<tr>") == 4  # the header row and three rows
    assert "... and 2 more rows" in html
