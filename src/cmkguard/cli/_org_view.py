"""The organisation-wide answers as terminal lines (`cmkguard scan`/`audit` on an
organisation's inventory): coverage by OU and account (worst first), the kill-switch view of
the keys others depend on, keys reachable from outside the organisation, accounts not read."""

from __future__ import annotations

from cmkguard.auditing.org import OrganizationView, OuCoverage

__all__ = ["org_summary_lines", "org_view_lines"]

_TOP = 10
"""Rows per section on a terminal (the JSON has them all)."""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _ou_label(ou: str) -> str:
    return "/ (accounts at the root)" if ou == "/" else ou


def _more(count: int, what: str) -> list[str]:
    return [f"    ... and {count - _TOP} more {what}"] if count > _TOP else []


def _ou_line(o: OuCoverage) -> str:
    unread = f", {o.unread} NOT read" if o.unread else ""
    if not o.accounts:
        return f"    {_ou_label(o.ou)}: unknown, {o.unread} account(s) NOT read"
    return (
        f"    {_ou_label(o.ou)}: {o.coverage.on_cmk}/{o.coverage.measured} on CMK "
        f"({_pct(o.coverage.percent)}) in {o.accounts} account(s){unread}"
    )


def org_summary_lines(view: OrganizationView) -> list[str]:
    """Short lines for the scan summary: in-organisation coverage, accounts not read."""
    lines = [
        f"  organisation {view.org_id}: CMK coverage {_pct(view.coverage.percent)} counting the "
        "organisation's keys (central key account included)"
    ]
    if view.unread:
        lines.append(f"  {len(view.unread)} account(s) NOT read:")
        lines.extend(f"    {u.account} ({u.ou}): {u.reason}" for u in view.unread)
    if view.suspended:
        lines.append(f"  suspended, not scanned: {', '.join(view.suspended)}")
    return lines


def org_view_lines(view: OrganizationView) -> list[str]:
    """Every section of the organisation view, the worst first, at most ten rows each."""
    lines = [
        f"ORGANISATION {view.org_id}: CMK coverage {_pct(view.coverage.percent)} of "
        f"{view.coverage.measured} resources (keys of the organisation's accounts count)",
        "  coverage by OU (worst first):",
    ]
    lines.extend(_ou_line(o) for o in view.coverage_by_ou[:_TOP])
    lines += _more(len(view.coverage_by_ou), "OUs")
    lines.append("  coverage by account (worst first):")
    for a in view.coverage_by_account[:_TOP]:
        label = f"{a.account} {a.name} ({a.ou})".replace(" ()", "")
        if a.read:
            lines.append(
                f"    {label}: {a.coverage.on_cmk}/{a.coverage.measured} on CMK "
                f"({_pct(a.coverage.percent)})"
            )
        else:
            lines.append(f"    {label}: NOT read")
    lines += _more(len(view.coverage_by_account), "accounts")
    shared = [k for k in view.kill_switch if len(k.accounts) > 1 or k.key_account not in k.accounts]
    lines.append(
        "  kill switch (keys other accounts depend on: disabling one makes these unreadable):"
    )
    if not shared:
        lines.append("    none: no key is used outside its own account")
    for k in shared[:_TOP]:
        region = k.key_arn.split(":")[3] if k.key_arn.count(":") >= 5 else "?"
        name = f"{k.aliases[0]} in {region}" if k.aliases else k.key_arn
        lines.append(
            f"    {name} ({k.key_account}, {k.state}): {len(k.dependents)} resource(s) in "
            f"{len(k.accounts)} account(s): {', '.join(k.accounts)}"
        )
    lines += _more(len(shared), "keys")
    lines.append("  keys reachable from outside the organisation:")
    if not view.outside_access:
        lines.append("    none")
    lines.extend(
        f"    {o.aliases[0] + ' ' if o.aliases else ''}{o.key_arn} via {o.via}: "
        f"{', '.join(o.principals)}"
        for o in view.outside_access[:_TOP]
    )
    lines += _more(len(view.outside_access), "keys")
    if view.unread:
        lines.append(f"  accounts NOT read ({len(view.unread)}):")
        lines.extend(f"    {u.account} ({u.ou}): {u.reason}" for u in view.unread)
    if view.suspended:
        lines.append(f"  suspended, not scanned: {', '.join(view.suspended)}")
    return lines
