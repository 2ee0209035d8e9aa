"""`cmkguard audit` on a terminal: rich tables with severity colours, plain text when piped.

The rich path is driven through a rich `Console` that believes it is a terminal (what
`cmkguard audit` builds when stdout is a TTY), so the escape codes a user would see are checked.
"""

from __future__ import annotations

import io
import re
from types import ModuleType
from typing import Any

import attrs
import pytest

import cmkguard
from cmkguard.cli._audit_view import by_rule, finding_row, print_rich
from cmkguard.cli._scan_options import _RichProgress
from cmkguard.inventory import ScanEvent, ScanEventKind

rich_console = pytest.importorskip("rich.console")

ANSI = re.compile(r"\x1b\[[0-9;]*m")
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|4[0-7]|9[0-7])(?:;[0-9;]*)?m")


def _terminal(**options: Any) -> tuple[Any, io.StringIO]:
    out = io.StringIO()
    console = rich_console.Console(
        file=out,
        force_terminal=True,
        width=120,
        color_system="standard",
        markup=False,
        emoji=False,
        highlight=False,
        **options,
    )
    return console, out


@pytest.fixture(name="report")
def _report(estate: ModuleType) -> cmkguard.AuditReport:
    # A secret whose name looks like rich markup and an emoji code: it must print as written.
    odd = attrs.evolve(estate.R_PLAIN, name="[red]x:secret:")
    return cmkguard.audit(estate.inventory(resources=(*estate.RESOURCES, odd)), now=estate.NOW)


def test_a_terminal_gets_severity_colours_and_the_summary_first(
    report: cmkguard.AuditReport,
) -> None:
    console, out = _terminal()
    print_rich(report, console, "Full report (JSON, every field): audit.json")
    text = out.getvalue()
    assert COLOUR.search(text), "severities are coloured on a terminal"
    plain = ANSI.sub("", text)
    lines = plain.splitlines()
    assert lines[1].startswith("CMK coverage")
    assert re.search(r"\d+ findings:\s+CRITICAL \d+\s+HIGH \d+", plain)
    # The by-rule table lists every rule before any finding line.
    rules = [rule for rule, _, _ in by_rule(report.active_findings)]
    first_section = plain.index(" fix: ")
    for rule in rules:
        assert rule in plain[:first_section]
    assert lines[-1] == "Full report (JSON, every field): audit.json"
    assert "[red]x:secret:" in plain  # not markup, not an emoji


def test_no_color_keeps_the_layout_without_colours(
    report: cmkguard.AuditReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    console, out = _terminal()
    print_rich(report, console, "pointer")
    assert not COLOUR.search(out.getvalue())
    assert "CMK coverage" in ANSI.sub("", out.getvalue())


def test_long_rules_are_cut_on_a_terminal_and_the_rest_counted(
    report: cmkguard.AuditReport,
) -> None:
    console, out = _terminal()
    print_rich(report, console, "pointer", max_per_rule=1)
    plain = ANSI.sub("", out.getvalue())
    cut = sum(len(group) - 1 for _, _, group in by_rule(report.active_findings))
    assert cut > 0
    assert f"{cut} findings not shown here: all are in the full report." in plain


def test_a_finding_line_names_the_resource_and_prints_each_arn_at_most_once(
    report: cmkguard.AuditReport,
) -> None:
    for f in report.active_findings:
        name, where, detail = finding_row(f)
        line = f"{name} {where} {detail}"
        assert name
        assert not name.startswith("arn:")
        for arn in {f.key_arn, f.resource_arn} - {None}:
            assert line.count(str(arn)) <= 1, line
        if f.resource_type == "kms:key" and f.name:
            assert name == f"alias/{f.name}"


def test_the_progress_bar_appears_only_when_the_scan_starts() -> None:
    class Bar:
        def __init__(self) -> None:
            self.tasks: list[int | None] = []

        def add_task(self, description: str, total: int) -> int:
            self.tasks.append(total)
            return len(self.tasks)

        def update(self, task: int, **fields: Any) -> None:
            pass

    bar = Bar()
    progress = _RichProgress(bar)
    assert bar.tasks == []  # nothing drawn while --demo seeds (no "0/0" bar)
    progress(ScanEvent(kind=ScanEventKind.STARTED, total=16, done=0))
    assert bar.tasks == [16]
