"""An account's scan overlaps its independent requests: the region's key and alias listings
go out together, and the tag listing overlaps the keys' describes (a small organisation's
wall time is one account's chain of round trips)."""

from __future__ import annotations

from collections import defaultdict

import cmkguard
from cmkguard.testing import EmulatedOrganization

LATENCY_MS = 250


def test_the_key_listings_overlap_instead_of_following_each_other(
    org: EmulatedOrganization,
) -> None:
    truth = org.truth
    member = next(a for a in truth.readable if a not in (truth.management_account,))
    organization = cmkguard.organization_accounts(org.session())
    target = next(t for t in organization.targets if t.account == member)
    org.aws.latency_ms = LATENCY_MS
    org.record_requests()
    try:
        (result,) = cmkguard.scan_organization(org.session(), [target], regions=truth.regions)
    finally:
        org.record_requests(False)
        org.aws.latency_ms = 0
    assert result.reached
    at: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in org.request_log():
        if r.account == member:
            at[(r.region, r.operation)].append(r.at)
    latency = LATENCY_MS / 1000
    start = min(min(v) for v in at.values())
    seen = {k: [round(t - start, 3) for t in v] for k, v in sorted(at.items())}
    for region in truth.regions:
        # Sent together: one arrives before the other could have been answered (one after
        # another, ListAliases would follow ListKeys' answer, a round trip later).
        gap = abs(at[(region, "ListAliases")][0] - at[(region, "ListKeys")][0])
        assert gap < latency, seen
    # The keys are still complete: aliases and tags as seeded.
    seeded = {k.arn: k for k in truth.estate.keys.values() if k.account == member}
    keys = {k.arn: k for k in result.inventory.keys.values() if k.account == member}
    assert keys.keys() == seeded.keys()
    for arn, key in keys.items():
        assert set(key.aliases) == set(seeded[arn].aliases)
        assert dict(key.tags) == dict(seeded[arn].tags)
