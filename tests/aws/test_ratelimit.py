"""The client-side rate limiter (`cmkguard.aws.ratelimit`): the token-bucket guarantee with a fake
clock. The request log of a real organisation scan is checked in tests/org/test_org_ratelimit.py."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cmkguard
from cmkguard.aws.ratelimit import RateLimiter, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


@given(
    per_second=st.floats(0.5, 50),
    burst=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=60),
)
def test_bucket_never_exceeds_burst_plus_rate_per_window(
    per_second: float, burst: int, gaps: list[float]
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(cmkguard.Rate(per_second, burst), clock=clock, sleep=clock.sleep)
    sent = []
    for gap in gaps:
        clock.now += gap
        bucket.acquire()
        sent.append(clock.now)
    for window in (0.5, 1.0, 3.0):
        assert max_in_window(sent, window) <= burst + per_second * window + 1e-9


def test_limits_pick_the_most_specific_rule() -> None:
    limits = cmkguard.DEFAULT_RATE_LIMITS
    assert limits.bucket_for("kms", "ListGrants") == (
        "kms:ListGrants",
        limits.rules["kms:ListGrants"],
    )
    assert limits.bucket_for("kms", "DescribeKey") == ("kms", limits.rules["kms"])
    assert limits.bucket_for("rds", "DescribeDBInstances")[0] == "rds"
    assert limits.bucket_for("ec2", "DescribeVolumes") == ("ec2", limits.default)
    assert cmkguard.RateLimits().bucket_for("rds", "X") is None
    # Well below AWS's quotas: RDS 12/s sustained, KMS ListGrants 100/s, ListSecrets 100/s.
    assert limits.rules["rds"].per_second <= 12 / 2
    assert limits.rules["kms:ListGrants"].per_second <= 100 / 2
    assert limits.rules["secretsmanager:ListSecrets"].per_second <= 100 / 2


@pytest.mark.parametrize(("per_second", "burst"), [(0, 1), (1, -1), (True, 1), ("3", 1)])
def test_bad_rates_are_configuration_errors(per_second: object, burst: object) -> None:
    with pytest.raises(cmkguard.ConfigurationError):
        cmkguard.Rate(per_second, burst)  # type: ignore[arg-type]


def test_buckets_are_per_account_and_region() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        cmkguard.RateLimits({"rds": cmkguard.Rate(1, 1)}), clock=clock, sleep=clock.sleep
    )
    assert limiter.acquire("111122223333", "eu-west-1", "rds", "DescribeDBInstances") == 0
    assert limiter.acquire("444455556666", "eu-west-1", "rds", "DescribeDBInstances") == 0
    assert limiter.acquire("111122223333", "us-east-1", "rds", "DescribeDBInstances") == 0
    assert limiter.acquire("111122223333", "eu-west-1", "rds", "DescribeDBClusters") == 1.0
