"""The one place that touches moto's untyped internals.

moto ships no type information, so every object that comes out of it is `Any`. This module keeps
that `Any` at the boundary: the rest of `cmkguard.testing` calls the small typed functions
below. moto is imported lazily, so `import cmkguard.testing` works without the `demo` extra
until an emulator is actually started.
"""

from __future__ import annotations

import fnmatch
import json
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from cmkguard.testing._moto_loader import moto_module
from cmkguard.testing._org_moto import org_id_of

__all__ = [
    "AWS_MANAGED_ALIASES",
    "DEFAULT_KEY_PLACEHOLDER",
    "SECRETS_LOCK",
    "aws_managed_key_policy",
    "ensure_aws_managed_key",
    "find_aws_managed_key_arn",
    "fix_existing",
    "fix_lambda",
    "fix_rds",
    "fix_secretsmanager",
    "install_patches",
    "key_manager",
    "key_policy_allows",
    "kms_backend",
    "moto_default_account",
    "moto_module",
    "rds_backend",
    "replica_arn",
    "resolve_key_arn",
    "secretsmanager_backend",
    "set_shared_source_lookup",
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
    "alias/aws/lambda": (
        "lambda",
        "Default key that protects my Lambda functions when no other key is defined",
    ),
}
"""The AWS-managed keys the emulator makes realistic, with what AWS writes on them."""


def moto_default_account() -> str:
    """The account moto uses for credentials it does not know (`123456789012`)."""
    return str(moto_module("core").DEFAULT_ACCOUNT_ID)


def kms_backend(account: str, region: str) -> Any:
    """moto's KMS backend for `account` in `region` (created on first access)."""
    return moto_module("kms.models").kms_backends[account][region]


def rds_backend(account: str, region: str) -> Any:
    """moto's RDS backend for `account` in `region`."""
    return moto_module("rds.models").rds_backends[account][region]


def secretsmanager_backend(account: str, region: str) -> Any:
    """moto's Secrets Manager backend for `account` in `region`."""
    return moto_module("secretsmanager.models").secretsmanager_backends[account][region]


def _existing_backend(module: str, attribute: str, account: str, region: str) -> Any | None:
    """moto's backend if it already exists, without importing or creating anything."""
    loaded = sys.modules.get(f"moto.{module}")
    if loaded is None:
        return None
    backends = getattr(loaded, attribute, None)
    if backends is None:
        return None  # still being imported by another request's thread: nothing in it yet
    # dict's own methods: moto's __getitem__ creates backends, its __contains__ says yes to
    # every valid region.
    if not dict.__contains__(backends, account):
        return None
    per_account = dict.__getitem__(backends, account)
    if not dict.__contains__(per_account, region):
        return None
    return dict.__getitem__(per_account, region)


# (backend id) -> sizes of its collections when the fix-ups last ran on it.
_SIZES_SEEN: dict[int, tuple[int, ...]] = {}


def _unchanged(backend: Any, sizes: tuple[int, ...]) -> bool:
    """Whether `backend`'s collections have the sizes they had last time (then records them).

    A cheap test for "something was made since": a scan reads a large estate thousands of times
    and nothing changes in between. (A removal and a creation between two reads would hide the
    creation from this test; requests through the emulator are fixed after they run anyway.)
    """
    key = id(backend)
    if _SIZES_SEEN.get(key) == sizes:
        return True
    _SIZES_SEEN[key] = sizes
    return False


