"""Renderings of a `Trend`: an SVG line chart, an HTML page, DataFrames and a text table.

The chart is hand-written SVG (a few dozen lines) rather than matplotlib or a JavaScript
library, so that the HTML stays one self-contained file that a CI artefact viewer or an email
client shows as is, and the core install needs no plotting dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

import attrs

from cmkguard._html import document, table
from cmkguard.errors import ConfigurationError
from cmkguard.report.frames import import_pandas

if TYPE_CHECKING:
    import pandas as pd

    from cmkguard.auditing.trend import Trend

__all__ = ["LineChart", "trend_chart", "trend_dataframe", "trend_html", "trend_table"]

_W, _H = 640, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 150, 36, 40
_COLOURS = ("#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037")


def _series(
    value: Sequence[tuple[str, Sequence[tuple[datetime, float | None]]]],
) -> tuple[tuple[str, tuple[tuple[datetime, float | None], ...]], ...]:
    return tuple((name, tuple(points)) for name, points in value)


@attrs.frozen
class LineChart:
    """Percentages over time, one line per series; renders as SVG in Jupyter (`_repr_svg_`)."""

    title: str
    series: tuple[tuple[str, tuple[tuple[datetime, float | None], ...]], ...] = attrs.field(
        converter=_series
    )

    def _times(self) -> list[datetime]:
        return sorted({at for _, points in self.series for at, _ in points})

    def _x(self, at: datetime, times: list[datetime]) -> float:
        span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
        inner = _W - _LEFT - _RIGHT
        if span == 0:
            return _LEFT + inner / 2
        return _LEFT + inner * (at - times[0]).total_seconds() / span

    @staticmethod
    def _y(pct: float) -> float:
        return _TOP + (_H - _TOP - _BOTTOM) * (1 - max(0.0, min(100.0, pct)) / 100)

    def _description(self) -> str:
        lines = []
        for name, points in self.series:
            values = ", ".join(
                f"{at.date().isoformat()} {'n/a' if v is None else f'{v:.1f}%'}" for at, v in points
            )
            lines.append(f"{name}: {values}")
        return "; ".join(lines)

    def to_svg(self) -> str:
        """The chart as an SVG document with a `<title>` and `<desc>` (the values as text,
        for screen readers and for anyone who cannot see the colours)."""
        times = self._times()
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img" '
            f'aria-label="{escape(self.title)}: {escape(self._description())}" '
            'font-family="sans-serif" font-size="11">',
            f"<title>{escape(self.title)}</title>",
            f"<desc>{escape(self._description())}</desc>",
            f'<text x="4" y="16" font-weight="bold" font-size="13">{escape(self.title)}</text>',
        ]
        for pct in (0, 50, 100):
            y = self._y(pct)
            out.append(
                f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{pct}%</text>'
            )
        if times:
            for at in (times[0], times[-1]):
                out.append(
                    f'<text x="{self._x(at, times):.1f}" y="{_H - _BOTTOM + 16}" '
                    f'text-anchor="middle">{escape(at.date().isoformat())}</text>'
                )
        for i, (name, points) in enumerate(self.series):
            colour = _COLOURS[i % len(_COLOURS)]
            xy = [(self._x(at, times), self._y(v)) for at, v in points if v is not None]
            if len(xy) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
                out.append(
                    f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
                )
            out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in xy)
            ly = _TOP + 14 * i
            out.append(
                f'<rect x="{_W - _RIGHT + 10}" y="{ly}" width="10" height="10" fill="{colour}"/>'
                f'<text x="{_W - _RIGHT + 24}" y="{ly + 9}">{escape(name)}</text>'
            )
        out.append("</svg>")
        return "".join(out)

    def _repr_svg_(self) -> str:
        return self.to_svg()


def trend_chart(trend: Trend) -> LineChart:
    """CMK coverage over time of a `Trend`, overall and per resource type, as an SVG chart."""
    types = sorted({t for p in trend.points for t in p.coverage_by_resource_type})
    series: list[tuple[str, list[tuple[datetime, float | None]]]] = [
        ("all resources", [(p.observed_at, p.coverage.percent) for p in trend.points])
    ]
    for t in types:
        series.append(
            (
                t,
                [
                    (p.observed_at, p.coverage_by_resource_type[t].percent)
                    for p in trend.points
                    if t in p.coverage_by_resource_type
                ],
            )
        )
    return LineChart("CMK coverage over time", series)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _tables(trend: Trend) -> list[tuple[str, Sequence[str], list[Sequence[Any]]]]:
    return [
        (
            "Coverage per audit",
            ("observed at", "CMK coverage", "resources", "active findings", "complete scan"),
            [
                (
                    p.observed_at.isoformat(timespec="seconds"),
                    _pct(p.coverage.percent),
                    p.coverage.total,
                    p.active_findings,
                    "yes" if p.complete else "NO (partial)",
                )
                for p in trend.points
            ],
        ),
        (
            "Mean time to remediate",
            ("rule", "remediated", "still open", "mean days"),
            [
                (m.rule_id, m.remediated, m.still_open, _days(m.mean_days))
                for m in trend.remediation
            ],
        ),
        (
            "New findings per week",
            ("week", "new findings"),
            list(trend.new_findings_per_week.items()),
        ),
        (
            "Automatic key rotations per quarter",
            ("quarter", "rotations"),
            list(trend.automatic_rotations_per_quarter.items()),
        ),
        (
            "Pass rate per control",
            ("rule", "passed", "failed", "pass rate"),
            [(c.rule_id, c.passed, c.failed, _pct(c.pass_rate)) for c in trend.controls],
        ),
    ]


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _problems_html(trend: Trend) -> str:
    if not trend.problems:
        return ""
    items = "".join(
        f"<li><code>{escape(p.source)}</code>: {escape(p.reason)}</li>" for p in trend.problems
    )
    return f"<p><strong>Files not read:</strong></p><ul>{items}</ul>"


def trend_html(trend: Trend, *, fragment: bool = False) -> str:
    """A `Trend` as one self-contained HTML page (no JavaScript): the coverage chart as inline
    SVG with a title and a text description, and every table; `fragment` leaves out the page
    around it (for a notebook cell)."""
    partial = sum(not p.complete for p in trend.points)
    warning = (
        f"<p><strong>{partial} audit(s) ran over a partial scan</strong>: their figures "
        "undercount, and a finding missing from them is not counted as remediated.</p>"
        if partial
        else ""
    )
    body = [
        f"<h2>KPIs over {len(trend.points)} audits</h2>",
        warning,
        _problems_html(trend),
        trend_chart(trend).to_svg(),
    ]
    for title, headers, rows in _tables(trend):
        body.append(f"<h3>{escape(title)}</h3>")
        body.append(table(headers, rows) if rows else "<p>none</p>")
    inner = document("trend", *body)
    if fragment:
        return inner
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>cmkguard: KPIs over time</title>"
        "<style>body{font-family:sans-serif;margin:2em}</style>"
        f"</head><body>{inner}</body></html>"
    )


def trend_table(trend: Trend) -> str:
    """The trend as plain text (what `cmkguard report trend` prints by default)."""
    lines: list[str] = []
    for title, headers, rows in _tables(trend):
        lines.append(f"{title}:")
        cells = [list(map(str, headers))] + [[str(c) for c in r] for r in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
        for row in cells:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if not rows:
            lines.append("  (none)")
        lines.append("")
    for p in trend.problems:
        lines.append(f"not read: {p.source}: {p.reason}")
    return "\n".join(lines).rstrip() + "\n"


_FRAMES = ("coverage", "mttr", "weekly", "rotations", "controls")


def trend_dataframe(trend: Trend, what: str = "coverage") -> pd.DataFrame:
    """One table of a `Trend` as a pandas DataFrame (needs the `pandas` extra).

    `what` is `coverage` (one row per audit and group: `all`, each resource type, each
    account), `mttr`, `weekly` (new findings per ISO week), `rotations` (automatic rotations per
    quarter) or `controls` (pass rate per rule).
    """
    if what not in _FRAMES:
        raise ConfigurationError(f"unknown trend table {what!r} (one of: {', '.join(_FRAMES)})")
    pandas = import_pandas()
    if what == "coverage":
        rows = []
        for p in trend.points:
            groups = [("all", "all", p.coverage)]
            groups += [("resource_type", k, v) for k, v in p.coverage_by_resource_type.items()]
            groups += [("account", k, v) for k, v in p.coverage_by_account.items()]
            rows += [
                {
                    "observed_at": p.observed_at,
                    "group_by": by,
                    "group": name,
                    "on_cmk": cov.on_cmk,
                    "measured": cov.measured,
                    "total": cov.total,
                    "percent": cov.percent,
                    "complete": p.complete,
                }
                for by, name, cov in groups
            ]
        return pandas.DataFrame(rows)
    if what == "mttr":
        return pandas.DataFrame([m.to_dict() for m in trend.remediation])
    if what == "controls":
        return pandas.DataFrame([c.to_dict() for c in trend.controls])
    counts = (
        trend.new_findings_per_week if what == "weekly" else trend.automatic_rotations_per_quarter
    )
    label = "week" if what == "weekly" else "quarter"
    return pandas.DataFrame(
        {label: list(counts), "count": list(counts.values())}, columns=[label, "count"]
    )
