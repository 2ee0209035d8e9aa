"""Region names, from botocore's partition data (no AWS call).

A scan validates the regions it is asked for *before* it calls AWS: a typo is bad input
(`UnknownRegionError`), whereas a real region that fails at run time
(an opt-in region the account has not enabled) becomes a `ScanError`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import cache

import botocore.session

from cmkguard.errors import ConfigurationError, UnknownRegionError
from cmkguard.types import Region

__all__ = ["known_regions", "partition_of", "validate_regions"]

# KMS is in every region of every partition, and a scan always reads KMS: its endpoint data is
# the list of regions a scan can run in.
_REFERENCE_SERVICE = "kms"


@cache
def _regions_by_partition() -> dict[str, tuple[str, ...]]:
    session = botocore.session.get_session()
    return {
        partition: tuple(session.get_available_regions(_REFERENCE_SERVICE, partition))
        for partition in session.get_available_partitions()
    }


def known_regions() -> frozenset[str]:
    """Every region name botocore knows, across all partitions."""
    return frozenset(r for regions in _regions_by_partition().values() for r in regions)


def partition_of(region: str) -> str:
    """The partition (`aws`, `aws-cn`, `aws-us-gov`...) a known region belongs to."""
    for partition, regions in _regions_by_partition().items():
        if region in regions:
            return partition
    return "aws"


def validate_regions(regions: Iterable[str]) -> tuple[Region, ...]:
    """The regions, de-duplicated in order; `UnknownRegionError` for a name AWS lacks.

    The error suggests the closest known names when there are some (a typo), else lists the
    regions of the commercial partition.
    """
    # A str is iterable too: "us-east-1" would be read as the regions "u", "s", "-"...
    if isinstance(regions, str):
        raise ConfigurationError(
            f"regions must be a list of region names, not the string {regions!r} "
            f"(write [{regions!r}])"
        )
    known = known_regions()
    out: list[Region] = []
    for raw in regions:
        if not isinstance(raw, str):
            raise ConfigurationError(f"region {raw!r} is not a region name (a str)")
        region = raw.strip()
        if region not in known:
            close = tuple(difflib.get_close_matches(region, sorted(known), n=3, cutoff=0.75))
            raise UnknownRegionError(region, _regions_by_partition().get("aws", ()), close)
        if region not in out:
            out.append(Region(region))
    return tuple(out)