def fix_existing(account: str, region: str) -> None:
    """Run the fix-ups for `account` and `region` where those services hold anything new.

    Run before reads, so resources made without a request through the emulator (moto's
    decorator, its backends) are right too. Costs a few dictionary lengths when nothing is new.
    """
    rds = _existing_backend("rds.models", "rds_backends", account, region)
    if rds is not None:
        sizes = (
            len(rds.clusters),
            len(rds.databases),
            len(rds.database_snapshots),
            len(rds.cluster_snapshots),
        )
        if not _unchanged(rds, sizes):
            fix_rds(account, region)
    sm = _existing_backend("secretsmanager.models", "secretsmanager_backends", account, region)
    if sm is not None and sm.secrets and not _unchanged(sm, (len(sm.secrets),)):
        fix_secretsmanager(account, region)
    functions = _lambda_functions(account, region)
    if functions and not _unchanged(functions, (len(functions),)):
        fix_lambda(account, region)


def account_for_access_key(access_key: str) -> str:
    """The account moto attributes `access_key` to (its default account if unknown)."""
    return str(moto_module("iam.models").get_account_id_from(access_key))


def aws_managed_key_policy(alias: str, account: str, region: str) -> str:
    """The key policy AWS writes on an AWS-managed key (the shape of the real `aws/rds` and
    `aws/secretsmanager` policies, `Id` `auto-<service>-2`).

    Every principal of the account may use the key, but only *through* the service
    (`kms:ViaService`) and only from this account (`kms:CallerAccount`); the account root may
    read the key's metadata directly. Nobody may change the policy.
    """
    service = AWS_MANAGED_ALIASES[alias][0]
    via = f"{service}.{region}.amazonaws.com"
    root = f"arn:aws:iam::{account}:root"
    metadata = {
        "Sid": "Allow direct access to key metadata to the account",
        "Effect": "Allow",
        "Principal": {"AWS": root},
        "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
        "Resource": "*",
    }
    if service in ("rds", "lambda"):
        via_name = "RDS" if service == "rds" else "AWS Lambda"
        statements: list[dict[str, Any]] = [
            {
                "Sid": f"Allow access through {via_name} for all principals in the account "
                f"that are authorized to use {via_name}",
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
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account, "kms:ViaService": via}
                },
            },
            metadata,
        ]
    else:
        sid = (
            "Allow access through AWS Secrets Manager for all principals in the account that "
            "are authorized to use AWS Secrets Manager"
        )
        statements = [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:CreateGrant",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account, "kms:ViaService": via}
                },
            },
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account},
                    "StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"},
                },
            },
            metadata,
        ]
    return json.dumps({"Version": "2012-10-17", "Id": f"auto-{service}-2", "Statement": statements})


_CREATE_LOCK = threading.RLock()

SECRETS_LOCK = threading.RLock()
"""Held around every Secrets Manager operation: moto writes a replica into *another* region's
backend while that region's requests iterate over it ("dictionary changed size during
iteration"), so they run one at a time."""


def _key_for_alias(backend: Any, alias: str) -> Any | None:
    for key in list(backend.keys.values()):
        if alias in key.aliases:
            return key
    return None


def find_aws_managed_key_arn(account: str, region: str, alias: str) -> str | None:
    """The ARN of the AWS-managed key behind `alias`, or `None` if it was never used."""
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
    """The ARN of the AWS-managed key behind `alias`, creating it now if this is its first use.

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
    """Replacement for `KmsBackend._generate_default_keys`.

    moto creates a *customer-managed* key when a predefined `alias/aws/...` is first resolved.
    AWS creates the AWS-managed key at that moment (`DescribeKey` documents it: services use it
    to create AWS-managed keys from a predefined alias): do that, with `KeyManager=AWS`.
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


def _patched_replica_to_dict(self: Any) -> dict[str, Any]:
    """Replacement for `ReplicaSecret.to_dict`: a replica reports its *own* key.

    moto copies the primary secret's `KmsKeyId` (a key in another region) onto the replica.
    AWS reports the replica region's key, omitted when it is `aws/secretsmanager`.
    """
    original: Callable[[Any], dict[str, Any]] = _saved["replica_to_dict"]
    data = original(self)
    key = self.config.get("KmsKeyId")
    if key in (None, "alias/aws/secretsmanager"):
        data.pop("KmsKeyId", None)
    else:
        data["KmsKeyId"] = key
    return data


