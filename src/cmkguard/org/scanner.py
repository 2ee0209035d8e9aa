"""`scan_organization`: every account of an organisation on any executor, streamed.

The coordinator runs in the caller's thread. It keeps at most `accounts_in_flight` account
units (`AccountScan`, plain data) submitted to the executor - a thread pool by default, a
process pool, or Dask's `Client.get_executor()` - and yields each account's `AccountResult`
as soon as it is complete, so memory stays bounded by the accounts in flight, not by the size
of the organisation. `merge_results` makes one `Inventory` of the results for those who want
one; `failed_targets` names the accounts to try again.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import attrs

from cmkguard.aws.access import AccessSpec
from cmkguard.aws.ratelimit import DEFAULT_RATE_LIMITS, RateLimits
from cmkguard.aws.regions import validate_regions
from cmkguard.errors import ConfigurationError
from cmkguard.inventory import EncryptedResource, Inventory, KmsKey, ScanError
from cmkguard.inventory.values import OrgScope
from cmkguard.org.aws_scan import AccountScan, run_account_scan, warm_up
from cmkguard.org.model import AccountResult, AccountTarget, Organization
from cmkguard.resources import resolve_resource_types
from cmkguard.types import KeyArn

if TYPE_CHECKING:
    import boto3  # noqa: TID251 - a type only

__all__ = [
    "DEFAULT_ACCOUNTS_IN_FLIGHT",
    "OrgScanEvent",
    "failed_targets",
    "merge_results",
    "scan_organization",
]

DEFAULT_ACCOUNTS_IN_FLIGHT = 32
"""Accounts scanned at once by default (each with its own small thread pool).

An account's scan is a chain of dependent round trips (assume the role, list, describe each
key, read each CMK), so it is more accounts in flight, not more threads per account, that
keeps the requests overlapping; each account's rate limits are its own."""


@attrs.frozen
class OrgScanEvent:
    """Progress of an organisation scan: `result` just finished, `done` of `total`."""

    result: AccountResult
    done: int
    total: int


def _targets(accounts: Organization | Iterable[AccountTarget]) -> tuple[AccountTarget, ...]:
    if isinstance(accounts, Organization):
        return accounts.targets
    targets = tuple(accounts)
    for t in targets:
        if not isinstance(t, AccountTarget):
            raise ConfigurationError(f"accounts: not an AccountTarget: {t!r}")
    return targets


