"""IAM glob matching (``*`` and ``?``), precompiled and cached.

Policies repeat the same handful of patterns (``kms:*``, ``kms:GenerateDataKey*``...), so the
compiled regular expressions and the expansion of an action pattern over the finite KMS action
model are cached: analysing the ten-thousandth policy costs set look-ups, not regex compiles.
"""

from __future__ import annotations

import re
from functools import lru_cache

from cmkguard.policy._actions import KMS_ACTIONS

__all__ = [
    "ALL_ACTIONS",
    "CANONICAL_ACTION",
    "expand_action",
    "glob_match",
    "has_wildcard",
]

ALL_ACTIONS: frozenset[str] = frozenset(a.lower() for a in KMS_ACTIONS)
"""The KMS action model, lower-cased (actions match case-insensitively)."""

CANONICAL_ACTION: dict[str, str] = {a.lower(): a for a in KMS_ACTIONS}
"""Lower-cased action -> its canonical spelling (``kms:decrypt`` -> ``kms:Decrypt``)."""


def has_wildcard(text: str) -> bool:
    """Whether ``text`` contains an IAM wildcard character."""
    return "*" in text or "?" in text


@lru_cache(maxsize=4096)
def _compile(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for ch in pattern:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(pattern: str, text: str, *, ignore_case: bool = True) -> bool:
    """Whether ``text`` matches the IAM glob ``pattern`` as a whole."""
    if not has_wildcard(pattern):
        return pattern.lower() == text.lower() if ignore_case else pattern == text
    return _compile(pattern, ignore_case).fullmatch(text) is not None


@lru_cache(maxsize=4096)
def expand_action(pattern: str) -> frozenset[str]:
    """The lower-cased model actions an ``Action`` pattern matches.

    A literal ``kms:`` action the model does not know (a newer API) is kept as itself, so a
    statement naming it still grants something.
    """
    low = pattern.lower()
    if low in ("*", "kms:*"):
        return ALL_ACTIONS
    if not has_wildcard(low):
        if low in ALL_ACTIONS or low.startswith("kms:"):
            return frozenset((low,))
        return frozenset()
    rx = _compile(low, True)
    return frozenset(a for a in ALL_ACTIONS if rx.fullmatch(a))