def replica_arn(primary_arn: str, region: str) -> str:
    """The ARN of a secret's replica in `region`: the primary's with only the region changed."""
    parts = primary_arn.split(":", 5)
    parts[3] = region
    return ":".join(parts)


def _patched_replica_init(self: Any, source: Any, region: str, *args: Any, **kwargs: Any) -> None:
    """Replacement for `ReplicaSecret.__init__`: the replica's ARN changes the region field only.

    moto builds it with `source.arn.replace(source.region, region)`, which also rewrites the
    region inside the secret's *name* (`config-from-us-east-1`). The backend files the replica
    under `replica.arn` right after this, so describing and listing it use the right ARN.
    """
    original: Callable[..., None] = _saved["replica_init"]
    original(self, source, region, *args, **kwargs)
    self.arn = replica_arn(str(source.arn), region)


class _LazyPrivateKey:
    """Stands in for the asymmetric key moto makes for *every* KMS key, until it is used.

    moto 5.2.5 generates an RSA-2048 private key even for symmetric keys (~60 ms of CPU per
    `CreateKey`); only signing, verifying and `GetPublicKey` use it. Generating it on first
    use keeps seeding thousands of resources fast without changing any answer.
    """

    def __init__(self, key_spec: str, generate: Callable[[str], Any]) -> None:
        self._key_spec = key_spec
        self._generate = generate
        self._key: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        with self._lock:
            if self._key is None:
                self._key = self._generate(self._key_spec)
        return getattr(self._key, name)


def _patched_generate_private_key(key_spec: str) -> Any:
    return _LazyPrivateKey(key_spec, _saved["generate_private_key"])


_REGIONS_CACHE: dict[str, list[str]] = {}


def _patched_generate_regions(self: Any, service_name: str) -> list[str]:
    """Replacement for `AccountSpecificBackend._generate_regions`, cached per service.

    moto's own cache is keyed by the backend instance, so every account of every service, again
    after each reset, re-reads botocore's region data (tens of milliseconds each time).
    """
    cached = _REGIONS_CACHE.get(service_name)
    if cached is None:
        original: Callable[[Any, str], list[str]] = _saved["generate_regions"]
        cached = _REGIONS_CACHE.setdefault(service_name, list(original(self, service_name)))
    return list(cached)


_MODULES_CACHE: list[tuple[str, ...]] = []


def _patched_list_of_moto_modules() -> tuple[str, ...]:
    """Replacement for `moto.backends.list_of_moto_modules`, computed once.

    moto's server calls it for every request (to read the `Host` header): a directory listing
    and ~180 `stat` calls each time, a millisecond or two per request.
    """
    if not _MODULES_CACHE:
        original: Callable[[], Iterable[str]] = _saved["list_of_moto_modules"]
        _MODULES_CACHE.append(tuple(original()))
    return _MODULES_CACHE[0]


_ENCRYPTION_TYPE_CLASSES = ("DBCluster", "DBInstance", "DBClusterSnapshot", "DBSnapshot")
_ENCRYPTION_TYPE = property(lambda self: _storage_encryption_type_of(self))


def _patched_restore_cluster(self: Any, from_snapshot_id: str, overrides: Any) -> Any:
    if any(overrides.get(name) for name in ("kms_key_id", "KmsKeyId")):
        overrides = {**overrides, "storage_encrypted": True}  # before its automated backup
    return _saved["restore_cluster"](self, from_snapshot_id, overrides)


