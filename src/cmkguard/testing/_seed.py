"""Seeding a realistic estate into the emulated account (work in progress)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cmkguard.testing._emulator import EmulatedAWS
    from cmkguard.testing._truth import GroundTruth

__all__ = ["seed_estate"]


def seed_estate(
    aws: EmulatedAWS,
    *,
    regions: Iterable[str] = ("us-east-1", "eu-west-1"),
    scale: int = 1,
    seed: int = 0,
    accounts: Iterable[str] | None = None,
) -> GroundTruth:
    """Build a realistic estate and return its ground truth (not implemented yet)."""
    raise NotImplementedError("seed_estate is being built")
