"""The policy package's memo state, in one object with one `clear()`.

Estates repeat the same principals, patterns and policy texts, so parsing and matching remember
what they computed (pure functions of immutable inputs). Every memo is made here, so that
benchmarks can measure the analyser on parts it has never seen by calling `Memos.clear`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

__all__ = ["MEMOS", "MEMO_LIMIT", "Memos", "remember"]

F = TypeVar("F", bound=Callable[..., Any])

MEMO_LIMIT = 4096
"""Entries a memo table holds before `remember` empties it."""


def remember(memo: dict[Any, Any], key: Any, value: Any, limit: int = MEMO_LIMIT) -> None:
    """`memo[key] = value`, emptying `memo` first when it holds `limit` entries (a bound on
    memory that costs nothing per hit, unlike an LRU's bookkeeping)."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value


class Memos:
    """A registry of bounded memo dicts and `lru_cache` functions."""

    def __init__(self) -> None:
        self._dicts: list[dict[Any, Any]] = []
        self._caches: list[Any] = []

    def table(self) -> dict[Any, Any]:
        """A new memo dict, cleared with the others."""
        d: dict[Any, Any] = {}
        self._dicts.append(d)
        return d

    def cached(self, maxsize: int) -> Callable[[F], F]:
        """`functools.lru_cache(maxsize)`, cleared with the others."""

        def wrap(fn: F) -> F:
            cached = lru_cache(maxsize=maxsize)(fn)
            self._caches.append(cached)
            return cached  # type: ignore[return-value]

        return wrap

    def clear(self) -> None:
        """Forget everything remembered."""
        for d in self._dicts:
            d.clear()
        for c in self._caches:
            c.cache_clear()


MEMOS = Memos()
"""The one registry of the policy package."""
