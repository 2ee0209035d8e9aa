"""`--organization`: scan every account of an AWS organisation (`cmkguard scan`/`audit`).

`add_org_arguments` adds the options; `org_scan_from_args` discovers the organisation, scans
its accounts on threads or on a Dask scheduler (`--dask`), retries the failed accounts when
asked, and returns one merged `Inventory` that names every account it covered and every
account it could not read (`Inventory.organization`). With `--demo` the organisation is an
emulated one on 127.0.0.1 (`cmkguard.testing.seed_organization`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from cmkguard.aws.identity import open_session
from cmkguard.aws.ratelimit import DEFAULT_RATE_LIMITS, Rate, RateLimits
from cmkguard.cli._common import UsageError, stderr_is_tty
from cmkguard.errors import ConfigurationError, MissingExtraError
from cmkguard.inventory.values import Inventory
from cmkguard.org import (
    DEFAULT_ACCOUNTS_IN_FLIGHT,
    DEFAULT_ROLE_NAME,
    AccountResult,
    Organization,
    OrgScanEvent,
    dask_deadlock_risks,
    failed_targets,
    local_dask_cluster,
    merge_results,
    organization_accounts,
    scan_organization,
)

__all__ = ["add_org_arguments", "check_org_arguments", "org_scan_from_args", "parse_rate_limits"]

LOCAL_DASK = "local"
"""`--dask local`: start a `LocalCluster` of worker processes on this machine."""
_DASK_CONNECT_SECONDS = 10
"""How long `distributed.Client` may take to reach a scheduler that accepts connections."""
_DASK_PROBE_SECONDS = 3.0
"""How long the TCP probe of `--dask ADDRESS` waits (a closed port answers at once)."""


def add_org_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that scan a whole organisation instead of one account."""
    group = parser.add_argument_group(
        "organisation (AWS Organizations; run from the management or a delegated-admin account)"
    )
    group.add_argument(
        "--organization",
        action="store_true",
        help="discover the organisation's active accounts and scan each through its member role",
    )
    group.add_argument(
        "--role-name",
        metavar="R",
        help=f"the member role in every account (default: {DEFAULT_ROLE_NAME})",
    )
    group.add_argument("--external-id", metavar="X", help="the ExternalId the member role needs")
    group.add_argument(
        "--role-chain",
        action="append",
        metavar="ARN",
        help="a role to assume before the member role (repeat: hub role first)",
    )
    group.add_argument(
        "--ou",
        action="append",
        metavar="OU",
        help="only accounts under this OU (id, path like Workloads/Prod, or name; repeatable)",
    )
    group.add_argument("--exclude-ou", action="append", metavar="OU", help="never this OU")
    group.add_argument(
        "--account",
        action="append",
        dest="org_accounts",
        metavar="ID",
        help="only this account (repeatable, comma-separated)",
    )
    group.add_argument(
        "--exclude-account", action="append", metavar="ID", help="never this account"
    )
    group.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run the account scans on this Dask scheduler (tcp://host:8786), or 'local' for a "
        "LocalCluster of worker processes (needs the 'dask' extra)",
    )
    group.add_argument(
        "--accounts-in-flight",
        type=int,
        default=DEFAULT_ACCOUNTS_IN_FLIGHT,
        metavar="N",
        help=f"accounts scanned at once (default: {DEFAULT_ACCOUNTS_IN_FLIGHT})",
    )
    group.add_argument(
        "--retry-failed",
        type=int,
        default=0,
        metavar="N",
        help="scan the accounts that failed again, up to N more times (default: 0)",
    )
    group.add_argument(
        "--rate-limit",
        action="append",
        metavar="SERVICE=RPS[/BURST]",
        help="client-side limit per account and region, e.g. rds=2 or kms:ListGrants=10/10 "
        "(repeatable; the defaults stay well below AWS's quotas)",
    )


_ORG_ONLY = (
    "role_name",
    "external_id",
    "role_chain",
    "ou",
    "exclude_ou",
    "org_accounts",
    "exclude_account",
    "dask",
    "rate_limit",
)


def check_org_arguments(args: argparse.Namespace) -> None:
    """Organisation options without `--organization` are a usage error (not ignored)."""
    if getattr(args, "organization", False):
        return
    given = [name for name in _ORG_ONLY if getattr(args, name, None)]
    if given:
        flag = "--" + given[0].replace("org_accounts", "account").replace("_", "-")
        raise UsageError(f"{flag} needs --organization")