def _patched_modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: Any) -> Any:
    """`ModifyDBInstance`: a rename also renames the instance in its replicas' records.

    moto leaves a replica's `ReadReplicaSourceDBInstanceIdentifier` (and a primary's
    `ReadReplicaDBInstanceIdentifiers`) at the old name; AWS reports the current names.
    """
    new_id = db_kwargs.get("new_db_instance_identifier")
    database = _saved["modify_db_instance"](self, db_instance_identifier, db_kwargs)
    if new_id and new_id != db_instance_identifier:
        for other in list(self.databases.values()):
            if getattr(other, "source_db_instance_identifier", None) == db_instance_identifier:
                other.source_db_instance_identifier = new_id
            replicas = getattr(other, "replicas", None)
            if isinstance(replicas, list) and db_instance_identifier in replicas:
                replicas[replicas.index(db_instance_identifier)] = new_id
    return database


def _patched_modify_db_cluster(self: Any, kwargs: Any) -> Any:
    """`ModifyDBCluster`: a rename also renames the cluster in its members' records.

    moto leaves each member's `DBClusterIdentifier` at the old name (an Aurora cutover then
    fails its last check); AWS reports the cluster's current name.
    """
    old_id = kwargs["db_cluster_identifier"]
    new_id = kwargs.get("new_db_cluster_identifier")
    cluster = self.clusters.get(old_id)
    result = _saved["modify_db_cluster"](self, kwargs)
    if new_id and cluster is not None:
        for database in list(self.databases.values()):
            if getattr(database, "cluster", None) is cluster:
                database.db_cluster_identifier = new_id
    return result


def _patched_create_replicas(self: Any, replica_regions: Any, force_overwrite: bool) -> Any:
    """`FakeSecret.create_replicas`: a replica keeps the `KmsKeyId` it was created with.

    moto puts every replica on `aws/secretsmanager` whatever `AddReplicaRegions` asked for;
    AWS encrypts the replica with the requested key and reports it in `ReplicationStatus`.
    """
    replicas = _saved["create_replicas"](self, replica_regions, force_overwrite)
    requested = {c["Region"]: c.get("KmsKeyId") for c in replica_regions or ()}
    for replica in replicas:
        key = requested.get(replica.region)
        if key:
            replica.config["KmsKeyId"] = key
    return replicas


def _by_key_id(name: str) -> Callable[..., Any]:
    """A KMS backend method that accepts a key ARN as well as a key id, as AWS does.

    moto's `DisableKey`, `EnableKey`, `ScheduleKeyDeletion` and `CancelKeyDeletion` look
    the raw `KeyId` up in their key table and answer 500 (a `KeyError`) for a key ARN.
    """

    def patched(self: Any, key_id: str, *args: Any, **kwargs: Any) -> Any:
        return _saved[name](self, self.get_key_id(key_id), *args, **kwargs)

    patched.__name__ = name
    return patched


_KMS_BY_KEY_ID = ("disable_key", "enable_key", "schedule_key_deletion", "cancel_key_deletion")


# Set by cmkguard.testing._share (which imports this module): the other account's snapshot an
# allowed cross-account copy reads, or None.
def _no_shared_source(_identifier: str) -> Any:
    return None


_shared_source: Callable[[str], Any] = _no_shared_source


def set_shared_source_lookup(lookup: Callable[[str], Any]) -> None:
    """Let `get_snapshot` read an allowed shared snapshot from its owner (see `_share`)."""
    global _shared_source
    _shared_source = lookup


def _patched_get_snapshot(self: Any, identifier: str, *args: Any, **kwargs: Any) -> Any:
    found = _shared_source(identifier)
    return found if found is not None else _saved["get_snapshot"](self, identifier, *args, **kwargs)


