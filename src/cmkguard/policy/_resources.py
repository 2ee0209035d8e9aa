"""Can a statement's `Resource` match this key? (always / maybe / never)

In a key policy `Resource` is normally `"*"` (this key). Without the key's ARN the analyser
knows only its account, so a pattern naming a specific key id of that account *may* match. Allows
count when they may apply (over-approximating access is the safe side); Denies count only when
they always apply.
"""

from __future__ import annotations

import enum

from cmkguard.policy._glob import glob_match, has_wildcard
from cmkguard.policy.document import Statement

__all__ = ["Applies", "resource_applies", "resources_apply"]


class Applies(enum.Enum):
    """Whether a statement applies to the analysed key."""

    ALWAYS = "always"
    MAYBE = "maybe"
    NEVER = "never"


# Enum members as module constants: reading one off its Enum class costs ~80 ns on Python 3.11
# (a lookup through the metaclass), and these are read in the analyser's innermost loops.
_A_ALWAYS = Applies.ALWAYS
_A_MAYBE = Applies.MAYBE
_A_NEVER = Applies.NEVER


def _one(pattern: str, key_account: str, key_arn: str | None) -> Applies:
    if pattern == "*":
        return _A_ALWAYS
    if key_arn is not None:
        return _A_ALWAYS if glob_match(pattern, key_arn, ignore_case=False) else _A_NEVER
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        # Not a whole ARN: only a glob (which may span the colons) can still match the key's.
        return _A_MAYBE if has_wildcard(pattern) else _A_NEVER
    _, partition, service, region, account, resource = parts
    if not glob_match(service, "kms", ignore_case=False):
        return _A_NEVER
    if not glob_match(account, key_account, ignore_case=False):
        return _A_NEVER
    head = resource[:4]
    if not (head == "key/" or has_wildcard(head)):
        return _A_NEVER  # alias/... never names the key in its own policy
    if resource in ("*", "key/*") and region == "*" and partition in ("*", "aws"):
        return _A_ALWAYS
    return _A_MAYBE


def resource_applies(stmt: Statement, key_account: str, key_arn: str | None) -> Applies:
    """Whether `stmt`'s `Resource`/`NotResource` covers the key."""
    return resources_apply(stmt.resources, stmt.not_resource, key_account, key_arn)


def resources_apply(
    resources: tuple[str, ...], not_resource: bool, key_account: str, key_arn: str | None
) -> Applies:
    """Whether a statement's `resources` (`NotResource` when `not_resource`) cover the key."""
    if resources == ("*",):  # the usual case
        return _A_NEVER if not_resource else _A_ALWAYS
    results = {_one(p, key_account, key_arn) for p in resources}
    if not not_resource:
        for level in (_A_ALWAYS, _A_MAYBE):
            if level in results:
                return level
        return _A_NEVER
    if _A_ALWAYS in results:
        return _A_NEVER
    if _A_MAYBE in results:
        return _A_MAYBE
    return _A_ALWAYS
