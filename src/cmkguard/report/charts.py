"""Dependency-free bar charts (SVG) so a notebook can plot coverage without matplotlib."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from cmkguard.auditing.kpis import Kpis

__all__ = ["BarChart", "coverage_chart"]

_ROW = 26
_LABEL_W = 220
_BAR_W = 320


def _items(value: tuple[tuple[str, float | None], ...]) -> tuple[tuple[str, float | None], ...]:
    return tuple(value)


def _text(pct: float | None) -> str:
    return "n/a" if pct is None else f"{pct:.1f}%"


@attrs.frozen
class BarChart:
    """A horizontal bar chart of percentages; renders as SVG in Jupyter (`_repr_svg_`)."""

    title: str
    items: tuple[tuple[str, float | None], ...] = attrs.field(converter=_items)

    def alt_text(self) -> str:
        """The chart in words, e.g. `"CMK coverage by region: eu-west-1 50.0%, us-east-1 n/a"`:
        the SVG's `aria-label` and `<desc>`, for screen readers and colour-blind readers."""
        values = ", ".join(f"{label} {_text(pct)}" for label, pct in self.items)
        return f"{self.title}: {values}" if values else f"{self.title}: no data"

    def to_svg(self) -> str:
        """The chart as an SVG document (labels escaped; `n/a` for unmeasured groups), with a
        `<title>`, a `<desc>` and an `aria-label` that say the values in words."""
        height = 34 + _ROW * len(self.items)
        width = _LABEL_W + _BAR_W + 70
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="{escape(self.alt_text())}" '
            f'font-family="sans-serif" font-size="12">',
            f"<title>{escape(self.title)}</title>",
            f"<desc>{escape(self.alt_text())}</desc>",
            f'<text x="4" y="16" font-weight="bold">{escape(self.title)}</text>',
        ]
        for i, (label, pct) in enumerate(self.items):
            y = 28 + i * _ROW
            parts.append(f'<text x="4" y="{y + 14}">{escape(label)}</text>')
            parts.append(f'<rect x="{_LABEL_W}" y="{y}" width="{_BAR_W}" height="18" fill="#eee"/>')
            if pct is not None:
                w = round(_BAR_W * max(0.0, min(100.0, pct)) / 100, 1)
                color = "#2e7d32" if pct >= 90 else "#f9a825" if pct >= 50 else "#c62828"
                parts.append(
                    f'<rect x="{_LABEL_W}" y="{y}" width="{w}" height="18" fill="{color}"/>'
                )
            parts.append(f'<text x="{_LABEL_W + _BAR_W + 6}" y="{y + 14}">{_text(pct)}</text>')
        parts.append("</svg>")
        return "".join(parts)

    def _repr_svg_(self) -> str:
        return self.to_svg()


def coverage_chart(kpis: Kpis, by: str = "resource_type") -> BarChart:
    """CMK coverage per `resource_type`, `account` or `region` as a `BarChart`."""
    from cmkguard.report.frames import coverage_groups

    groups = coverage_groups(kpis, by)
    return BarChart(
        title=f"CMK coverage by {by.replace('_', ' ')}",
        items=tuple((name, cov.percent) for name, cov in groups.items()),
    )