def install_patches() -> None:
    """Make moto's KMS behave like AWS for AWS-managed keys (reference-counted, idempotent).

    Two changes, both process-wide because moto's backends are process-wide:

    * resolving `alias/aws/rds` or `alias/aws/secretsmanager` before first use creates an
      AWS-managed key (not a customer-managed one);
    * `ListAliases` no longer lists `alias/aws/*` aliases that point to keys which do not
      exist: an AWS-managed alias is listed once its key exists;
    * a Secrets Manager replica reports its own region's key, not the primary's, and its ARN is
      the primary's with only the region field changed (moto also rewrites the secret's name);
    * a key's asymmetric private key is generated on first use (see `_LazyPrivateKey`);
    * the regions of a service are computed once per process, not once per account and reset;
    * moto's list of service modules is computed once, not once per request;
    * RDS reports `StorageEncryptionType` (moto does not model it) as AWS does: an Aurora
      cluster created without storage encryption is encrypted with an AWS owned key
      (`sse-rds`, `StorageEncrypted` false, no `KmsKeyId`: the Aurora default from
      2026-02-18, as botocore's RDS model documents it), and so are its members and snapshots;
      a resource on a KMS key is `sse-kms`, anything else `none`;
    * `RestoreDBClusterFromSnapshot` with a `KmsKeyId` encrypts the new cluster with that
      key (moto kept the snapshot's `StorageEncrypted` false);
    * renaming a cluster renames it in its members' `DBClusterIdentifier`, renaming an
      instance renames it in its replicas' and primary's records (moto kept the old names);
    * `DisableKey`, `EnableKey`, `ScheduleKeyDeletion`, `CancelKeyDeletion` accept a key
      ARN (moto answered 500);
    * a secret replica created with a `KmsKeyId` is on that key (moto ignored it);
    * a copy of another account's snapshot, once allowed by `cmkguard.testing._share` (the
      `restore` attribute and the key policy), reads the source from its owner's account.
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
        sm_models = moto_module("secretsmanager.models")
        _saved["replica_to_dict"] = sm_models.ReplicaSecret.to_dict
        _saved["replica_init"] = sm_models.ReplicaSecret.__init__
        _saved["generate_private_key"] = kms_models.generate_private_key
        base_backend = moto_module("core.base_backend")
        # The undecorated function: moto's lru_cache keyed by instance never hits.
        _saved["generate_regions"] = getattr(
            base_backend.AccountSpecificBackend._generate_regions,
            "__wrapped__",
            base_backend.AccountSpecificBackend._generate_regions,
        )
        _saved["generate_regions_attr"] = base_backend.AccountSpecificBackend._generate_regions
        base_backend.AccountSpecificBackend._generate_regions = _patched_generate_regions
        backends = moto_module("backends")
        _saved["list_of_moto_modules"] = backends.list_of_moto_modules
        backends.list_of_moto_modules = _patched_list_of_moto_modules
        kms_models.KmsBackend._generate_default_keys = _patched_generate_default_keys
        kms_models.generate_private_key = _patched_generate_private_key
        kms_responses.RESERVED_ALIASE_TARGET_KEY_IDS = {}
        sm_models.ReplicaSecret.to_dict = _patched_replica_to_dict
        sm_models.ReplicaSecret.__init__ = _patched_replica_init
        rds_models = moto_module("rds.models")
        for name in _ENCRYPTION_TYPE_CLASSES:
            getattr(rds_models, name).storage_encryption_type = _ENCRYPTION_TYPE
        _saved["restore_cluster"] = rds_models.RDSBackend.restore_db_cluster_from_snapshot
        rds_models.RDSBackend.restore_db_cluster_from_snapshot = _patched_restore_cluster
        _saved["modify_db_instance"] = rds_models.RDSBackend.modify_db_instance
        rds_models.RDSBackend.modify_db_instance = _patched_modify_db_instance
        _saved["modify_db_cluster"] = rds_models.RDSBackend.modify_db_cluster
        rds_models.RDSBackend.modify_db_cluster = _patched_modify_db_cluster
        _saved["create_replicas"] = sm_models.FakeSecret.create_replicas
        sm_models.FakeSecret.create_replicas = _patched_create_replicas
        for name in _KMS_BY_KEY_ID:
            _saved[name] = getattr(kms_models.KmsBackend, name)
            setattr(kms_models.KmsBackend, name, _by_key_id(name))
        _saved["get_snapshot"] = rds_models.RDSBackend.get_snapshot
        rds_models.RDSBackend.get_snapshot = _patched_get_snapshot


def uninstall_patches() -> None:
    """Undo `install_patches` once the last emulator stops."""
    global _patch_users
    with _PATCH_LOCK:
        _patch_users = max(0, _patch_users - 1)
        if _patch_users or not _saved:
            return
        moto_module("kms.models").KmsBackend._generate_default_keys = _saved.pop(
            "generate_default_keys"
        )
        moto_module("kms.responses").RESERVED_ALIASE_TARGET_KEY_IDS = _saved.pop("reserved_targets")
        moto_module("secretsmanager.models").ReplicaSecret.to_dict = _saved.pop("replica_to_dict")
        moto_module("secretsmanager.models").ReplicaSecret.__init__ = _saved.pop("replica_init")
        moto_module("kms.models").generate_private_key = _saved.pop("generate_private_key")
        moto_module("core.base_backend").AccountSpecificBackend._generate_regions = _saved.pop(
            "generate_regions_attr"
        )
        _saved.pop("generate_regions")
        moto_module("backends").list_of_moto_modules = _saved.pop("list_of_moto_modules")
        rds_models = moto_module("rds.models")
        for name in _ENCRYPTION_TYPE_CLASSES:
            if "storage_encryption_type" in vars(getattr(rds_models, name)):
                delattr(getattr(rds_models, name), "storage_encryption_type")
        rds_models.RDSBackend.restore_db_cluster_from_snapshot = _saved.pop("restore_cluster")
        rds_models.RDSBackend.modify_db_instance = _saved.pop("modify_db_instance")
        rds_models.RDSBackend.modify_db_cluster = _saved.pop("modify_db_cluster")
        kms_models = moto_module("kms.models")
        for name in _KMS_BY_KEY_ID:
            setattr(kms_models.KmsBackend, name, _saved.pop(name))
        sm = moto_module("secretsmanager.models")
        sm.FakeSecret.create_replicas = _saved.pop("create_replicas")
        rds_models.RDSBackend.get_snapshot = _saved.pop("get_snapshot")


# --- fix-ups run after requests that may create resources ------------------------------------


def _rds_objects(backend: Any) -> Iterator[tuple[Any, str, Any]]:
    """(container, id, object) for every RDS object that carries a key."""
    for container in (
        backend.clusters,
        backend.databases,
        backend.database_snapshots,
        backend.cluster_snapshots,
    ):
        for object_id, obj in list(container.items()):
            yield container, object_id, obj


def _is_encrypted(obj: Any) -> bool:
    for attr in ("storage_encrypted", "encrypted"):
        value = getattr(obj, attr, None)
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.lower() == "true"
    return True


def resolve_key_arn(account: str, region: str, identifier: str) -> str | None:
    """The key ARN behind an id / alias / alias ARN in `account` and `region`, if any."""
    if identifier.startswith("arn:") and ":key/" in identifier:
        return identifier
    if identifier.startswith("arn:") and ":alias/" in identifier:
        parts = identifier.split(":")
        account, region = parts[4], parts[3]
    try:
        return str(kms_backend(account, region).describe_key(identifier).arn)
    except Exception:  # moto raises KeyError or its own errors: leave the value as given
        return None


def _principal_matches(principal: Any, caller: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        principal = principal.get("AWS", [])
    values = [principal] if isinstance(principal, str) else list(principal or ())
    return any(v == "*" or v == caller or f"::{caller}:" in str(v) for v in values)


def key_manager(account: str, region: str, key_id: str) -> tuple[str, str] | None:
    """`(KeyManager, key ARN)` of an existing key named by id, ARN, alias or alias ARN; `None`
    if there is no such key. Never creates anything (unlike moto's alias resolution)."""
    backend = kms_backend(account, region)
    key: Any = None
    if key_id.startswith("alias/") or ":alias/" in key_id:
        key = _key_for_alias(backend, "alias/" + key_id.split("alias/", 1)[1])
    else:
        key = backend.keys.get(backend.get_key_id(key_id))
    return None if key is None else (str(key.key_manager), str(key.arn))


def _caller_account_condition_matches(condition: Any, caller: str) -> bool:
    """A `kms:CallerAccount` condition (the one that keeps AWS-managed keys to their account)
    or an `aws:PrincipalOrgID` one (a key shared with the caller's organisation)."""
    for op, operator in condition.items() if isinstance(condition, dict) else ():
        if not isinstance(operator, dict):
            continue
        for name, value in operator.items():
            values = [value] if isinstance(value, str) else list(value)
            if name.lower() == "kms:calleraccount" and caller not in values:
                return False
            if name.lower() == "aws:principalorgid" and org_id_of(caller) not in values:
                return False
            if name.lower() == "aws:currenttime" and not _current_time_matches(op, values):
                return False
    return True


def _current_time_matches(operator: str, values: list[str]) -> bool:
    """`DateLessThan` / `DateGreaterThan` (and the -Equals forms) on `aws:CurrentTime`: a
    time-bounded grant such as a snapshot share expires in the emulator as in AWS."""
    now = datetime.now(UTC)
    for value in values:
        try:
            bound = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return False
        if bound.tzinfo is None:
            bound = bound.replace(tzinfo=UTC)
        ok = {
            "DateLessThan": now < bound,
            "DateLessThanEquals": now <= bound,
            "DateGreaterThan": now > bound,
            "DateGreaterThanEquals": now >= bound,
        }.get(operator, True)
        if not ok:
            return False
    return True


def key_policy_allows(owner: str, region: str, key_id: str, caller: str, action: str) -> bool:
    """Whether the key policy of `key_id` (owned by `owner`) lets account `caller` do
    `action`: an `Allow` statement naming the caller's account (or `*`) with a matching
    action and no `Deny` doing the same. Of the conditions only `kms:CallerAccount` is
    evaluated (an emulator's approximation, good enough to route cross-account requests)."""
    try:
        key = kms_backend(owner, region).describe_key(key_id)
        policy = json.loads(key.policy or "{}")
    except Exception:  # unknown key or unparsable policy: not allowed
        return False
    allowed = False
    statements = policy.get("Statement", [])
    for statement in [statements] if isinstance(statements, dict) else statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in actions):
            continue
        if not _principal_matches(statement.get("Principal"), caller):
            continue
        if not _caller_account_condition_matches(statement.get("Condition") or {}, caller):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _is_aurora_member(obj: Any) -> bool:
    return bool(getattr(obj, "db_cluster_identifier", None))


