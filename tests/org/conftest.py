"""The emulated organisation of tests/org: one for the whole package, seeded once (tests only
read it, or undo what they change: a denied region, a throttled account, the request log)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cmkguard.testing import EmulatedAWS, EmulatedOrganization, seed_organization

REGIONS = ("eu-west-1", "us-east-1")


@pytest.fixture(name="org", scope="package")
def _org() -> Iterator[EmulatedOrganization]:
    """A management account, the key account and 4 members (one suspended, one without
    roles), two regions each."""
    with EmulatedAWS() as aws:
        aws.reset()
        yield seed_organization(aws, members=4, regions=REGIONS)
        aws.reset()


@pytest.fixture(name="aws")
def _aws(org: EmulatedOrganization) -> EmulatedAWS:
    return org.aws
