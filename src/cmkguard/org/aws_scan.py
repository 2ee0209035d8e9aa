"""One account of an organisation scan, run inside a worker (AWS edge).

`run_account_scan` takes an `AccountScan` (plain data: the account's target, the caller's base
credentials description, regions, types, rate limits) and returns an `AccountResult`. It runs
in whichever thread, process or Dask worker the executor chose: the account's credentials are
obtained there (AssumeRole, through the chain), used by one `cmkguard.scan` of the account
with its own small thread pool and a rate limiter per (account, region, service), and dropped
when the account is done. Nothing credential-bearing travels with the unit except the base
description a worker needs to assume the role (static keys only when the caller's session was
built from explicit keys, as the emulator's are).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import attrs
import boto3
import botocore.session

from cmkguard.aws.access import SessionSpec
from cmkguard.aws.errormap import CALL_ERRORS, failure
from cmkguard.aws.ratelimit import RateLimiter, RateLimits
from cmkguard.aws.session import EndpointSession, make_client
from cmkguard.errors import CmkGuardError
from cmkguard.inventory import Inventory, ScanError, scan
from cmkguard.org.model import AccountResult, AccountTarget

__all__ = ["AccountScan", "run_account_scan"]

SESSION_NAME = "cmkguard-org-scan"


@attrs.frozen
class AccountScan:
    """The unit of an organisation scan: one account, all its regions and resource types.

    The account, not (account, region, type), is the unit so that its role is assumed once,
    its credentials live exactly as long as its scan, its rate limits are counted in one
    place, and keys used across its regions resolve together. Inside, the account's
    (region, resource type) units run on ``threads`` threads.
    """

    target: AccountTarget
    base: SessionSpec
    regions: tuple[str, ...]
    resource_types: tuple[str, ...]
    limits: RateLimits
    threads: int = 8
    attempt: int = 1

    def __str__(self) -> str:
        return f"account {self.target.account} (attempt {self.attempt})"


_LOADER_LOCK = threading.Lock()
_loader: Any = None


def _shared_loader() -> Any:
    """One botocore data loader per process: every account's sessions share parsed models
    (loading the service models again per account would cost more than scanning it)."""
    global _loader
    with _LOADER_LOCK:
        if _loader is None:
            _loader = botocore.session.get_session().get_component("data_loader")
        return _loader


def _session(spec: SessionSpec, **keys: Any) -> boto3.Session:
    core = botocore.session.Session(profile=spec.profile if not keys else None)
    core.register_component("data_loader", _shared_loader())
    kwargs: dict[str, Any] = {"region_name": spec.region, "botocore_session": core}
    if keys:
        kwargs.update(keys)
    elif spec.access_key_id:
        kwargs.update(
            aws_access_key_id=spec.access_key_id,
            aws_secret_access_key=spec.secret_access_key,
            aws_session_token=spec.session_token,
        )
    if spec.endpoint_url:
        return EndpointSession(endpoint_url=spec.endpoint_url, **kwargs)
    return boto3.Session(**kwargs)


def _assume_chain(unit: AccountScan) -> boto3.Session:
    """The session of the target account: the base, then each role of the chain in turn."""
    session = _session(unit.base)
    region = unit.base.region or unit.regions[0]
    last = len(unit.target.role_arns) - 1
    for hop, role_arn in enumerate(unit.target.role_arns):
        params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": SESSION_NAME}
        if hop == last and unit.target.external_id:
            params["ExternalId"] = unit.target.external_id
        sts = make_client(session, "sts", region)
        try:
            creds = sts.assume_role(**params)["Credentials"]
        finally:
            sts.close()
        session = _session(
            unit.base,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
    return session


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
    ``reached=False`` and a `ScanError` naming the account and why."""
    try:
        session = _assume_chain(unit)
    except CALL_ERRORS as exc:
        code, reason = failure(exc)
        return _unreached(unit, "AssumeRole", reason, code)
    limiter = RateLimiter(unit.limits)
    limiter.attach(session, unit.target.account)
    try:
        inventory = scan(
            session, unit.regions, unit.resource_types, max_workers=max(1, unit.threads)
        )
    except CmkGuardError as exc:  # the account's credentials refused, its endpoint gone...
        return _unreached(unit, "GetCallerIdentity", str(exc), type(exc).__name__)
    finally:
        del session  # the account's credentials go with its last reference
    return AccountResult(unit.target, inventory, reached=True, attempt=unit.attempt)