# RDS objects already made right: a resource's key never changes after creation, so each object
# is looked at once (keeps the fix-up O(new objects) per request while seeding thousands).
_CHECKED: weakref.WeakSet[Any] = weakref.WeakSet()


def fix_rds(account: str, region: str) -> bool:
    """Make moto's RDS resources report their keys as AWS does. Returns whether anything changed.

    * `'default_kms_key_id'` becomes the ARN of `aws/rds` (created on first use, as AWS
      does); moto also puts it on *unencrypted* clusters, where it becomes `None`.
    * A key given as key id, alias or alias ARN is reported as the key ARN (RDS resolves it
      when the resource is created).
    * moto takes automated *instance* snapshots of Aurora cluster members; AWS backs up the
      cluster instead (cluster snapshots), so those are removed.
    """
    backend = rds_backend(account, region)
    changed = False
    for container, object_id, obj in _rds_objects(backend):
        if obj in _CHECKED:
            continue
        _CHECKED.add(obj)
        if (
            container is backend.database_snapshots
            and getattr(obj, "snapshot_type", "") == "automated"
            and _is_aurora_member(getattr(obj, "database", None))
        ):
            container.pop(object_id, None)
            changed = True
            continue
        changed = _fix_rds_object(obj, account, region) or changed
    return changed


