"""The audit's rules: each a function `(AuditContext) -> Iterator[Finding]`.

`ALL_RULES` runs in order; every finding a rule yields has a rule id from the catalogue
(`cmkguard.auditing.FINDING_CATALOGUE`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from cmkguard.auditing.context import AuditContext
from cmkguard.auditing.finding import Finding
from cmkguard.auditing.rules.inventory import check_scan_errors
from cmkguard.auditing.rules.keys import check_key_usage, check_rotation, check_tags
from cmkguard.auditing.rules.policies import check_policies
from cmkguard.auditing.rules.resources import check_key_class, check_key_state, check_secondary_keys
from cmkguard.auditing.rules.snapshots import check_leftover_snapshots
from cmkguard.auditing.rules.tenants import check_tenant_keys

__all__ = ["ALL_RULES", "Rule"]

Rule = Callable[[AuditContext], Iterator[Finding]]
"""A rule: reads the context, yields findings."""

ALL_RULES: tuple[Rule, ...] = (
    check_scan_errors,
    check_key_state,
    check_key_class,
    check_secondary_keys,
    check_leftover_snapshots,
    check_policies,
    check_rotation,
    check_tags,
    check_key_usage,
    check_tenant_keys,
)
"""Every rule, in the order the audit runs them."""
