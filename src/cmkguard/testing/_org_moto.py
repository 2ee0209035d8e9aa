"""moto's Organizations, IAM and STS internals, for the emulated organisation.

The organisation counterpart of `cmkguard.testing._moto`: the only module of the emulated
organisation that touches moto's untyped objects. moto is imported lazily (the `demo` extra).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from cmkguard.testing._moto_loader import moto_module

__all__ = [
    "account_status",
    "assumed_role_arn",
    "close_account",
    "create_account",
    "create_organization",
    "create_ou",
    "create_role",
    "delegated_admin_services",
    "delete_role",
    "forget_organizations",
    "management_account_of",
    "org_id_of",
    "register_delegated_admin",
    "role_trust_policy",
    "without_default_amis",
]

_PARTITION = "aws"
_IDS_LOCK = threading.Lock()
_JOINED_BASE = datetime(2024, 1, 1)  # naive: moto compares with a naive epoch


def _org_backend(account: str) -> Any:
    return moto_module("organizations.models").organizations_backends[account][_PARTITION]


def _iam_backend(account: str) -> Any:
    return moto_module("iam.models").iam_backends[account][_PARTITION]


@contextlib.contextmanager
def _deterministic_ids(**makers: Callable[..., str]) -> Iterator[None]:
    """Replace moto's random id makers (`make_random_account_id`...) for one call.

    moto draws organisation, root, OU and account ids at random; the emulated organisation
    must be the same at every run (its ground truth names the ids).
    """
    utils = moto_module("organizations.utils")
    with _IDS_LOCK:
        saved = {name: getattr(utils, name) for name in makers}
        try:
            for name, maker in makers.items():
                setattr(utils, name, maker)
            yield
        finally:
            for name, maker in saved.items():
                setattr(utils, name, maker)


def forget_organizations() -> None:
    """Clear moto's member -> management map, which `/moto-api/reset` leaves behind.

    Without it, an account of a previous (reset) organisation cannot join a new one.
    """
    moto_module("organizations.models").organizations_backends.master_accounts.clear()


def create_organization(management: str, org_id: str, root_id: str) -> None:
    """Create the organisation (feature set `ALL`) with fixed ids, managed by `management`."""
    with _deterministic_ids(make_random_org_id=lambda: org_id, make_random_root_id=lambda: root_id):
        _org_backend(management).create_organization(region="us-east-1", FeatureSet="ALL")


def create_ou(management: str, parent_id: str, name: str, ou_id: str) -> None:
    """Create an organizational unit with a fixed id under `parent_id`."""
    with _deterministic_ids(make_random_ou_id=lambda _root: ou_id):
        _org_backend(management).create_organizational_unit(ParentId=parent_id, Name=name)


def create_account(
    management: str, account: str, name: str, parent_id: str, index: int, role_name: str
) -> None:
    """Create member `account` (with `role_name` trusting the management account, as AWS
    does) and move it under `parent_id`.

    Each account joins one second after the previous one: moto pages `ListAccounts` by
    `JoinedTimestamp` and loses accounts that share one.
    """
    backend = _org_backend(management)
    counter = itertools.count()
    with _deterministic_ids(
        make_random_account_id=lambda: account,
        make_random_create_account_status_id=lambda: f"car-{account}{next(counter)}",
    ):
        backend.create_account(
            AccountName=name, Email=f"aws+{name}@example.com", RoleName=role_name
        )
    created = backend.get_account_by_id(account)
    created.create_time = _JOINED_BASE + timedelta(seconds=index + 1)
    if parent_id != created.parent_id:
        backend.move_account(
            AccountId=account, SourceParentId=created.parent_id, DestinationParentId=parent_id
        )


def close_account(management: str, account: str) -> None:
    """Close `account`: it stays listed, `SUSPENDED`."""
    _org_backend(management).close_account(AccountId=account)


def register_delegated_admin(management: str, account: str, service_principal: str) -> None:
    """Register `account` as a delegated administrator for `service_principal`."""
    _org_backend(management).register_delegated_administrator(
        AccountId=account, ServicePrincipal=service_principal
    )


def management_account_of(account: str) -> str | None:
    """The management account of `account`'s organisation (itself for a management account);
    `None` outside any organisation."""
    module = moto_module("organizations.models")
    backends = module.organizations_backends
    found = backends.master_accounts.get(account)
    if found is not None:
        return str(found[0])
    if dict.__contains__(backends, account):
        backend = dict.__getitem__(backends, account).get(_PARTITION)
        if backend is not None and backend.org is not None:
            return account
    return None


def delegated_admin_services(management: str, account: str) -> tuple[str, ...]:
    """The service principals `account` is a delegated administrator for."""
    for admin in _org_backend(management).admins:
        if admin.account.id == account:
            return tuple(admin.services)
    return ()


def create_role(account: str, name: str, trust_policy: dict[str, Any]) -> None:
    """Create (or replace the trust policy of) role `name` in `account`."""
    iam = _iam_backend(account)
    document = json.dumps(trust_policy)
    try:
        role = iam.get_role(name)
    except Exception:  # moto's NotFoundException: create it
        iam.create_role(
            role_name=name,
            assume_role_policy_document=document,
            path="/",
            permissions_boundary=None,
            description="",
            tags=[],
            max_session_duration="3600",
        )
    else:
        role.assume_role_policy_document = document


def delete_role(account: str, name: str) -> None:
    """Delete role `name` in `account` (no error if it does not exist)."""
    with contextlib.suppress(Exception):
        _iam_backend(account).delete_role(name)


def role_trust_policy(account: str, role_arn: str) -> dict[str, Any] | None:
    """The trust policy of `role_arn` in `account`; `None` when the role does not exist."""
    try:
        role = _iam_backend(account).get_role_by_arn(role_arn)
    except Exception:  # moto's NotFoundException
        return None
    document = role.assume_role_policy_document
    if isinstance(document, str):
        try:
            parsed = json.loads(document)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return document if isinstance(document, dict) else None


def assumed_role_arn(account: str, access_key: str) -> str | None:
    """The role ARN behind temporary credentials `access_key` issued in `account`."""
    backends = moto_module("sts.models").sts_backends
    if not dict.__contains__(backends, account):
        return None
    backend = dict.__getitem__(backends, account).get(_PARTITION)
    if backend is None:
        return None
    found = backend.get_assumed_role_from_access_key(access_key)
    return None if found is None else str(found.role_arn)


def org_id_of(account: str) -> str | None:
    """The id of the organisation `account` belongs to (`aws:PrincipalOrgID`), if any."""
    management = management_account_of(account)
    if management is None:
        return None
    org = _org_backend(management).org
    return None if org is None else str(org.id)


def account_status(management: str, account: str) -> str | None:
    """`ACTIVE`/`SUSPENDED` of a member account; `None` if it is not in the organisation."""
    for member in _org_backend(management).accounts:
        if member.id == account:
            return str(member.status)
    return None


@contextlib.contextmanager
def without_default_amis() -> Iterator[None]:
    """While seeding, new EC2 backends skip moto's ~1,300 default AMIs.

    moto's RDS backend builds the account and region's EC2 backend on the first database, and
    that loads every default AMI with a volume and a snapshot each: ~0.6 s and ~6 MiB per
    account and region, 90 % of the time of seeding a 300-account organisation. cmkguard
    reads no AMI. moto reads `MOTO_EC2_LOAD_DEFAULT_AMIS` through `moto.settings` on every new
    backend; this swaps that one function for the seeding's duration instead of changing
    `os.environ` (the emulator promises not to touch it). Backends made later (another
    region at scan time) load them as usual.
    """
    settings = moto_module("settings")
    original = settings.ec2_load_default_amis
    settings.ec2_load_default_amis = lambda: False
    try:
        yield
    finally:
        settings.ec2_load_default_amis = original
