"""The request log of a real scan on the emulated organisation never exceeds the configured rate
(the rate limiter itself: tests/aws/test_ratelimit.py)."""

from __future__ import annotations

from collections import defaultdict

import cmkguard
from cmkguard.testing import EmulatedOrganization
from tests.aws.test_ratelimit import max_in_window


def test_a_scan_respects_the_limit_in_the_request_log(org: EmulatedOrganization) -> None:
    limits = cmkguard.DEFAULT_RATE_LIMITS.with_rules(rds=cmkguard.Rate(2, 1))
    found = cmkguard.organization_accounts(org.session(), accounts=org.truth.readable[1:3])
    org.record_requests()
    try:
        results = list(
            cmkguard.scan_organization(
                org.session(), found, regions=["eu-west-1", "us-east-1"], limits=limits
            )
        )
    finally:
        org.record_requests(False)
    assert all(r.complete for r in results)
    by_bucket: dict[tuple[str, str], list[float]] = defaultdict(list)
    for record in org.request_log():
        if record.service == "rds":
            by_bucket[(record.account, record.region)].append(record.at)
    assert len(by_bucket) == 4  # 2 accounts x 2 regions
    for times in by_bucket.values():
        assert len(times) >= 4  # instances, clusters, snapshots, cluster snapshots
        # burst + rate * window (arrival times jitter, so no tighter spacing is asserted)
        assert max_in_window(times, 1.0) <= 1 + 2 * 1.0
        assert max_in_window(times, 2.0) <= 1 + 2 * 2.0
