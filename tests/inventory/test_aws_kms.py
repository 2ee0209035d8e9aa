"""cmkguard.inventory.aws_kms's pure helpers."""

from __future__ import annotations


def test_the_newest_rotation_wins_whatever_the_listing_order() -> None:
    from datetime import UTC, datetime

    from cmkguard.inventory.aws_kms import newest_rotation

    old, new = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)
    entries = [
        {"RotationDate": new, "RotationType": "ON_DEMAND"},
        {"RotationDate": old, "RotationType": "AUTOMATIC"},
        {"RotationType": "AUTOMATIC"},  # imported material listed without a date
    ]
    assert newest_rotation(entries) == new
    assert newest_rotation(reversed(entries)) == new
    assert newest_rotation([]) is None
