"""The escaped HTML table behind every ``_repr_html_``."""

from __future__ import annotations

from cmkguard._html import STYLE, Hover, document, prose, table


def test_every_cell_and_header_is_escaped() -> None:
    html = table(("<h>",), [("<script>alert(1)</script>",), (None,), (12.345,)])
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<th>&lt;h&gt;</th>" in html
    assert "<td></td>" in html
    assert "<td>12.3</td>" in html  # a mixed column is text: left-aligned


def test_code_columns_are_set_in_code_and_still_escaped() -> None:
    html = table(("id", "request"), [("s1", '{"Name": "<x>"}')], code={1})
    assert "<td>s1</td>" in html
    assert "<td><code>{&quot;Name&quot;: &quot;&lt;x&gt;&quot;}</code></td>" in html


def test_rows_beyond_the_cap_are_counted_not_shown() -> None:
    html = table(("n",), [(i,) for i in range(5)], max_rows=3)
    assert html.count("<tr>") == 4  # the header row and three rows
    assert "... and 2 more rows" in html


def test_number_columns_align_right_and_named_columns_never_wrap() -> None:
    html = table(
        ("region", "resources", "coverage"), [("eu-west-1", 3, "50.0%")], nowrap={0}, numeric={2}
    )
    assert '<th class="nowrap">region</th>' in html
    assert '<td class="nowrap">eu-west-1</td>' in html
    assert '<th class="num">resources</th><th class="num">coverage</th>' in html
    assert '<td class="num">3</td><td class="num">50.0%</td>' in html


def test_a_hover_cell_shows_the_name_with_the_identifier_as_its_escaped_title() -> None:
    html = table(
        ("key",),
        [(Hover("alias/<a>", 'arn:aws:kms:eu-west-1:1:key/"x'),), (Hover("same", "same"),)],
    )
    assert (
        '<span class="name" title="arn:aws:kms:eu-west-1:1:key/&quot;x">alias/&lt;a&gt;</span>'
        in html
    )
    assert "<td>same</td>" in html


def test_a_view_carries_a_style_scoped_above_jupyters_own_rules() -> None:
    html = document("report", "<p>x</p>")
    assert html.startswith('<div class="cmkguard cmkguard-report"><style>')
    # JupyterLab: `:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td {text-align: right}` is
    # two classes and one element; ours must outrank it (two classes, three elements).
    assert "div.cmkguard.cmkguard table th,div.cmkguard.cmkguard table td{text-align:left;" in STYLE
    assert "table-layout:auto" in STYLE
    assert "td.num{text-align:right" in STYLE


def test_prose_sets_code_spans_and_escapes_the_rest() -> None:
    assert prose("Run `kms enable-key` <now>") == "Run <code>kms enable-key</code> &lt;now&gt;"
