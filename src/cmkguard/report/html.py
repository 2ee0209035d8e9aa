"""HTML rendering for Jupyter (`_repr_html_`): reports and inventories as readable tables.

Everything that comes from AWS (names, tags, ARNs, policy text) or from the user (suppression
reasons) is escaped: a resource named `<script>` must render as text, not run.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from cmkguard._html import table
from cmkguard.severity import Severity

if TYPE_CHECKING:
    from cmkguard.auditing.diff import AuditDiff
    from cmkguard.auditing.report import AuditReport
    from cmkguard.inventory.values import Inventory

__all__ = ["diff_html", "inventory_html", "report_html"]


_SEV_COLOR = {
    Severity.CRITICAL: "#b71c1c",
    Severity.HIGH: "#e65100",
    Severity.MEDIUM: "#f9a825",
    Severity.LOW: "#1565c0",
    Severity.INFO: "#616161",
}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _completeness_banner(report: AuditReport) -> list[str]:
    """A visible warning when the KPIs cover only part of the estate (none when complete)."""
    c = report.kpis.completeness
    if c.complete:
        return []
    regions = report.scan.regions
    read = [r for r in regions if r not in c.partial_regions]
    detail = f"partial: {len(read)} of {len(regions)} regions fully read" if regions else "partial"
    return [
        "<p role='alert' style='text-align:left;border-left:4px solid #b71c1c;"
        "padding:4px 8px;background:#fdecea'>"
        f"<b>{escape(detail)}</b>: {escape(c.summary())}. These figures cover what was read.</p>"
    ]


def _filters_line(report: AuditReport) -> list[str]:
    if not report.filters:
        return []
    return [f"<p>Filtered: {escape(', '.join(report.filters))}</p>"]


def report_html(report: AuditReport) -> str:
    """A report: KPI summary, coverage by resource type, findings grouped by severity."""
    k = report.kpis
    counts = ", ".join(f"{escape(s)}: {n}" for s, n in k.findings_by_severity.items())
    parts = [
        "<div class='cmkguard-report'>",
        f"<h3>cmkguard audit ({escape(report.generated_at.isoformat())})</h3>",
        f"<p>CMK coverage <b>{_pct(k.cmk_coverage)}</b> of {k.coverage.measured} resources; "
        f"rotation compliance <b>{_pct(k.rotation_compliance)}</b> of "
        f"{k.rotation_applicable} keys; findings {counts}"
        f"{f'; {k.suppressed_findings} suppressed' if k.suppressed_findings else ''}"
        f"{f'; <b>{k.scan_errors} scan errors</b>' if k.scan_errors else ''}.</p>",
        *_completeness_banner(report),
        *_filters_line(report),
        table(
            ["resource type", "resources", "on CMK", "coverage"],
            [
                (name, c.total, c.on_cmk, _pct(c.percent))
                for name, c in k.coverage_by_resource_type.items()
            ],
        ),
    ]
    for sev in sorted(Severity, reverse=True):
        group = [f for f in report.findings if f.severity is sev]
        if not group:
            continue
        parts.append(
            f"<h4 style='color:{_SEV_COLOR[sev]}'>{escape(sev.value.upper())} ({len(group)})</h4>"
        )
        parts.append(
            table(
                ["rule", "name", "target", "message", "remediation", "suppressed"],
                [
                    (
                        f.rule_id,
                        f.name or "",
                        f.target,
                        f.message,
                        f.remediation,
                        f.suppression_reason if f.suppressed else "",
                    )
                    for f in group
                ],
            )
        )
    if report.expired_suppressions:
        parts.append("<h4>Expired suppressions (no longer applied)</h4>")
        parts.append(
            table(
                ["rule", "resource", "reason", "expired"],
                [
                    (s.rule_id, s.resource, s.reason, s.expires.isoformat() if s.expires else "")
                    for s in report.expired_suppressions
                ],
            )
        )
    parts.append("</div>")
    return "".join(parts)


def inventory_html(inventory: Inventory) -> str:
    """An inventory: summary line, then a resources table and a keys table."""
    counts = ", ".join(
        f"{escape(kc.value)}: {n}" for kc, n in inventory.counts_by_class().items() if n
    )
    parts = [
        "<div class='cmkguard-inventory'>",
        f"<p><b>{len(inventory.resources)} resources</b> ({counts or 'none'}), "
        f"<b>{len(inventory.keys)} keys</b>, CMK coverage {_pct(inventory.cmk_coverage)}"
        f"{f', <b>{len(inventory.errors)} scan errors</b>' if inventory.errors else ''}.</p>",
        "<h4>Resources</h4>",
        table(
            ["type", "name", "account", "region", "key class", "key"],
            [
                (r.resource_type, r.name, r.account, r.region, r.key_class.value, r.key_arn)
                for r in inventory.resources
            ],
        ),
        "<h4>Keys</h4>",
        table(
            ["key", "aliases", "manager", "state", "rotation", "tags"],
            [
                (
                    k.arn,
                    ", ".join(k.aliases),
                    k.manager,
                    k.state,
                    _rotation(k.rotation),
                    ", ".join(f"{t}={v}" for t, v in sorted(k.tags.items())),
                )
                for k in inventory.keys.values()
            ],
        ),
    ]
    if inventory.errors:
        parts.append("<h4>Not read</h4>")
        parts.append(table(["error"], [(str(e),) for e in inventory.errors]))
    parts.append("</div>")
    return "".join(parts)


def _rotation(rotation: Any) -> str:
    if rotation is None:
        return "?"
    if not rotation.applicable:
        return "n/a"
    if not rotation.enabled:
        return "off"
    return f"every {rotation.period_days or 365} d"


def diff_html(changes: AuditDiff) -> str:
    """An audit diff: new and resolved findings, and how many persist."""
    mttr = changes.mean_time_to_remediate()
    parts = [
        "<div class='cmkguard-diff'>",
        f"<p><b>{len(changes.new)} new</b>, <b>{len(changes.resolved)} resolved</b>, "
        f"{len(changes.persisting)} persisting"
        f"{f' (mean time to remediate {escape(str(mttr))})' if mttr is not None else ''}.</p>",
    ]
    for title, group in (("New", changes.new), ("Resolved", changes.resolved)):
        if group:
            parts.append(f"<h4>{title}</h4>")
            parts.append(
                table(
                    ["severity", "rule", "target", "first seen"],
                    [
                        (
                            f.severity.value,
                            f.rule_id,
                            f.target,
                            f.first_seen.isoformat() if f.first_seen else "",
                        )
                        for f in group
                    ],
                )
            )
    parts.append("</div>")
    return "".join(parts)
