"""Can a statement's ``Resource`` match this key? (always / maybe / never)

In a key policy ``Resource`` is normally ``"*"`` (this key). Without the key's ARN the analyser
knows only its account, so a pattern naming a specific key id of that account *may* match. Allows
count when they may apply (over-approximating access is the safe side); Denies count only when
they always apply.
"""

from __future__ import annotations

import enum

from cmkguard.policy._glob import glob_match, has_wildcard
from cmkguard.policy.document import Statement

__all__ = ["Applies", "resource_applies"]


class Applies(enum.Enum):
    """Whether a statement applies to the analysed key."""

    ALWAYS = "always"
    MAYBE = "maybe"
    NEVER = "never"


def _one(pattern: str, key_account: str, key_arn: str | None) -> Applies:
    if pattern == "*":
        return Applies.ALWAYS
    if key_arn is not None:
        return Applies.ALWAYS if glob_match(pattern, key_arn, ignore_case=False) else Applies.NEVER
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        # Not a whole ARN: only a glob (which may span the colons) can still match the key's.
        return Applies.MAYBE if has_wildcard(pattern) else Applies.NEVER
    _, partition, service, region, account, resource = parts
    if not glob_match(service, "kms", ignore_case=False):
        return Applies.NEVER
    if not glob_match(account, key_account, ignore_case=False):
        return Applies.NEVER
    head = resource[:4]
    if not (head == "key/" or has_wildcard(head)):
        return Applies.NEVER  # alias/... never names the key in its own policy
    if resource in ("*", "key/*") and region == "*" and partition in ("*", "aws"):
        return Applies.ALWAYS
    return Applies.MAYBE


def resource_applies(stmt: Statement, key_account: str, key_arn: str | None) -> Applies:
    """Whether ``stmt``'s ``Resource``/``NotResource`` covers the key."""
    if stmt.resources == ("*",):  # the usual case
        return Applies.NEVER if stmt.not_resource else Applies.ALWAYS
    results = {_one(p, key_account, key_arn) for p in stmt.resources}
    if not stmt.not_resource:
        for level in (Applies.ALWAYS, Applies.MAYBE):
            if level in results:
                return level
        return Applies.NEVER
    if Applies.ALWAYS in results:
        return Applies.NEVER
    if Applies.MAYBE in results:
        return Applies.MAYBE
    return Applies.ALWAYS