_AWS_OWNED = "sse-rds"


def _has_kms_key(obj: Any) -> bool:
    key = getattr(obj, "kms_key_id", None)
    return bool(key) and key != DEFAULT_KEY_PLACEHOLDER


def _storage_encryption_type_of(obj: Any) -> str:
    """What RDS reports as `StorageEncryptionType` for a moto cluster, instance or snapshot."""
    kind = type(obj).__name__
    if kind in ("DBInstanceClustered", "DBClusterSnapshot"):  # the cluster's (at snapshot time)
        cluster = obj.cluster
        known = getattr(cluster, "storage_encryption_type", None)
        return known if isinstance(known, str) else _storage_encryption_type_of(cluster)
    if _is_encrypted(obj) or (kind == "DBCluster" and _has_kms_key(obj)):
        return "sse-kms"
    if kind == "DBCluster" and str(getattr(obj, "engine", "") or "").startswith("aurora"):
        return _AWS_OWNED
    return "none"


def _fix_rds_object(obj: Any, account: str, region: str) -> bool:
    current = getattr(obj, "kms_key_id", None)
    if not current or (current.startswith("arn:") and ":key/" in current):
        return False
    if current == DEFAULT_KEY_PLACEHOLDER:
        if _is_encrypted(obj):
            obj.kms_key_id = ensure_aws_managed_key(account, region, "alias/aws/rds")
        else:
            obj.kms_key_id = None
        return True
    resolved = resolve_key_arn(account, region, current)
    if resolved is None:
        return False
    obj.kms_key_id = resolved
    return True


