"""What the scan could not read becomes a finding: an audit never silently ignores a region."""

from __future__ import annotations

from collections.abc import Iterator

from cmkguard.auditing.context import AuditContext
from cmkguard.auditing.finding import Finding

__all__ = ["check_scan_errors"]


def check_scan_errors(ctx: AuditContext) -> Iterator[Finding]:
    """One `inventory-incomplete` finding per scan error, naming where and why."""
    for err in ctx.inventory.errors:
        target = err.target or ""
        disc = "|".join((err.operation, err.resource_type or "", target, err.error_code or ""))
        key_arn = target if target.startswith("arn:") and ":kms:" in target else None
        yield ctx.finding(
            "inventory-incomplete",
            f"Not read: {err}",
            key_arn=key_arn,
            account=err.account,
            region=err.region,
            resource_type=err.resource_type,
            evidence=err.to_dict(),
            discriminator=f"{err.account}|{err.region}|{disc}",
        )
