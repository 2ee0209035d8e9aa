"""What `cmkguard audit` prints: a summary first, then one line per finding, grouped by rule.

The order is the one people read a security tool's overview in (Prowler, Trivy): the KPIs, the
findings by severity and by rule, then each rule (worst first) with its fix once and one line
per finding: the name people know (key alias, DB identifier, secret name), where it is, and what
is wrong. Each ARN is printed at most once (a message's "alias/x (ARN)" is shortened to its
name), and the last line says where the full report is.

Two renderings of the same content:

- `plain_lines`: plain text for pipes, files and CI logs (grep-able, no escape codes, every
  finding listed);
- `print_rich`: rich tables with severity colours on a terminal (`NO_COLOR` honoured by rich);
  long rules are cut at `max_per_rule` lines there, with a count of the rest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cmkguard.severity import Severity

if TYPE_CHECKING:
    from cmkguard.auditing.finding import Finding
    from cmkguard.auditing.report import AuditReport

__all__ = ["SEVERITY_STYLE", "by_rule", "finding_row", "plain_lines", "print_rich"]

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
"""rich styles of the severities (terminal only)."""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def by_rule(findings: Sequence[Finding]) -> list[tuple[str, Severity, list[Finding]]]:
    """Findings per rule, the worst rule first (then the most findings, then the id)."""
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        groups[f.rule_id].append(f)
    rows = [(rule, max(f.severity for f in group), group) for rule, group in groups.items()]
    rows.sort(key=lambda row: (-row[1].rank, -len(row[2]), row[0]))
    return rows


def _label(f: Finding) -> str:
    """The name people know: `alias/<name>` for a key, the DB identifier or secret name for a
    resource, else the last part of the ARN."""
    if f.name:
        return f"alias/{f.name}" if f.resource_type == "kms:key" else f.name
    return f.target.rsplit("/", 1)[-1].rsplit(":", 1)[-1] or f.target


def _detail(f: Finding, label: str) -> str:
    """The message without what the line already says: the ARN after an alias, the name it
    starts with."""
    text = f.message
    for arn in (f.key_arn, f.resource_arn):
        if arn:
            text = text.replace(f" ({arn})", "")
    for prefix in (f"{label}: ", f"{label} "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def finding_row(f: Finding) -> tuple[str, str, str]:
    """`(name, where, detail)`: one finding on one line."""
    label = _label(f)
    where = " ".join(part for part in (f.account, f.region) if part)
    detail = _detail(f, label)
    if f.suppression_expired:
        detail += f" (suppression expired: {f.suppression_reason})"
    return label, where, detail


def _headline(report: AuditReport) -> list[str]:
    k = report.kpis
    scope = report.scan
    where = "; ".join(
        part
        for part in (
            f"accounts {', '.join(scope.accounts)}" if scope.accounts else "",
            f"regions {', '.join(scope.regions)}" if scope.regions else "",
        )
        if part
    )
    lines = [
        f"cmkguard audit{f' of {where}' if where else ''}",
        f"CMK coverage {_pct(k.cmk_coverage)} of {k.coverage.measured} resources; "
        f"rotation compliance {_pct(k.rotation_compliance)} of {k.rotation_applicable} keys",
    ]
    if not k.completeness.complete:
        lines.append(f"PARTIAL: {k.completeness.summary()}: these figures cover what was read")
    return lines


def _severity_counts(report: AuditReport) -> list[tuple[Severity, int]]:
    counts = Counter(f.severity for f in report.active_findings)
    return [(s, counts[s]) for s in sorted(Severity, reverse=True) if counts[s]]


def _totals(report: AuditReport) -> str:
    k = report.kpis
    counts = ", ".join(f"{s.value} {n}" for s, n in _severity_counts(report))
    tail = f"; {k.suppressed_findings} suppressed" if k.suppressed_findings else ""
    return f"{len(report.active_findings)} findings ({counts or 'none'}){tail}"


def _footer(report: AuditReport) -> list[str]:
    k = report.kpis
    lines = ["CMK coverage by resource type:"]
    partial = set(k.completeness.partial_resource_types)
    for name, cov in k.coverage_by_resource_type.items():
        mark = " (partial)" if name in partial else ""
        lines.append(f"  {name}: {cov.on_cmk}/{cov.measured} on CMK ({_pct(cov.percent)}){mark}")
    if k.scan_errors:
        lines.append(f"{k.scan_errors} scan error(s): see the inventory-incomplete findings")
    for s in report.expired_suppressions:
        expiry = s.expires.isoformat() if s.expires else "?"
        lines.append(f"expired suppression ({expiry}): {s.rule_id} {s.resource}: {s.reason}")
    for s in report.unused_suppressions:
        lines.append(f"unused suppression: {s.rule_id} {s.resource}")
    return lines


def plain_lines(report: AuditReport, pointer: str) -> list[str]:
    """The audit as plain lines: summary, by rule, each rule's findings, footer, `pointer`."""
    rules = by_rule(report.active_findings)
    lines = [*_headline(report), _totals(report), ""]
    if rules:
        lines.append("By rule:")
        width = max(len(rule) for rule, _, _ in rules)
        lines.extend(
            f"  {sev.value.upper():<8}  {rule:<{width}}  {len(group)}" for rule, sev, group in rules
        )
        lines.append("")
    for rule, sev, group in rules:
        lines.append(f"{sev.value.upper()}  {rule} ({len(group)}): {group[0].title}")
        lines.append(f"  fix: {group[0].remediation}")
        rows = [finding_row(f) for f in group]
        name_w = min(max(len(r[0]) for r in rows), 40)
        where_w = max(len(r[1]) for r in rows)
        lines.extend(f"  {n:<{name_w}}  {w:<{where_w}}  {d}" for n, w, d in rows)
        lines.append("")
    lines.extend(_footer(report))
    lines.append(pointer)
    return lines