def _lambda_functions(account: str, region: str) -> Any:
    """moto's Lambda function store for `account` and `region` if it exists, else `None`."""
    backend = _existing_backend("awslambda.models", "lambda_backends", account, region)
    return None if backend is None else backend._lambdas._functions


def fix_lambda(account: str, region: str) -> None:
    """Create `aws/lambda` once a function's environment uses it (no `KMSKeyArn`).

    moto never makes it; AWS creates it on first use, like `aws/rds`.
    """
    functions = _lambda_functions(account, region)
    for versions in list((functions or {}).values()):
        latest = versions.get("latest")
        if latest is not None and latest.environment_vars and not latest.kms_key_arn:
            ensure_aws_managed_key(account, region, "alias/aws/lambda")
            return


# Secrets already looked at, with what mattered then (their key and number of replicas can change).
_SEEN_SECRETS: weakref.WeakKeyDictionary[Any, tuple[Any, int]] = weakref.WeakKeyDictionary()


def fix_secretsmanager(account: str, region: str) -> None:
    """Create `aws/secretsmanager` in each region where a secret (or replica) uses it."""
    default_alias = "alias/aws/secretsmanager"
    regions_using_default: set[str] = set()
    backend = secretsmanager_backend(account, region)
    for secret in list(backend.secrets.values()):
        state = (getattr(secret, "kms_key_id", None), len(getattr(secret, "replicas", None) or ()))
        try:
            if _SEEN_SECRETS.get(secret) == state:
                continue
            _SEEN_SECRETS[secret] = state
        except TypeError:  # not weak-referenceable: look at it every time
            pass
        if getattr(secret, "kms_key_id", None) in (None, default_alias):
            regions_using_default.add(str(getattr(secret, "region", region)))
        for replica in getattr(secret, "replicas", None) or ():
            # moto ignores a replica's own key: every replica is on the default key.
            if getattr(replica, "kms_key_id", None) in (None, default_alias):
                regions_using_default.add(str(replica.region))
    for used in regions_using_default:
        if find_aws_managed_key_arn(account, used, default_alias) is None:
            ensure_aws_managed_key(account, used, default_alias)