def parse_rate_limits(values: Sequence[str] | None) -> RateLimits:
    """`["rds=2", "kms:ListGrants=10/20"]` -> the default limits with those rules replaced."""
    if not values:
        return DEFAULT_RATE_LIMITS
    rules: dict[str, Rate] = {}
    for value in values:
        name, sep, rate = value.partition("=")
        per_second, _, burst = rate.partition("/")
        try:
            if not sep or not name.strip():
                raise ValueError
            rps = float(per_second)
            rules[name.strip()] = Rate(rps, float(burst) if burst else max(rps, 1.0))
        except (ValueError, ConfigurationError):
            raise UsageError(
                f"--rate-limit {value!r}: expected SERVICE=RPS[/BURST] with positive numbers, "
                "e.g. rds=2 or kms:ListGrants=10/10"
            ) from None
    return RateLimits(
        rules={**DEFAULT_RATE_LIMITS.rules, **rules}, default=DEFAULT_RATE_LIMITS.default
    )


def _split(values: list[str] | None) -> list[str]:
    return [p.strip() for v in values or () for p in v.split(",") if p.strip()]


def _note(message: str) -> None:
    print(f"cmkguard: {message}", file=sys.stderr)


def _probe_dask_scheduler(address: str) -> None:
    """Fail in seconds, before any AWS call, when nothing listens at `--dask ADDRESS`.

    `distributed.Client` retries a refused connection until its timeout; a plain TCP connect
    tells a closed port or an unknown host at once. Only `tcp://` and `tls://` addresses
    (and bare `host:port`) are probed; other transports are left to `distributed`.
    """
    if address == LOCAL_DASK:
        return
    try:
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError as exc:
        raise MissingExtraError("distributed", "dask") from exc
    try:
        scheme, location = parse_address(address)
        if scheme not in ("tcp", "tls"):
            return
        host, port = parse_host_port(location)
    except (ValueError, TypeError):
        raise UsageError(
            f"--dask {address!r}: expected a scheduler address like tcp://HOST:8786, or local"
        ) from None
    try:
        with socket.create_connection((host, int(port)), timeout=_DASK_PROBE_SECONDS):
            pass
    except OSError as exc:
        raise UsageError(
            f"--dask {address}: cannot reach the scheduler ({exc.strerror or exc})"
        ) from None