def print_rich(report: AuditReport, console: Any, pointer: str, max_per_rule: int = 8) -> None:
    """The audit on a rich `Console`: coloured summary tables, then each rule's findings."""
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    for line in _headline(report):
        console.print(Text(line, style="bold red" if line.startswith("PARTIAL") else ""))
    counts = [
        part
        for sev, n in _severity_counts(report)
        for part in ((f" {sev.value.upper()} {n} ", SEVERITY_STYLE[sev]), " ")
    ]
    console.print(Text.assemble(f"{len(report.active_findings)} findings: ", *counts))
    rules = by_rule(report.active_findings)
    summary = Table(show_edge=False, box=None)
    summary.add_column("severity")
    summary.add_column("rule")
    summary.add_column("findings", justify="right")
    for rule, sev, group in rules:
        summary.add_row(Text(sev.value.upper(), style=SEVERITY_STYLE[sev]), rule, str(len(group)))
    console.print(summary)
    omitted = 0
    for rule, sev, group in rules:
        console.print()
        head = Text.assemble(
            (f" {sev.value.upper()} ", SEVERITY_STYLE[sev]),
            " ",
            (rule, "bold"),
            f" ({len(group)}): {group[0].title}",
        )
        console.print(head)
        console.print(Padding(Text(f"fix: {group[0].remediation}", style="dim"), (0, 0, 0, 1)))
        table = Table(show_header=False, box=None, padding=(0, 1), pad_edge=True)
        table.add_column("name", no_wrap=True, style="bold", max_width=40, overflow="ellipsis")
        table.add_column("where", no_wrap=True, style="dim")
        table.add_column("detail", overflow="fold")
        for f in group[:max_per_rule]:
            table.add_row(*(Text(cell) for cell in finding_row(f)))
        console.print(table)
        if len(group) > max_per_rule:
            omitted += len(group) - max_per_rule
            console.print(Text(f"  ... and {len(group) - max_per_rule} more", style="dim"))
    console.print()
    for line in _footer(report):
        console.print(Text(line))
    if k_sup := report.kpis.suppressed_findings:
        console.print(Text(f"{k_sup} suppressed findings not shown.", style="dim"))
    if omitted:
        console.print(
            Text(f"{omitted} findings not shown here: all are in the full report.", style="dim")
        )
    console.print(Text(pointer, style="bold"))
