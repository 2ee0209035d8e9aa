"""HTML rendering for Jupyter (`_repr_html_`): reports and inventories as readable tables.

Everything that comes from AWS (names, tags, ARNs, policy text) or from the user (suppression
reasons) is escaped: a resource named `<script>` must render as text, not run.

What an auditor reads first comes first: the KPIs, then the findings rolled up by rule (worst
severity first, one collapsible `<details>` per rule with its remediation once), where findings
whose message differs only by the resource's name are one row listing those names. Resources and
keys are shown by the names people know (alias, DB identifier, secret name) with the ARN on hover.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from cmkguard._html import Hover, Raw, cell, document, prose, table
from cmkguard.report._common import key_users
from cmkguard.severity import Severity

if TYPE_CHECKING:
    from cmkguard.auditing.changes import AuditDiff
    from cmkguard.auditing.finding import Finding
    from cmkguard.auditing.report import AuditReport
    from cmkguard.inventory.values import Inventory, KmsKey, RotationStatus

__all__ = ["diff_html", "inventory_html", "report_html"]


_SEV_COLOR = {
    Severity.CRITICAL: "#b71c1c",
    Severity.HIGH: "#e65100",
    Severity.MEDIUM: "#8d6e00",
    Severity.LOW: "#1565c0",
    Severity.INFO: "#616161",
}
_OPEN_AT = Severity.HIGH
"""Rules at or above this severity are expanded; the others start collapsed."""
_OPEN_ROWS = 25
"""Inventory tables up to this many rows start expanded; longer ones collapsed."""
_NAMES_SHOWN = 12
"""Names listed in one grouped row before the rest are counted."""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _badge(sev: Severity) -> str:
    return (
        f"<span class='sev' style='background:{_SEV_COLOR[sev]}'>{escape(sev.value.upper())}</span>"
    )


def _completeness_banner(report: AuditReport) -> list[str]:
    """A visible warning when the KPIs cover only part of the estate (none when complete)."""
    c = report.kpis.completeness
    if c.complete:
        return []
    regions = report.scan.regions
    read = [r for r in regions if r not in c.partial_regions]
    detail = f"partial: {len(read)} of {len(regions)} regions fully read" if regions else "partial"
    return [
        "<p role='alert' style='border-left:4px solid #b71c1c;"
        "padding:4px 8px;background:#fdecea'>"
        f"<b>{escape(detail)}</b>: {escape(c.summary())}. These figures cover what was read.</p>"
    ]


def _filters_line(report: AuditReport) -> list[str]:
    if not report.filters:
        return []
    return [f"<p>Filtered: {escape(', '.join(report.filters))}</p>"]


def _summary(report: AuditReport) -> str:
    k = report.kpis
    scope = report.scan
    where = ", ".join(
        part
        for part in (
            f"accounts {', '.join(scope.accounts)}" if scope.accounts else "",
            f"regions {', '.join(scope.regions)}" if scope.regions else "",
        )
        if part
    )
    return (
        f"<p>CMK coverage <b>{_pct(k.cmk_coverage)}</b> of {k.coverage.measured} resources; "
        f"rotation compliance <b>{_pct(k.rotation_compliance)}</b> of "
        f"{k.rotation_applicable} keys; {len(report.findings)} findings"
        f"{f', {k.suppressed_findings} suppressed' if k.suppressed_findings else ''}"
        f"{f'; <b>{k.scan_errors} scan errors</b>' if k.scan_errors else ''}"
        f"{f' ({escape(where)})' if where else ''}.</p>"
    )


def _severity_table(report: AuditReport) -> str:
    rows = []
    for sev in sorted(Severity, reverse=True):
        group = [f for f in report.findings if f.severity is sev]
        if group:
            rows.append((Raw(_badge(sev)), len(group), len({f.rule_id for f in group})))
    return table(["severity", "findings", "rules"], rows) if rows else "<p>No findings.</p>"


def _template(finding: Finding) -> str:
    """The message with this finding's own identifiers blanked: equal templates mean
    near-identical findings (same problem, another resource), shown as one row."""
    text = finding.message
    for ident in (finding.key_arn, finding.resource_arn):
        if ident:
            text = text.replace(ident, "…")
    if finding.name:
        text = text.replace(finding.name, "…")
    # "alias/x (arn)" became "alias/… (…)": one placeholder reads better.
    return text.replace("alias/… (…)", "…").replace(" (…)", "")


def _names(group: Sequence[Finding]) -> Raw:
    """The names of a row's findings, each with its ARN on hover; a name that occurs twice
    (the same identifier in two regions) says its region."""
    labels = [f.name or f.target for f in group]
    twice = {label for label in labels if labels.count(label) > 1}
    shown = [
        Hover(f"{label} ({f.region})" if label in twice and f.region else label, f.target)
        for label, f in zip(labels[:_NAMES_SHOWN], group, strict=False)
    ]
    more = f" and {len(group) - _NAMES_SHOWN} more" if len(group) > _NAMES_SHOWN else ""
    return Raw(", ".join(cell(h) for h in shown) + escape(more))


def _distinct(values: Iterable[str | None]) -> str:
    return ", ".join(sorted({v for v in values if v}))


def _rule_rows(findings: Sequence[Finding]) -> list[tuple[Any, ...]]:
    groups: dict[tuple[str, bool], list[Finding]] = defaultdict(list)
    for f in findings:
        groups[(_template(f), f.suppressed)].append(f)
    rows: list[tuple[Any, ...]] = []
    for (template, suppressed), group in groups.items():
        message = group[0].message if len(group) == 1 else template
        reasons = _distinct(f.suppression_reason for f in group) if suppressed else ""
        row: tuple[Any, ...] = (
            _names(group),
            len(group),
            _distinct(f.account for f in group),
            _distinct(f.region for f in group),
            message,
        )
        if any(f.suppressed for f in findings):
            row += (f"suppressed: {reasons}" if suppressed else "",)
        rows.append(row)
    return rows


def _rule_section(rule_id: str, findings: Sequence[Finding]) -> str:
    sev = max(f.severity for f in findings)
    suppressed = sum(f.suppressed for f in findings)
    note = f", {suppressed} suppressed" if suppressed else ""
    rows = _rule_rows(findings)
    return (
        f"<details{' open' if sev >= _OPEN_AT else ''}><summary>{_badge(sev)}"
        f"<b>{escape(rule_id)}</b>: {escape(findings[0].title)} "
        f"({len(findings)} finding{'s' if len(findings) != 1 else ''}{note})</summary>"
        f"<p><i>Remediation:</i> {prose(findings[0].remediation)}</p>"
        + table(
            ["name", "findings", "account", "region", "message", "suppressed"][: len(rows[0])],
            rows,
            nowrap=(2, 3),
        )
        + "</details>"
    )


def _findings_by_rule(report: AuditReport) -> list[str]:
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_rule[f.rule_id].append(f)
    order = sorted(
        by_rule.items(),
        key=lambda item: (-max(f.severity for f in item[1]).rank, -len(item[1]), item[0]),
    )
    if not order:
        return []
    return [
        f"<h4>Findings by rule ({len(order)} rules)</h4>",
        *(_rule_section(rule_id, group) for rule_id, group in order),
    ]


def _expired(report: AuditReport) -> list[str]:
    if not report.expired_suppressions:
        return []
    return [
        "<h4>Expired suppressions (no longer applied)</h4>",
        table(
            ["rule", "resource", "reason", "expired"],
            [
                (s.rule_id, s.resource, s.reason, s.expires.isoformat() if s.expires else "")
                for s in report.expired_suppressions
            ],
            nowrap=(0, 3),
        ),
    ]


def report_html(report: AuditReport) -> str:
    """A report: KPI summary, findings per severity, coverage by resource type, then the
    findings rolled up by rule (expandable; critical and high open)."""
    k = report.kpis
    return document(
        "report",
        f"<h3>cmkguard audit ({escape(report.generated_at.isoformat(timespec='seconds'))})</h3>",
        _summary(report),
        *_completeness_banner(report),
        *_filters_line(report),
        _severity_table(report),
        table(
            ["resource type", "resources", "on CMK", "coverage"],
            [
                (name, c.total, c.on_cmk, _pct(c.percent))
                for name, c in k.coverage_by_resource_type.items()
            ],
            nowrap=(0,),
            numeric=(3,),
        ),
        *_findings_by_rule(report),
        *_expired(report),
    )


def _key_label(key: KmsKey | None, arn: str | None) -> Hover | str:
    """A key by its first alias (or key id), the ARN on hover."""
    if not arn:
        return ""
    if key is None:
        return Hover(arn.rsplit("/", 1)[-1], arn)
    return Hover(key.aliases[0] if key.aliases else key.key_id, arn)


def _section(title: str, rows: int) -> str:
    """A collapsible section, open when short enough to read at a glance."""
    return (
        f"<details{' open' if rows <= _OPEN_ROWS else ''}><summary><b>{escape(title)}</b></summary>"
    )


def inventory_html(inventory: Inventory) -> str:
    """An inventory: summary line, then a resources table and a keys table (each collapsible,
    collapsed when long)."""
    counts = ", ".join(
        f"{escape(kc.value)}: {n}" for kc, n in inventory.counts_by_class().items() if n
    )
    users = key_users(inventory)
    parts = [
        f"<p><b>{len(inventory.resources)} resources</b> ({counts or 'none'}), "
        f"<b>{len(inventory.keys)} keys</b>, CMK coverage {_pct(inventory.cmk_coverage)}"
        f"{f', <b>{len(inventory.errors)} scan errors</b>' if inventory.errors else ''}.</p>",
        _section(f"Resources ({len(inventory.resources)})", len(inventory.resources)),
        table(
            ["type", "name", "account", "region", "key class", "key"],
            [
                (
                    r.resource_type,
                    Hover(r.name, r.arn),
                    r.account,
                    r.region,
                    r.key_class.value,
                    _key_label(inventory.keys.get(r.key_arn) if r.key_arn else None, r.key_arn),
                )
                for r in inventory.resources
            ],
            nowrap=(0, 2, 3, 4),
        ),
        "</details>",
        _section(f"Keys ({len(inventory.keys)})", len(inventory.keys)),
        table(
            ["key", "account", "region", "manager", "state", "rotation", "resources", "tags"],
            [
                (
                    _key_label(k, k.arn),
                    k.account,
                    k.region,
                    k.manager,
                    k.state,
                    _rotation(k.rotation),
                    users.get(k.arn, 0),
                    ", ".join(f"{t}={v}" for t, v in sorted(k.tags.items())),
                )
                for k in inventory.keys.values()
            ],
            nowrap=(1, 2, 3, 4, 5),
        ),
        "</details>",
    ]
    if inventory.errors:
        parts.append("<h4>Not read</h4>")
        parts.append(table(["error"], [(str(e),) for e in inventory.errors]))
    return document("inventory", *parts)


def _rotation(rotation: RotationStatus | None) -> str:
    """A key's rotation as people say it; a period AWS did not report is unknown, not a
    guessed 365 days."""
    if rotation is None:
        return "unknown"
    if not rotation.applicable:
        return "n/a"
    if rotation.enabled is None:
        return "unknown"
    if not rotation.enabled:
        return "off"
    if rotation.period_days is None:
        return "on (period unknown)"
    return f"every {rotation.period_days} d"


def diff_html(changes: AuditDiff) -> str:
    """An audit diff: new and resolved findings, and how many persist."""
    mttr = changes.mean_time_to_remediate()
    parts = [
        f"<p><b>{len(changes.new)} new</b>, <b>{len(changes.resolved)} resolved</b>, "
        f"{len(changes.persisting)} persisting"
        f"{f' (mean time to remediate {escape(str(mttr))})' if mttr is not None else ''}.</p>",
    ]
    for title, group in (("New", changes.new), ("Resolved", changes.resolved)):
        if group:
            parts.append(f"<h4>{title}</h4>")
            parts.append(
                table(
                    ["severity", "rule", "name", "first seen"],
                    [
                        (
                            Raw(_badge(f.severity)),
                            f.rule_id,
                            Hover(f.name or f.target, f.target),
                            f.first_seen.isoformat(timespec="seconds") if f.first_seen else "",
                        )
                        for f in group
                    ],
                    nowrap=(1, 3),
                )
            )
    return document("diff", *parts)
