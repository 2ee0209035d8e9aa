"""Scan progress: `scan(..., progress=callable)` calls it with a frozen `ScanEvent`.

One style for every long operation of cmkguard (scan, migration `execute`, organisation
scans): `progress: Callable[[Event], None] | None`, the event a frozen attrs value, the call made
from the caller's thread. The four-method `ScanProgress` object of earlier versions is still
accepted for one release (with a `DeprecationWarning`).
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import attrs

from cmkguard.errors import ConfigurationError
from cmkguard.inventory.units import ScanUnit

if TYPE_CHECKING:
    from cmkguard.inventory.values import Inventory

__all__ = ["NullProgress", "ScanEvent", "ScanEventKind", "ScanProgress", "as_callback"]


class ScanEventKind(enum.Enum):
    """What a `ScanEvent` reports."""

    STARTED = "started"
    """The scan starts with `added` units of work (all of `total`)."""
    UNITS_ADDED = "units-added"
    """Finished units spawned `added` more (per-key reads, describes of foreign keys...)."""
    UNIT_DONE = "unit-done"
    """`unit` finished, having found `items` things and recorded `errors` errors."""
    FINISHED = "finished"
    """The scan finished: `inventory` is its result."""


@attrs.frozen
class ScanEvent:
    """One step of a scan's progress; `done` of `total` units are finished so far.

    `total` grows while the scan runs (a region's key listing spawns one unit per key), so a
    progress bar sets its total from each event.
    """

    kind: ScanEventKind
    done: int
    total: int
    added: int = 0
    unit: ScanUnit | None = None
    items: int = 0
    errors: int = 0
    inventory: Inventory | None = attrs.field(default=None, repr=False, eq=False)


ProgressCallback = Callable[[ScanEvent], None]


class ScanProgress(Protocol):
    """Deprecated: the four-method progress object (pass a callable taking a `ScanEvent`).

    `on_start(units)`, `on_units_added(units)`, `on_unit_done(unit, items, errors)` and
    `on_finish(inventory)`, each optional. Still accepted for one release.
    """

    def on_start(self, units: int) -> None:
        """The scan starts with `units` units of work."""

    def on_units_added(self, units: int) -> None:
        """`units` more units of work were discovered."""

    def on_unit_done(self, unit: ScanUnit, items: int, errors: int) -> None:
        """`unit` finished, having found `items` things and recorded `errors` errors."""

    def on_finish(self, inventory: Inventory) -> None:
        """The scan finished."""


class NullProgress:
    """Deprecated: the do-nothing `ScanProgress` (pass `progress=None`, or a callable)."""

    def on_start(self, units: int) -> None:
        """Do nothing."""

    def on_units_added(self, units: int) -> None:
        """Do nothing."""

    def on_unit_done(self, unit: ScanUnit, items: int, errors: int) -> None:
        """Do nothing."""

    def on_finish(self, inventory: Inventory) -> None:
        """Do nothing."""


_HOOKS = ("on_start", "on_units_added", "on_unit_done", "on_finish")


def _ignore(event: ScanEvent) -> None:
    del event


@attrs.frozen
class _ProtocolAdapter:
    """A `ScanProgress` object seen as a callback (its missing hooks are no-ops)."""

    target: object

    def __call__(self, event: ScanEvent) -> None:
        kind = event.kind
        if kind is ScanEventKind.UNIT_DONE:
            self._hook("on_unit_done", event.unit, event.items, event.errors)
        elif kind is ScanEventKind.STARTED:
            self._hook("on_start", event.added)
        elif kind is ScanEventKind.UNITS_ADDED:
            self._hook("on_units_added", event.added)
        else:
            self._hook("on_finish", event.inventory)

    def _hook(self, name: str, *args: object) -> None:
        method = getattr(self.target, name, None)
        if method is not None:
            method(*args)


def as_callback(progress: ProgressCallback | ScanProgress | object | None) -> ProgressCallback:
    """`progress` as a callable: `None` -> a no-op, an old `ScanProgress` object -> an adapter.

    Raises `ConfigurationError` for anything else (a wrong object), before the scan starts.
    """
    if progress is None:
        return _ignore
    if any(hasattr(progress, hook) for hook in _HOOKS):
        if type(progress) is not NullProgress:
            warnings.warn(
                "a ScanProgress object (on_start/on_unit_done...) is deprecated: pass "
                "progress=callable, called with a cmkguard.inventory.ScanEvent",
                DeprecationWarning,
                stacklevel=3,
            )
        return _ProtocolAdapter(progress)
    if callable(progress):
        return progress
    raise ConfigurationError(
        f"progress must be a callable taking a ScanEvent (or None), not {type(progress).__name__}"
    )