@contextmanager
def _dask_executor(address: str, accounts_in_flight: int) -> Iterator[Any]:
    try:
        # Typed as Any: distributed's API is not annotated (mypy --strict rejects its calls).
        distributed: Any = importlib.import_module("distributed")
    except ImportError as exc:
        raise MissingExtraError("distributed", "dask") from exc
    if address == LOCAL_DASK:
        # Worker processes (one per core) with one thread per account in flight: an account
        # spends its time waiting for AWS, with its own small thread pool inside.
        workers = max(1, min(os.cpu_count() or 1, accounts_in_flight))
        cluster = local_dask_cluster(
            n_workers=workers,
            processes=True,
            threads_per_worker=max(1, -(-accounts_in_flight // workers)),
        )
        with cluster, distributed.Client(cluster) as client:
            yield client.get_executor()
        return
    try:
        client = distributed.Client(address, timeout=f"{_DASK_CONNECT_SECONDS}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"--dask {address}: cannot reach the scheduler ({exc})") from None
    with client:
        for line in dask_deadlock_risks(client):
            _note(f"warning: {line}")
        yield client.get_executor()


def _account_progress() -> Callable[[OrgScanEvent], None] | None:
    if not stderr_is_tty():
        return None

    def show(event: OrgScanEvent) -> None:
        state = (
            "read" if event.result.complete else "with gaps" if event.result.reached else "NOT read"
        )
        sys.stderr.write(
            f"\r\033[Kaccounts: {event.done}/{event.total} ({event.result.account} {state})"
        )
        if event.done == event.total:
            sys.stderr.write("\r\033[K")
        sys.stderr.flush()

    return show


def _scan_org(
    session: Any, organization: Organization, args: argparse.Namespace, limits: RateLimits
) -> Inventory:
    selected = len(organization.selected)
    _note(
        f"organisation {organization.id}: {len(organization.accounts)} account(s), "
        f"{selected} to scan, {len(organization.suspended)} suspended"
    )
    options: dict[str, Any] = {
        "regions": _split(args.regions) or None,
        "resource_types": _split(args.types) or None,
        "accounts_in_flight": args.accounts_in_flight,
        "threads_per_account": args.max_workers,
        "limits": limits,
        "progress": _account_progress(),
    }
    context: AbstractContextManager[Any] = (
        _dask_executor(args.dask, args.accounts_in_flight) if args.dask else nullcontext(None)
    )
    with context as executor:
        results: list[AccountResult] = list(
            scan_organization(session, organization, executor=executor, **options)
        )
        for attempt in range(2, args.retry_failed + 2):
            again = failed_targets(results)
            if not again:
                break
            _note(f"retrying {len(again)} account(s) (attempt {attempt})")
            results += scan_organization(
                session, again, executor=executor, attempt=attempt, **options
            )
    inventory = merge_results(results, organization)
    scope = inventory.organization
    unread = scope.unread if scope is not None else ()
    _note(
        f"organisation scan: {len(inventory.accounts)} account(s) read"
        + (f", {len(unread)} NOT read: {', '.join(unread)}" if unread else "")
    )
    return inventory


def _discover(session: Any, args: argparse.Namespace, limits: RateLimits) -> Organization:
    options: dict[str, Any] = {
        "external_id": args.external_id,
        "role_chain": tuple(args.role_chain or ()),
        "accounts": _split(args.org_accounts) or None,
        "exclude_accounts": _split(args.exclude_account),
        "ous": _split(args.ou) or None,
        "exclude_ous": _split(args.exclude_ou),
        "limits": limits,
    }
    if args.role_name:
        options["role_name"] = args.role_name
    return organization_accounts(session, **options)


def org_scan_from_args(args: argparse.Namespace, demo_regions: Sequence[str]) -> Inventory:
    """Discover and scan the organisation the options describe; one merged inventory.

    Bad input (a filter matching nothing, a bad role name, credentials that are neither the
    management nor a delegated administrator) raises a `CmkGuardError` or `UsageError`: the
    CLI prints one line and exits 2.
    """
    if args.role_arns:
        raise UsageError("--organization finds the accounts itself: drop --role-arn")
    # Bad numbers fail before any AWS call.
    if args.accounts_in_flight < 1:
        raise UsageError("--accounts-in-flight must be at least 1")
    if args.retry_failed < 0:
        raise UsageError("--retry-failed must be 0 or more")
    limits = parse_rate_limits(args.rate_limit)
    if args.dask:
        _probe_dask_scheduler(args.dask)
    if args.demo:
        if args.profile or args.endpoint_url:
            raise UsageError("--demo scans an emulated organisation: drop --profile/--endpoint-url")
        return _demo_org_scan(args, limits, demo_regions)
    session = open_session(args.profile, endpoint_url=args.endpoint_url)
    return _scan_org(session, _discover(session, args, limits), args, limits)


def _demo_org_scan(
    args: argparse.Namespace, limits: RateLimits, demo_regions: Sequence[str]
) -> Inventory:
    from cmkguard.aws.regions import validate_regions
    from cmkguard.resources import resolve_resource_types
    from cmkguard.testing import EmulatedAWS, seed_organization

    regions = tuple(validate_regions(_split(args.regions))) if args.regions else tuple(demo_regions)
    resolve_resource_types(_split(args.types) or None)
    with EmulatedAWS() as aws:
        _note(f"demo: started an emulated organisation at {aws.endpoint_url} (no real AWS used)")
        org = seed_organization(aws, members=4, regions=regions)
        truth = org.truth
        _note(
            f"demo: organisation {truth.org_id}, management {truth.management_account}, "
            f"central key account {truth.key_account}, {len(truth.accounts)} accounts "
            f"(suspended: {', '.join(truth.suspended)}; no member role: "
            f"{', '.join(truth.unassumable)})"
        )
        args.regions = list(regions)
        session = org.session(regions[0])
        inventory = _scan_org(session, _discover(session, args, limits), args, limits)
        _note("demo: the emulated organisation is gone when this command exits")
    return inventory
