"""A client-side request limiter per (account, region, service), under AWS's own quotas.

AWS request quotas are per account and region and shared with the production workloads of the
account (and with the requests services make on their behalf). botocore's retries
slow down *after* AWS throttles; a scan of a whole organisation must not get there. This
limiter spaces requests *before* they are sent: one token bucket per (account, region,
service) (or per operation, where AWS's quota is per operation, as KMS's are), consulted by a
`before-sign` hook, so retries are counted too.

The guarantee, per bucket: in any window of `T` seconds at most `burst + per_second * T`
requests are signed. Hand-written (about 60 lines): the token-bucket libraries on PyPI are
asyncio- or Redis-oriented, and this must be a blocking, thread-safe, picklable-config
limiter living inside botocore's event hooks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from cmkguard.errors import ConfigurationError

__all__ = ["DEFAULT_RATE_LIMITS", "Rate", "RateLimiter", "RateLimits", "TokenBucket"]


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigurationError(f"{attribute.name} must be a positive number, not {value!r}")


@attrs.frozen
class Rate:
    """A sustained rate (requests per second) and a burst (requests that may go at once)."""

    per_second: float = attrs.field(validator=_positive)
    burst: float = attrs.field(validator=_positive)

    def __str__(self) -> str:
        return f"{self.per_second:g}/s (burst {self.burst:g})"


def _rules(value: Mapping[str, Rate]) -> dict[str, Rate]:
    rules = dict(value)
    for name, rate in rules.items():
        if not isinstance(rate, Rate):
            raise ConfigurationError(f"rate limit {name!r}: expected a Rate, not {rate!r}")
    return rules


@attrs.frozen
class RateLimits:
    """Which rate applies to a request: plain, picklable configuration.

    `rules` maps a service's signing name (`"rds"`, `"kms"`, `"secretsmanager"`,
    `"tagging"`) or `"service:Operation"` (`"kms:ListGrants"`) to a `Rate`; the
    most specific rule wins, and an operation rule is a bucket of its own. `default` applies
    to services without a rule (`None`: unlimited).
    """

    rules: Mapping[str, Rate] = attrs.field(factory=dict, converter=_rules, hash=False)
    default: Rate | None = None

    def bucket_for(self, service: str, operation: str) -> tuple[str, Rate] | None:
        """The bucket name and rate a request of `service:operation` draws from."""
        specific = f"{service}:{operation}"
        if specific in self.rules:
            return specific, self.rules[specific]
        if service in self.rules:
            return service, self.rules[service]
        return (service, self.default) if self.default is not None else None

    def with_rules(self, **rules: Rate) -> RateLimits:
        """A copy with more rules (keys as in `rules`, `:` written as `__`)."""
        merged = {**self.rules, **{k.replace("__", ":"): v for k, v in rules.items()}}
        return attrs.evolve(self, rules=merged)


DEFAULT_RATE_LIMITS = RateLimits(
    rules={
        # RDS: one quota for every API call, bursts of 300 then 12/s sustained.
        "rds": Rate(4, 20),
        # KMS quotas are per operation: ListGrants 100/s, GetKeyPolicy/GetKeyRotationStatus
        # 1,000/s, DescribeKey/ListResourceTags 2,000/s, ListKeys/ListAliases 500/s.
        "kms": Rate(50, 50),
        "kms:ListGrants": Rate(20, 20),
        # Secrets Manager: ListSecrets 100/s, DescribeSecret 40,000/s.
        "secretsmanager": Rate(50, 50),
        "secretsmanager:ListSecrets": Rate(20, 20),
        "tagging": Rate(5, 10),
        "lambda": Rate(10, 10),
        # Organizations throttles under concurrency (TooManyRequestsException).
        "organizations": Rate(10, 20),
    },
    default=Rate(10, 10),
)
"""Per (account, region): a third to a fifth of AWS's default quotas, or less."""


class TokenBucket:
    """A blocking, thread-safe token bucket (`clock`/`sleep` injectable for tests)."""

    def __init__(
        self,
        rate: Rate,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(rate.burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a token (possibly going into debt) and return how long to wait for it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(
                float(self.rate.burst), self._tokens + (now - self._stamp) * self.rate.per_second
            )
            self._stamp = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate.per_second

    def acquire(self) -> float:
        """Wait until a request may go; return the seconds waited."""
        wait = self._reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


class RateLimiter:
    """Token buckets per (account, region, bucket name), attached to sessions by a hook."""

    def __init__(
        self,
        limits: RateLimits = DEFAULT_RATE_LIMITS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self._lock = threading.Lock()
        self.waited = 0.0
        """Seconds requests spent waiting for a token, in total."""

    def acquire(self, account: str, region: str, service: str, operation: str) -> float:
        """Wait until `service:operation` may be sent in `account`/`region`."""
        found = self.limits.bucket_for(service, operation)
        if found is None:
            return 0.0
        name, rate = found
        key = (account, region, name)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(rate, clock=self._clock, sleep=self._sleep)
                self._buckets[key] = bucket
        waited = bucket.acquire()
        if waited:
            with self._lock:
                self.waited += waited
        return waited

    def sign_hook(self, account: str) -> Callable[..., None]:
        """A botocore `before-sign` handler that limits each request as one of `account`
        (for `AwsAccess.add_sign_hook`, or to register on a client's events)."""

        def before_sign(
            signing_name: str | None = None,
            region_name: str | None = None,
            operation_name: str | None = None,
            **_: Any,
        ) -> None:
            self.acquire(account, region_name or "", signing_name or "", operation_name or "")

        return before_sign

    def attach(self, target: Any, account: str) -> None:
        """Limit every request of `target` as requests of `account`: a botocore client, or
        a `boto3.Session` (every client it builds from now on)."""
        before_sign = self.sign_hook(account)
        meta = getattr(target, "meta", None)
        events = meta.events if meta is not None else target.events
        events.register("before-sign", before_sign, unique_id=f"cmkguard-limit-{id(self)}")
