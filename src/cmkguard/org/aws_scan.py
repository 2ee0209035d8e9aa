"""One account of an organisation scan, run inside a worker (AWS edge).

`run_account_scan` takes an `AccountScan` (plain data: the account's target, the caller's
`AccessSpec`, regions, types, rate limits) and returns an `AccountResult`. It runs in whichever
thread, process or Dask worker the executor chose: the account's `AwsAccess` is built there
(the role chain assumed there, once), used by one `cmkguard.scan` of the account with its own
small thread pool and a rate limiter per (account, region, service), and closed when the
account is done. Nothing credential-bearing travels with the unit except the caller's
description a worker needs to assume the role (static keys only when the caller's session was
built from explicit keys, as the emulator's are).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

import attrs

from cmkguard.aws.access import AccessSpec, AwsAccess, process_clients, shared_loader
from cmkguard.aws.errormap import CALL_ERRORS, failure
from cmkguard.aws.ratelimit import RateLimiter, RateLimits
from cmkguard.aws.regions import known_regions
from cmkguard.errors import CmkGuardError
from cmkguard.inventory import Inventory, ScanError, scan
from cmkguard.org.model import AccountResult, AccountTarget
from cmkguard.resources import resolve_resource_types

__all__ = ["SESSION_NAME", "AccountScan", "run_account_scan", "unit_pool", "warm_up"]

SESSION_NAME = "cmkguard-org-scan"
"""The role session name of an organisation scan (what CloudTrail shows)."""


@attrs.frozen
class AccountScan:
    """The unit of an organisation scan: one account, all its regions and resource types.

    The account, not (account, region, type), is the unit so that its role is assumed once,
    its credentials live exactly as long as its scan, its rate limits are counted in one
    place, and keys used across its regions resolve together. Inside, the account's
    (region, resource type) units run on `threads` threads.
    """

    target: AccountTarget
    base: AccessSpec
    regions: tuple[str, ...]
    resource_types: tuple[str, ...]
    limits: RateLimits
    threads: int = 8
    attempt: int = 1

    def __str__(self) -> str:
        return f"account {self.target.account} (attempt {self.attempt})"


# The botocore data an account scan reads besides its resource types' services: the key reads,
# the tag listing, the role and identity calls; for each service its model, its paginators and
# the endpoint rules every client needs.
_WARM_SERVICES = ("kms", "resourcegroupstaggingapi", "sts")
_WARM_TYPES = ("service-2", "paginators-1", "endpoint-rule-set-1")


def _services(resource_types: Iterable[str] | None) -> tuple[str, ...]:
    """The services an account scan of `resource_types` calls (all registered for `None`)."""
    services = dict.fromkeys(_WARM_SERVICES)
    for t in resolve_resource_types(None if resource_types is None else list(resource_types)):
        services[t.service] = None
        services.update(dict.fromkeys(source.service for source in t.linked))
    return tuple(services)


def warm_up(resource_types: Iterable[str] | None = None) -> None:
    """Load, once and in the calling thread, the botocore data an account scan of
    `resource_types` reads (every registered type's for `None`).

    The shared loader's caches have no lock: when dozens of threads of a fresh process start
    their first accounts together, each lists botocore's data directory and parses the same
    models for itself (measured: about 9 s of CPU for a 10-member organisation, more than the
    scan). Loading it once before the fan-out leaves them a warm cache. The region table is
    read here for the same reason.
    """
    loader = shared_loader()
    for type_name in _WARM_TYPES:
        loader.list_available_services(type_name)
    for service in _services(resource_types):
        for type_name in _WARM_TYPES:
            loader.load_service_model(service, type_name)
    known_regions()


_POOLS = threading.local()


def unit_pool(threads: int) -> cf.ThreadPoolExecutor:
    """The calling thread's pool of `threads` threads for its accounts' units, created on its
    first account and reused by the next ones (released when the thread ends).

    Why not a pool per account: starting or ending a thread takes CPython's runtime lock
    while holding the GIL. On Python 3.11 a Dask worker's statistical profiler
    (`sys._current_frames()` every 10 ms) holds that lock while it allocates; a garbage
    collection run there (with distributed's GC-diagnosis callback) lets the GIL go, and a
    thread started or ended at that moment deadlocks the whole worker (python/cpython#106883,
    dask/distributed#8616): an organisation scan hung this way. Reused threads take that lock
    only on a worker's first accounts. One pool per thread, not per process, keeps each
    account to its own `threads` threads, as before.
    """
    held: tuple[int, int, cf.ThreadPoolExecutor] | None = getattr(_POOLS, "held", None)
    # A process forked from this thread (a process pool's worker) inherits the pool but not
    # its threads: the pool would count them idle and never run anything. Its own, then.
    if held is not None and held[:2] == (os.getpid(), threads):
        return held[2]
    if held is not None and held[0] == os.getpid():
        held[2].shutdown(wait=False)
    pool = cf.ThreadPoolExecutor(threads, thread_name_prefix="cmkguard-account")
    _POOLS.held = (os.getpid(), threads, pool)
    return pool


def account_access(base: AwsAccess, target: AccountTarget) -> AwsAccess:
    """The access to `target`'s account derived from `base` (the chain, hub role first;
    the external id goes with the last role). Roles are assumed on first use."""
    access = base
    last = len(target.role_arns) - 1
    for hop, role_arn in enumerate(target.role_arns):
        external_id = target.external_id if hop == last else None
        access = access.for_role(role_arn, external_id, session_name=SESSION_NAME)
    return access


def _unreached(unit: AccountScan, operation: str, reason: str, code: str | None) -> AccountResult:
    target = unit.target.role_arns[-1] if unit.target.role_arns else None
    error = ScanError(
        unit.target.account, unit.regions[0], operation, reason, error_code=code, target=target
    )
    inventory = Inventory(
        errors=[error],
        regions=unit.regions,
        resource_types=unit.resource_types,
        scanned_at=datetime.now(UTC),
    )
    return AccountResult(unit.target, inventory, reached=False, attempt=unit.attempt)


def run_account_scan(unit: AccountScan) -> AccountResult:
    """Scan one account (in this thread or process) and return its result; never raises for
    AWS failures: an account that cannot be entered is an `AccountResult` with
    `reached=False` and a `ScanError` naming the account and why."""
    warm_up(unit.resource_types)  # a no-op once done: a process-pool worker's first account
    # The member roles' requests go through this process's shared clients (one per service
    # and region, not ten per account), each signed as its own account.
    with AwsAccess.from_spec(unit.base, shared=process_clients()) as base:
        access = account_access(base, unit.target)
        try:
            access.credentials()  # assumes the chain now
        except CALL_ERRORS as exc:
            code, reason = failure(exc)
            return _unreached(unit, "AssumeRole", reason, code)
        # Before any client is built: every request of the account then waits its turn.
        access.add_sign_hook(RateLimiter(unit.limits).sign_hook(unit.target.account))
        try:
            inventory = scan(
                access,
                unit.regions,
                unit.resource_types,
                executor=unit_pool(max(1, unit.threads)),
            )
        except CmkGuardError as exc:  # the account's credentials refused, its endpoint gone...
            return _unreached(unit, "GetCallerIdentity", str(exc), type(exc).__name__)
    return AccountResult(unit.target, inventory, reached=True, attempt=unit.attempt)