def _positive_int(value: int, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, not {value!r}")
    return value


def _worker_failure(unit: AccountScan, exc: BaseException) -> AccountResult:
    """A unit whose worker died (a lost Dask worker, a broken process pool): the account is
    reported unread, the rest goes on."""
    error = ScanError(
        unit.target.account,
        unit.regions[0],
        "scan",
        f"the worker scanning the account failed: {type(exc).__name__}: {exc}",
        error_code=type(exc).__name__,
    )
    inventory = Inventory(errors=[error], regions=unit.regions, resource_types=unit.resource_types)
    return AccountResult(unit.target, inventory, reached=False, attempt=unit.attempt)


def scan_organization(
    session: boto3.Session,
    accounts: Organization | Iterable[AccountTarget],
    *,
    regions: Iterable[str] | None = None,
    resource_types: Iterable[str] | None = None,
    executor: cf.Executor | None = None,
    accounts_in_flight: int = DEFAULT_ACCOUNTS_IN_FLIGHT,
    threads_per_account: int = 8,
    limits: RateLimits = DEFAULT_RATE_LIMITS,
    progress: Callable[[OrgScanEvent], None] | None = None,
    attempt: int = 1,
) -> Iterator[AccountResult]:
    """Scan every account, yielding each account's result as soon as it is complete.

    Args:
        session: The caller's session (management account or delegated administrator): each
            worker assumes the accounts' roles from these credentials.
        accounts: An `Organization` (its selected accounts) or `AccountTarget`s.
        regions: Regions to scan in every account (default: the session's region).
        resource_types: Registry names or service prefixes (default: every type).
        executor: Any `concurrent.futures.Executor` that runs the account units: a thread
            pool (default, owned by the scan), a process pool, or Dask's
            `distributed.Client(...).get_executor()`.
        accounts_in_flight: Accounts submitted at once (bounds memory and load).
        threads_per_account: Threads each account's scan uses inside its worker.
        limits: Client-side rate limits per (account, region, service).
        progress: Called with an `OrgScanEvent` after each account (caller's thread).
        attempt: The attempt number recorded in each result (retries count up).

    Yields:
        One `AccountResult` per account, in completion order. An account that cannot be
        entered (AssumeRole denied, throttled) is a result with `reached=False` and a
        `ScanError` naming it; a region denied by an SCP is a `ScanError` in its inventory.

    Raises:
        UnknownRegionError: a region name AWS does not have (before any AWS call).
        UnknownResourceTypeError: a type not in the registry (before any AWS call).
        ConfigurationError: a bad argument (before any AWS call).
    """
    targets = _targets(accounts)
    region_list = tuple(validate_regions(regions) if regions is not None else ())
    if not region_list:
        if regions is not None or not session.region_name:
            raise ConfigurationError("no region to scan: pass regions=[...] (CLI: --regions)")
        region_list = tuple(validate_regions([session.region_name]))
    types = tuple(t.name for t in resolve_resource_types(
        list(resource_types) if resource_types is not None else None
    ))  # fmt: skip
    in_flight = _positive_int(accounts_in_flight, "accounts_in_flight")
    threads = _positive_int(threads_per_account, "threads_per_account")
    if not isinstance(limits, RateLimits):
        raise ConfigurationError(f"limits: expected RateLimits, not {limits!r}")
    base = AccessSpec.from_session(session)
    units = iter(
        AccountScan(t, base, region_list, types, limits, threads, attempt) for t in targets
    )
    if executor is None:
        warm_up(types)  # before the threads start (process pools and Dask workers warm up)
    return _stream(units, len(targets), executor, in_flight, progress)


def _stream(
    units: Iterator[AccountScan],
    total: int,
    executor: cf.Executor | None,
    in_flight: int,
    progress: Callable[[OrgScanEvent], None] | None,
) -> Iterator[AccountResult]:
    own = executor is None
    pool = executor or cf.ThreadPoolExecutor(in_flight, thread_name_prefix="cmkguard-org")
    pending: dict[cf.Future[AccountResult], AccountScan] = {}
    done = 0
    try:
        while True:
            while len(pending) < in_flight:
                unit = next(units, None)
                if unit is None:
                    break
                pending[pool.submit(run_account_scan, unit)] = unit
            if not pending:
                return
            finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                unit = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker, not the account: report, go on
                    result = _worker_failure(unit, exc)
                done += 1
                if progress is not None:
                    progress(OrgScanEvent(result, done, total))
                yield result
    finally:
        for future in pending:
            future.cancel()
        if own:
            pool.shutdown(wait=True, cancel_futures=True)


def failed_targets(results: Iterable[AccountResult]) -> tuple[AccountTarget, ...]:
    """The targets of the accounts worth scanning again: not reached, or with errors."""
    latest = _latest(results)
    return tuple(r.target for r in latest.values() if not r.complete)


def _latest(results: Iterable[AccountResult]) -> dict[str, AccountResult]:
    latest: dict[str, AccountResult] = {}
    for r in results:
        seen = latest.get(r.account)
        if seen is None or r.attempt >= seen.attempt:
            latest[r.account] = r
    return latest


def merge_results(
    results: Iterable[AccountResult], organization: Organization | None = None
) -> Inventory:
    """One `Inventory` of many accounts' results (a retried account's latest result wins).

    `accounts` lists the accounts that were read; every account that could not be read keeps
    its `ScanError`. With `organization`, the inventory also records the organisation
    (`OrgScope`: its id, every account's OU, the accounts not read, the suspended ones), which
    the audit uses as the zone of trust.
    """
    latest = _latest(results)
    resources: list[EncryptedResource] = []
    keys: dict[KeyArn, KmsKey] = {}
    external: dict[KeyArn, KmsKey] = {}
    errors: set[ScanError] = set()
    regions: set[str] = set()
    types: set[str] = set()
    scanned: list[datetime] = []
    for r in latest.values():
        inv = r.inventory
        resources.extend(inv.resources)
        keys.update(inv.keys)
        external.update(inv.external_keys)
        errors.update(inv.errors)
        regions.update(inv.regions)
        types.update(inv.resource_types)
        if inv.scanned_at is not None:
            scanned.append(inv.scanned_at)
    reached = sorted(a for a, r in latest.items() if r.reached)
    resources.sort(key=lambda x: (x.account, x.region, x.resource_type, x.arn))
    return Inventory(
        resources=resources,
        keys=sorted(keys.values(), key=lambda k: k.arn),
        errors=sorted(
            errors,
            key=lambda e: (e.account, e.region, e.resource_type or "", e.operation, e.target or ""),
        ),
        accounts=reached,
        regions=sorted(regions),
        resource_types=sorted(types),
        scanned_at=min(scanned) if scanned else datetime.now(UTC),
        external_keys=sorted(
            (k for arn, k in external.items() if arn not in keys and k.account not in reached),
            key=lambda k: k.arn,
        ),
        organization=_scope(organization, latest) if organization is not None else None,
    )


def _scope(organization: Organization, latest: dict[str, AccountResult]) -> OrgScope:
    unread = sorted(a for a, r in latest.items() if not r.reached)
    never = sorted(set(organization.selected) - set(latest))
    return OrgScope(
        org_id=organization.id,
        management_account=organization.management_account,
        account_ous={a.id: a.ou for a in organization.accounts},
        account_names={a.id: a.name for a in organization.accounts},
        unread=sorted({*unread, *never}),
        suspended=sorted(a.id for a in organization.suspended),
    )
