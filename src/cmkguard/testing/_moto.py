"""The one place that touches moto's untyped internals.

moto ships no type information, so every object that comes out of it is ``Any``. This module keeps
that ``Any`` at the boundary: the rest of :mod:`cmkguard.testing` calls the small typed functions
below. moto is imported lazily, so ``import cmkguard.testing`` works without the ``demo`` extra
until an emulator is actually started.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from cmkguard.errors import MissingExtraError

__all__ = [
    "AWS_MANAGED_ALIASES",
    "DEFAULT_KEY_PLACEHOLDER",
    "aws_managed_key_policy",
    "ensure_aws_managed_key",
    "find_aws_managed_key_arn",
    "install_patches",
    "kms_backend",
    "moto_default_account",
    "moto_module",
    "rds_backend",
    "secretsmanager_backend",
    "uninstall_patches",
]

DEFAULT_KEY_PLACEHOLDER = "default_kms_key_id"
"""What moto 5.2.5 stores on RDS resources encrypted with the default key (not a key at all)."""

AWS_MANAGED_ALIASES: dict[str, tuple[str, str]] = {
    # alias -> (service principal prefix for kms:ViaService, description AWS gives the key)
    "alias/aws/rds": (
        "rds",
        "Default key that protects my RDS database volumes when no other key is defined",
    ),
    "alias/aws/secretsmanager": (
        "secretsmanager",
        "Default key that protects my Secrets Manager data when no other key is defined",
    ),
}
"""The AWS-managed keys the emulator makes realistic, with what AWS writes on them."""


def moto_module(name: str) -> Any:
    """Import ``moto.<name>``; raise :class:`MissingExtraError` if moto is not installed."""
    try:
        return importlib.import_module(f"moto.{name}" if name else "moto")
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] in {"moto", "werkzeug", "flask"}:
            raise MissingExtraError("moto", "demo") from exc
        raise


def moto_default_account() -> str:
    """The account moto uses for credentials it does not know (``123456789012``)."""
    return str(moto_module("core").DEFAULT_ACCOUNT_ID)


def kms_backend(account: str, region: str) -> Any:
    """moto's KMS backend for ``account`` in ``region`` (created on first access)."""
    return moto_module("kms.models").kms_backends[account][region]


def rds_backend(account: str, region: str) -> Any:
    """moto's RDS backend for ``account`` in ``region``."""
    return moto_module("rds.models").rds_backends[account][region]


def secretsmanager_backend(account: str, region: str) -> Any:
    """moto's Secrets Manager backend for ``account`` in ``region``."""
    return moto_module("secretsmanager.models").secretsmanager_backends[account][region]


def account_for_access_key(access_key: str) -> str:
    """The account moto attributes ``access_key`` to (its default account if unknown)."""
    return str(moto_module("iam.models").get_account_id_from(access_key))


def aws_managed_key_policy(alias: str, account: str, region: str) -> str:
    """The key policy AWS writes on an AWS-managed key (shape of the real ``aws/rds`` policy).

    Every principal of the account may use the key, but only *through* the service
    (``kms:ViaService``) and only from this account (``kms:CallerAccount``); the account root may
    read the key's metadata directly. Nobody may change the policy.
    """
    service = AWS_MANAGED_ALIASES[alias][0]
    via = f"{service}.{region}.amazonaws.com"
    statements = [
        {
            "Sid": f"Allow access through {service} for all principals in the account that are "
            f"authorized to use {service}",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:CreateGrant",
                "kms:ListGrants",
                "kms:DescribeKey",
            ],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": via}},
        },
        {
            "Sid": "Allow direct access to key metadata to the account",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
            "Resource": "*",
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Id": f"auto-{service}-2", "Statement": statements})


_CREATE_LOCK = threading.RLock()


def _key_for_alias(backend: Any, alias: str) -> Any | None:
    for key in list(backend.keys.values()):
        if alias in key.aliases:
            return key
    return None


def find_aws_managed_key_arn(account: str, region: str, alias: str) -> str | None:
    """The ARN of the AWS-managed key behind ``alias``, or ``None`` if it was never used."""
    key = _key_for_alias(kms_backend(account, region), alias)
    return None if key is None else str(key.arn)


def _create_aws_managed_key(backend: Any, alias: str) -> Any:
    account, region = str(backend.account_id), str(backend.region_name)
    key = backend.create_key(
        aws_managed_key_policy(alias, account, region),
        "ENCRYPT_DECRYPT",
        "SYMMETRIC_DEFAULT",
        AWS_MANAGED_ALIASES[alias][1],
        None,
    )
    key.key_manager = "AWS"
    # AWS-managed keys rotate every year, always.
    key.key_rotation_status = True
    key.rotation_period_in_days = 365
    backend.create_alias(key.id, alias)
    return key


def ensure_aws_managed_key(account: str, region: str, alias: str) -> str:
    """The ARN of the AWS-managed key behind ``alias``, creating it now if this is its first use.

    Thread-safe: concurrent first uses in one account and region create one key.
    """
    backend = kms_backend(account, region)
    key = _key_for_alias(backend, alias)
    if key is not None:
        return str(key.arn)
    with _CREATE_LOCK:
        key = _key_for_alias(backend, alias)
        if key is None:
            key = _create_aws_managed_key(backend, alias)
        return str(key.arn)


# --- patches of moto's behaviour, installed while at least one emulator runs -----------------

_PATCH_LOCK = threading.Lock()
_patch_users = 0
_saved: dict[str, Any] = {}


def _patched_generate_default_keys(self: Any, alias_name: str) -> str | None:
    """Replacement for ``KmsBackend._generate_default_keys``.

    moto creates a *customer-managed* key when a predefined ``alias/aws/...`` is first resolved.
    AWS creates the AWS-managed key at that moment (``DescribeKey`` documents it: services use it
    to create AWS-managed keys from a predefined alias): do that, with ``KeyManager=AWS``.
    Reserved aliases of services the emulator does not model keep moto's behaviour.
    """
    if alias_name in AWS_MANAGED_ALIASES:
        with _CREATE_LOCK:
            key = _key_for_alias(self, alias_name)
            if key is None:
                key = _create_aws_managed_key(self, alias_name)
            return str(key.id)
    original: Callable[[Any, str], str | None] = _saved["generate_default_keys"]
    return original(self, alias_name)


def install_patches() -> None:
    """Make moto's KMS behave like AWS for AWS-managed keys (reference-counted, idempotent).

    Two changes, both process-wide because moto's backends are process-wide:

    * resolving ``alias/aws/rds`` or ``alias/aws/secretsmanager`` before first use creates an
      AWS-managed key (not a customer-managed one);
    * ``ListAliases`` no longer lists ``alias/aws/*`` aliases that point to keys which do not
      exist: an AWS-managed alias is listed once its key exists.
    """
    global _patch_users
    with _PATCH_LOCK:
        _patch_users += 1
        if _patch_users > 1:
            return
        kms_models = moto_module("kms.models")
        kms_responses = moto_module("kms.responses")
        _saved["generate_default_keys"] = kms_models.KmsBackend._generate_default_keys
        _saved["reserved_targets"] = kms_responses.RESERVED_ALIASE_TARGET_KEY_IDS
        kms_models.KmsBackend._generate_default_keys = _patched_generate_default_keys
        kms_responses.RESERVED_ALIASE_TARGET_KEY_IDS = {}


def uninstall_patches() -> None:
    """Undo :func:`install_patches` once the last emulator stops."""
    global _patch_users
    with _PATCH_LOCK:
        _patch_users = max(0, _patch_users - 1)
        if _patch_users or not _saved:
            return
        moto_module("kms.models").KmsBackend._generate_default_keys = _saved.pop(
            "generate_default_keys"
        )
        moto_module("kms.responses").RESERVED_ALIASE_TARGET_KEY_IDS = _saved.pop("reserved_targets")


# --- fix-ups run after requests that may create resources ------------------------------------


def _rds_objects(backend: Any) -> Iterator[Any]:
    yield from list(backend.clusters.values())
    yield from list(backend.databases.values())
    yield from list(backend.database_snapshots.values())
    yield from list(backend.cluster_snapshots.values())


def _is_encrypted(obj: Any) -> bool:
    for attr in ("storage_encrypted", "encrypted"):
        value = getattr(obj, attr, None)
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.lower() == "true"
    return True


def fix_rds(account: str, region: str) -> bool:
    """Replace moto's ``'default_kms_key_id'`` on RDS resources with the real ``aws/rds`` key.

    Creates ``aws/rds`` on first use, as AWS does. An *unencrypted* cluster also carries the
    placeholder in moto: it becomes ``None``. Returns whether anything changed.
    """
    backend = rds_backend(account, region)
    changed = False
    for obj in _rds_objects(backend):
        if getattr(obj, "kms_key_id", None) != DEFAULT_KEY_PLACEHOLDER:
            continue
        if _is_encrypted(obj):
            obj.kms_key_id = ensure_aws_managed_key(account, region, "alias/aws/rds")
        else:
            obj.kms_key_id = None
        changed = True
    for db in list(backend.databases.values()):
        # Performance Insights falls back to aws/rds when enabled without a key.
        if getattr(db, "enable_performance_insights", False) and getattr(
            db, "performance_insights_kms_key_id", None
        ) in (None, DEFAULT_KEY_PLACEHOLDER):
            db.performance_insights_kms_key_id = ensure_aws_managed_key(
                account, region, "alias/aws/rds"
            )
            changed = True
    return changed


def fix_secretsmanager(account: str, region: str) -> None:
    """Create ``aws/secretsmanager`` in each region where a secret (or replica) uses it."""
    default_alias = "alias/aws/secretsmanager"
    regions_using_default: set[str] = set()
    backend = secretsmanager_backend(account, region)
    for secret in list(backend.secrets.values()):
        if getattr(secret, "kms_key_id", None) in (None, default_alias):
            regions_using_default.add(str(getattr(secret, "region", region)))
        for replica in getattr(secret, "replicas", None) or ():
            # moto ignores a replica's own key: every replica is on the default key.
            if getattr(replica, "kms_key_id", None) in (None, default_alias):
                regions_using_default.add(str(replica.region))
    for used in regions_using_default:
        if find_aws_managed_key_arn(account, used, default_alias) is None:
            ensure_aws_managed_key(account, used, default_alias)
