"""Seeding a realistic, deterministic estate into the emulated account.

Writes go to moto's backends through `cmkguard.testing._direct` (the same backend calls
moto's request handlers make, followed by the emulator's fidelity fixes), or through the AWS API
with `through_api=True`; both build the same estate, and a scan reads it through the API. The
ground truth is computed from what was made (the ARNs and keys AWS reported, the automated
snapshots found afterwards), never hard-coded. A rotation Lambda is set on the backend in both
modes, because moto's `RotateSecret` would invoke the Lambda (it needs Docker); the Lambda
function itself (and the IAM role it needs) is created through the API in both modes (two
requests per region; moto's Lambda never runs it, so no Docker).

Per account and region, at `scale=s` (`u` = 0..s-1 is a "unit"):

* KMS: nine CMKs with one intended problem each (or none), `s` healthy "workhorse" CMKs, and
  the AWS-managed `aws/rds` and `aws/secretsmanager` keys, created by first use;
* RDS, per unit: an instance on a workhorse CMK, one on `aws/rds`, one unencrypted, one on a CMK
  given by alias, one with an RDS-managed master-user secret; a manual snapshot of the first two;
  per region at least three Aurora clusters (on a CMK, on `aws/rds`, on the AWS owned key
  that Aurora uses when no encryption is asked for, then `s // 2`),
  each with a member instance and a manual cluster snapshot; the automated snapshots moto takes;
  an instance on the key pending deletion;
* Secrets Manager, per unit: secrets on a workhorse CMK (by ARN and by alias), on the default
  key, on another account's key, one replicated to a second region, one with a rotation
  Lambda; per region a secret on the disabled key. The rotation Lambda of even units keeps its
  environment on the AWS-managed `aws/lambda` key (created on first use; a problem: the
  secret is on a CMK), that of odd units on the first workhorse CMK.
"""

from __future__ import annotations

import functools
import io
import json
import random
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs
import boto3

from cmkguard.errors import ConfigurationError, UnknownRegionError
from cmkguard.inventory.values import KeyClass, KeyUse
from cmkguard.testing import _moto
from cmkguard.testing._direct import DirectKms, DirectRds, DirectSecretsManager
from cmkguard.testing._truth import ExpectedKey, ExpectedResource, GroundTruth
from cmkguard.types import AccountId, KeyArn, Region, ResourceArn, ResourceTypeName

if TYPE_CHECKING:
    from cmkguard.testing._emulator import EmulatedAWS

__all__ = ["REQUIRED_KEY_TAGS", "seed_estate"]

REQUIRED_KEY_TAGS = ("owner", "application", "data-sensitivity", "cost-center")
"""The tags every CMK of the seeded estate is meant to carry (`missing-tags` otherwise)."""

DB_INSTANCE = ResourceTypeName("rds:db-instance")
DB_CLUSTER = ResourceTypeName("rds:db-cluster")
DB_SNAPSHOT = ResourceTypeName("rds:db-snapshot")
DB_CLUSTER_SNAPSHOT = ResourceTypeName("rds:db-cluster-snapshot")
SECRET = ResourceTypeName("secretsmanager:secret")

_FAKE_PASSWORD = "fake-password-not-a-secret-1"  # loopback emulator only
_FAKE_SECRET_VALUE = '{"username": "app", "password": "fake-not-a-secret"}'
_SENSITIVITIES = ("public", "internal", "confidential", "restricted")
_ENGINES = ("postgres", "mysql")  # moto 5.2.5 has no default mariadb version
_AURORA_ENGINES = ("aurora-postgresql", "aurora-mysql")
_CLASSES = ("db.t3.micro", "db.t3.medium", "db.m6g.large", "db.r6g.large")
_OUTSIDE_PARTNER = "999988887777"
"""The partner a key is shared with when the emulator has no second account."""
_ROTATION_CODE = "def handler(event, context):\n    raise NotImplementedError('never invoked')\n"
_LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
LAMBDA_MISMATCH = "rotation-lambda-key-class-mismatch"
_PROBLEM_FOR_CLASS = {
    KeyClass.AWS_MANAGED: "aws-managed-key",
    KeyClass.UNENCRYPTED: "unencrypted",
    KeyClass.CROSS_ACCOUNT: "cross-account-key",
    KeyClass.AWS_OWNED: "aws-owned-key",
}


@attrs.frozen
class _KeyPlan:
    """A CMK to create: its name, policy kind, rotation, tags, final state and problems."""

    name: str
    policy: str = "safe"  # safe | public | cross-account | wildcard
    rotation: bool = True
    rotation_period: int | None = None
    tags: str = "full"  # full | none | partial
    state: str = "Enabled"  # Enabled | Disabled | PendingDeletion
    problems: frozenset[str] = frozenset()


_SPECIAL_KEYS = (
    _KeyPlan("governed-rotation-90", rotation_period=90),
    _KeyPlan("legacy-no-rotation", rotation=False, problems=frozenset({"rotation-disabled"})),
    _KeyPlan("shared-public", policy="public", problems=frozenset({"public-access"})),
    _KeyPlan("partner-share", policy="cross-account", problems=frozenset({"cross-account-access"})),
    _KeyPlan("admin-wildcard", policy="wildcard", problems=frozenset({"wildcard-actions"})),
    _KeyPlan("untagged", tags="none", problems=frozenset({"missing-tags"})),
    _KeyPlan("partially-tagged", tags="partial", problems=frozenset({"missing-tags"})),
    _KeyPlan(
        "retiring-pending-deletion",
        state="PendingDeletion",
        problems=frozenset({"pending-deletion-in-use"}),
    ),
    _KeyPlan("suspended-disabled", state="Disabled", problems=frozenset({"disabled-in-use"})),
)


def _policy(kind: str, account: str, peer: str | None) -> str:
    """A key policy of the given kind (always starting from the account-root statement)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "EnableIAMUserPermissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "AllowUseByApplicationRole",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:role/app-runtime"},
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*",
        },
    ]
    if kind == "public":
        statements.append(
            {
                "Sid": "AllowEveryone",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
            }
        )
    elif kind == "cross-account":
        statements.append(
            {
                "Sid": "AllowPartnerAccount",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{peer or _OUTSIDE_PARTNER}:root"},
                "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*"],
                "Resource": "*",
            }
        )
    elif kind == "wildcard":
        statements.append(
            {
                "Sid": "AllowAdminEverything",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:role/platform-admin"},
                "Action": "kms:*",
                "Resource": "*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Id": "key-policy", "Statement": statements})


def _tags(kind: str, app: str, rng: random.Random) -> dict[str, str]:
    if kind == "none":
        return {}
    tags = {
        "owner": f"team-{rng.choice(('payments', 'identity', 'search', 'platform'))}",
        "application": app,
        "data-sensitivity": rng.choice(_SENSITIVITIES),
        "cost-center": f"cc-{rng.randrange(1000, 9999)}",
    }
    if kind == "partial":
        del tags["cost-center"]
        del tags["data-sensitivity"]
    return tags


def _application(name: str) -> str:
    """The application a seeded resource belongs to: its name before the unit number, so that
    `orders-000` (instance), `orders-000/db` (its secret) and `catalog-001-instance-1` (a
    cluster member) count as the applications `orders` and `catalog`, not as two each."""
    base = name.split("/")[0]
    match = re.match(r"(.+?)-\d{3}(?:-|$)", base)
    return match.group(1) if match else base


def _tag_list(
    tags: Mapping[str, str], key: str = "Key", value: str = "Value"
) -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]


@attrs.define
class _Made:
    """What one account+region worker made (mutable while seeding)."""

    resources: list[ExpectedResource] = attrs.field(factory=list)
    keys: list[ExpectedKey] = attrs.field(factory=list)


class _RegionSeeder:
    """Seeds one account in one region."""

    def __init__(
        self,
        aws: EmulatedAWS,
        account: str,
        region: str,
        *,
        scale: int,
        seed: int,
        peer: str | None,
        replica_region: str | None,
        through_api: bool = False,
    ) -> None:
        self.aws = aws
        self.account = account
        self.region = region
        self.scale = scale
        self.peer = peer
        self.replica_region = replica_region
        self.rng = random.Random(f"{seed}:{account}:{region}")
        session = aws.session(region, account)
        # Reads go through the AWS API; writes too with through_api, else on moto's backends.
        self.rds_api = _client(session, "rds", region)
        self.kms: Any
        self.rds: Any
        self.sm: Any
        if through_api:
            self.kms = _client(session, "kms", region)
            self.rds = self.rds_api
            self.sm = _client(session, "secretsmanager", region)
        else:
            self.kms = DirectKms(account, region)
            self.rds = DirectRds(account, region)
            self.sm = DirectSecretsManager(account, region)
        self.made = _Made()
        self.key_plans: dict[KeyArn, tuple[_KeyPlan, dict[str, str]]] = {}
        self._instance_keys: dict[str, tuple[KeyClass, KeyArn | None]] = {}
        self._cluster_keys: dict[str, tuple[KeyClass, KeyArn | None]] = {}
        self._lambdas: dict[str, tuple[str, KeyUse]] = {}
        self._lambda_role: str | None = None

    # -- keys ----------------------------------------------------------------------------------

    def _create_key(self, plan: _KeyPlan, kms: Any = None, account: str | None = None) -> KeyArn:
        kms = kms or self.kms
        account = account or self.account
        app = plan.name
        tags = _tags(plan.tags, app, self.rng)
        kwargs: dict[str, Any] = {
            # A CMK of this account may be shared with the peer; the peer's key with this account.
            "Policy": _policy(
                plan.policy, account, self.peer if account == self.account else self.account
            ),
            "Description": f"cmkguard demo CMK {plan.name}",
        }
        if tags:
            kwargs["Tags"] = _tag_list(tags, "TagKey", "TagValue")
        meta = kms.create_key(**kwargs)["KeyMetadata"]
        kms.create_alias(AliasName=f"alias/{plan.name}", TargetKeyId=meta["KeyId"])
        if plan.rotation:
            rotation: dict[str, Any] = {"KeyId": meta["KeyId"]}
            if plan.rotation_period is not None:
                # moto accepts the period but does not report it back (aws-facts.md).
                rotation["RotationPeriodInDays"] = plan.rotation_period
            kms.enable_key_rotation(**rotation)
        arn = KeyArn(meta["Arn"])
        self.key_plans[arn] = (plan, tags)
        return arn

    def _record_key(self, arn: KeyArn, account: str, state: str) -> None:
        plan, tags = self.key_plans[arn]
        self.made.keys.append(
            ExpectedKey(
                arn=arn,
                account=AccountId(account),
                region=Region(self.region),
                manager="CUSTOMER",
                state=state,
                problems=plan.problems,
                rotation_enabled=plan.rotation,
                rotation_period_days=(plan.rotation_period or 365) if plan.rotation else None,
                aliases=(f"alias/{plan.name}",),
                tags=tags,
                description=f"cmkguard demo CMK {plan.name}",
            )
        )

    # -- resources -----------------------------------------------------------------------------

    def _add(
        self,
        arn: str,
        resource_type: ResourceTypeName,
        key_class: KeyClass,
        key_arn: KeyArn | None,
        name: str,
        *,
        region: str | None = None,
        key_uses: tuple[KeyUse, ...] = (),
        **details: Any,
    ) -> None:
        problems: set[str] = set()
        problem = _PROBLEM_FOR_CLASS.get(key_class)
        if problem is not None:
            problems.add(problem)
        if any(u.purpose == "rotation-lambda" and u.key_class is not key_class for u in key_uses):
            problems.add(LAMBDA_MISMATCH)
        self.made.resources.append(
            ExpectedResource(
                arn=ResourceArn(arn),
                resource_type=resource_type,
                account=AccountId(self.account),
                region=Region(region or self.region),
                key_class=key_class,
                key_arn=key_arn,
                name=name,
                problems=frozenset(problems),
                details=details,
                key_uses=key_uses,
            )
        )

    def _aws_key(self, alias: str, region: str | None = None) -> KeyArn:
        arn = _moto.find_aws_managed_key_arn(self.account, region or self.region, alias)
        if arn is None:  # pragma: no cover - the emulator creates it on first use
            raise RuntimeError(f"{alias} was not created in {self.account}/{region}")
        return KeyArn(arn)

    def _instance(
        self, name: str, key: tuple[KeyClass, KeyArn | None], key_param: str | None, **extra: Any
    ) -> dict[str, Any]:
        rng = self.rng
        kwargs: dict[str, Any] = {
            "DBInstanceIdentifier": name,
            "Engine": rng.choice(_ENGINES),
            "DBInstanceClass": rng.choice(_CLASSES),
            "AllocatedStorage": rng.choice((20, 50, 100)),
            "StorageType": "gp3",
            "BackupRetentionPeriod": rng.choice((1, 7, 14)),
            "MultiAZ": rng.random() < 0.3,
            "CopyTagsToSnapshot": True,
            "EnableIAMDatabaseAuthentication": rng.random() < 0.5,
            "Tags": _tag_list({"application": _application(name), "env": "prod"}),
        }
        kwargs["MasterUsername"] = "app_admin"
        if extra.pop("managed_password", False):
            kwargs["ManageMasterUserPassword"] = True  # RDS keeps the password in a secret
        else:
            kwargs["MasterUserPassword"] = _FAKE_PASSWORD
        if key[0] is not KeyClass.UNENCRYPTED:
            kwargs["StorageEncrypted"] = True
            if key_param is not None:
                kwargs["KmsKeyId"] = key_param
        kwargs.update(extra)
        instance: dict[str, Any] = self.rds.create_db_instance(**kwargs)["DBInstance"]
        self._instance_keys[name] = key
        self._add(
            instance["DBInstanceArn"],
            DB_INSTANCE,
            key[0],
            key[1],
            name,
            engine=instance["Engine"],
        )
        secret = instance.get("MasterUserSecret")
        if secret:
            # RDS made the master-user secret on the default Secrets Manager key.
            self._add(
                secret["SecretArn"],
                SECRET,
                KeyClass.AWS_MANAGED,
                None,
                secret["SecretArn"].split(":")[-1].rsplit("-", 1)[0],
                owning_service="rds",
                db_instance=name,
            )
        return instance

    def _snapshot(self, instance: str, name: str) -> None:
        snap = self.rds.create_db_snapshot(DBInstanceIdentifier=instance, DBSnapshotIdentifier=name)
        key_class, key_arn = self._instance_keys[instance]
        self._add(
            snap["DBSnapshot"]["DBSnapshotArn"],
            DB_SNAPSHOT,
            key_class,
            key_arn,
            name,
            snapshot_type="manual",
            source=instance,
        )

    def _cluster(
        self, name: str, key: tuple[KeyClass, KeyArn | None], key_param: str | None
    ) -> None:
        engine = _AURORA_ENGINES[len(self._cluster_keys) % len(_AURORA_ENGINES)]
        kwargs: dict[str, Any] = {
            "DBClusterIdentifier": name,
            "Engine": engine,
            "MasterUsername": "app_admin",
            "MasterUserPassword": _FAKE_PASSWORD,
            "BackupRetentionPeriod": 7,
            "DeletionProtection": False,
            "Tags": _tag_list({"application": _application(name), "env": "prod"}),
        }
        # No storage encryption settings: the Aurora default, an AWS owned key (sse-rds).
        if key[0] not in (KeyClass.UNENCRYPTED, KeyClass.AWS_OWNED):
            kwargs["StorageEncrypted"] = True
            if key_param is not None:
                kwargs["KmsKeyId"] = key_param
        cluster = self.rds.create_db_cluster(**kwargs)["DBCluster"]
        self._cluster_keys[name] = key
        self._add(cluster["DBClusterArn"], DB_CLUSTER, key[0], key[1], name, engine=engine)
        member = self.rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-instance-1",
            DBClusterIdentifier=name,
            Engine=engine,
            DBInstanceClass="db.r6g.large",
        )["DBInstance"]
        self._instance_keys[f"{name}-instance-1"] = key
        self._add(
            member["DBInstanceArn"],
            DB_INSTANCE,
            key[0],
            key[1],
            f"{name}-instance-1",
            engine=engine,
            cluster=name,
        )
        snap = self.rds.create_db_cluster_snapshot(
            DBClusterIdentifier=name, DBClusterSnapshotIdentifier=f"{name}-manual"
        )["DBClusterSnapshot"]
        self._add(
            snap["DBClusterSnapshotArn"],
            DB_CLUSTER_SNAPSHOT,
            key[0],
            key[1],
            f"{name}-manual",
            snapshot_type="manual",
            source=name,
        )

    def _secret(
        self,
        name: str,
        key: tuple[KeyClass, KeyArn | None],
        key_param: str | None,
        _details: dict[str, Any] | None = None,
        _key_uses: tuple[KeyUse, ...] = (),
        **extra: Any,
    ) -> str:
        kwargs: dict[str, Any] = {
            "Name": name,
            "SecretString": _FAKE_SECRET_VALUE,
            "Description": f"cmkguard demo secret {name}",
            "Tags": _tag_list({"application": _application(name)}),
        }
        if key_param is not None:
            kwargs["KmsKeyId"] = key_param
        kwargs.update(extra)
        arn = str(self.sm.create_secret(**kwargs)["ARN"])
        details: dict[str, Any] = dict(_details or {})
        if "AddReplicaRegions" in extra:
            details["replica_regions"] = [r["Region"] for r in extra["AddReplicaRegions"]]
        self._add(arn, SECRET, key[0], key[1], name, key_uses=_key_uses, **details)
        return arn

    # -- the estate ----------------------------------------------------------------------------

    def run(self, peer_kms: Any) -> _Made:
        aws_rds: tuple[KeyClass, KeyArn | None] = (KeyClass.AWS_MANAGED, None)  # resolved later
        unencrypted: tuple[KeyClass, KeyArn | None] = (KeyClass.UNENCRYPTED, None)
        special = {plan.name: self._create_key(plan) for plan in _SPECIAL_KEYS}
        workhorses = [
            self._create_key(_KeyPlan(f"app-{u:03d}-data")) for u in range(max(1, self.scale))
        ]
        peer_key: KeyArn | None = None
        if peer_kms is not None and self.peer is not None:
            peer_key = self._create_key(
                _KeyPlan(
                    f"shared-with-{self.account}",
                    policy="cross-account",
                    problems=frozenset({"cross-account-access"}),
                ),
                kms=peer_kms,
                account=self.peer,
            )

        def cmk(arn: KeyArn) -> tuple[KeyClass, KeyArn | None]:
            return (KeyClass.CUSTOMER_MANAGED, arn)

        for u in range(self.scale):
            wk = workhorses[u % len(workhorses)]
            alias = f"alias/{self.key_plans[wk][0].name}"
            self._instance(f"orders-{u:03d}", cmk(wk), wk)
            self._instance(f"billing-{u:03d}", aws_rds, None)
            self._instance(f"analytics-{u:03d}", unencrypted, None)
            self._instance(f"search-{u:03d}", cmk(wk), alias)
            self._instance(f"identity-{u:03d}", cmk(wk), wk, managed_password=True)
            self._snapshot(f"orders-{u:03d}", f"orders-{u:03d}-manual")
            self._snapshot(f"billing-{u:03d}", f"billing-{u:03d}-manual")

            self._secret(f"orders-{u:03d}/db", cmk(wk), wk)
            self._secret(f"search-{u:03d}/api-key", cmk(wk), alias)
            self._secret(f"billing-{u:03d}/db", (KeyClass.AWS_MANAGED, None), None)
            if peer_key is not None:
                self._secret(f"partner-{u:03d}/feed", (KeyClass.CROSS_ACCOUNT, peer_key), peer_key)
            if self.replica_region is not None:
                # The region in the name is deliberate: a replica's ARN changes only the
                # region field, never the name (the emulator fixes moto's replace-everywhere).
                replicated = f"global-{u:03d}/config-from-{self.region}"
                arn = self._secret(
                    replicated, cmk(wk), wk, AddReplicaRegions=[{"Region": self.replica_region}]
                )
                # The replica: same name and suffix in the replica region, on that region's
                # default key (moto ignores a replica's KmsKeyId, so none is asked for).
                self._add(
                    _moto.replica_arn(arn, self.replica_region),
                    SECRET,
                    KeyClass.AWS_MANAGED,
                    None,
                    replicated,
                    region=self.replica_region,
                    primary_region=self.region,
                    replica_of=arn,
                )
            lambda_key = None if u % 2 == 0 else workhorses[0]
            lambda_arn, lambda_use = self._rotation_lambda(lambda_key)
            rotated = self._secret(
                f"payments-{u:03d}/db",
                cmk(wk),
                wk,
                _details={"rotation_lambda": lambda_arn},
                _key_uses=(lambda_use,),
            )
            self._configure_rotation(rotated, lambda_arn)

        for c in range(max(3, self.scale // 2)):
            wk = workhorses[c % len(workhorses)]
            if c % 3 == 0:
                self._cluster(f"ledger-{c:03d}", cmk(wk), wk)
            elif c % 3 == 1:
                self._cluster(f"catalog-{c:03d}", aws_rds, None)
            else:
                self._cluster(f"events-{c:03d}", (KeyClass.AWS_OWNED, None), None)

        # Keys in trouble that are still in use.
        pending = special["retiring-pending-deletion"]
        disabled = special["suspended-disabled"]
        self._instance("reports-legacy", cmk(pending), pending)
        self._secret("vendor-legacy/api-key", cmk(disabled), disabled)
        # By key id: moto 5.2.5's ScheduleKeyDeletion fails on a key ARN.
        self.kms.schedule_key_deletion(KeyId=pending.rsplit("/", 1)[1], PendingWindowInDays=30)
        self.kms.disable_key(KeyId=disabled.rsplit("/", 1)[1])

        self._record_automated_snapshots()
        for arn, (plan, _) in self.key_plans.items():
            self._record_key(KeyArn(arn), arn.split(":")[4], plan.state)
        return self.made

    def _rotation_lambda(self, key: KeyArn | None) -> tuple[str, KeyUse]:
        """The rotation Lambda whose environment is on `key` (`None`: `aws/lambda`), made
        once per region, and the key use a scan must report for a secret it rotates."""
        name = "rotate-db-secret" if key is None else "rotate-db-secret-cmk"
        if name not in self._lambdas:
            session = self.aws.session(self.region, self.account)
            iam = _client(session, "iam", self.region)
            if self._lambda_role is None:
                # IAM is global: one role per region's seeder (they run concurrently).
                self._lambda_role = iam.create_role(
                    RoleName=f"cmkguard-rotation-{self.region}",
                    AssumeRolePolicyDocument=_LAMBDA_TRUST,
                )["Role"]["Arn"]
            spec: dict[str, Any] = {
                "FunctionName": name,
                "Runtime": "python3.12",
                "Role": self._lambda_role,
                "Handler": "index.handler",
                "Code": {"ZipFile": _rotation_zip()},
                "Description": "cmkguard demo secret rotation (never invoked)",
                "Environment": {
                    "Variables": {
                        "SECRETS_MANAGER_ENDPOINT": f"https://secretsmanager.{self.region}.amazonaws.com"
                    }
                },
            }
            if key is not None:
                spec["KMSKeyArn"] = key
            # Through the API in both modes: the emulator creates aws/lambda on first use.
            arn = _client(session, "lambda", self.region).create_function(**spec)["FunctionArn"]
            if key is None:
                use = KeyUse(
                    "rotation-lambda",
                    Region(self.region),
                    self._aws_key("alias/aws/lambda"),
                    KeyClass.AWS_MANAGED,
                    detail=arn,
                )
            else:
                use = KeyUse(
                    "rotation-lambda",
                    Region(self.region),
                    key,
                    KeyClass.CUSTOMER_MANAGED,
                    detail=arn,
                )
            self._lambdas[name] = (str(arn), use)
        return self._lambdas[name]

    def _configure_rotation(self, secret_arn: str, lambda_arn: str) -> None:
        # Through the backend: moto's RotateSecret would invoke the Lambda (needs Docker).
        backend = _moto.secretsmanager_backend(self.account, self.region)
        secret = backend.secrets[secret_arn]
        secret.rotation_lambda_arn = lambda_arn
        secret.auto_rotate_after_days = 30
        secret.rotation_enabled = True
        secret.rotation_requested = True  # what makes moto report the rotation settings

    def _record_automated_snapshots(self) -> None:
        # The snapshots RDS took by itself: found afterwards, as a scan would find them.
        if isinstance(self.rds, DirectRds):
            instance_snapshots, cluster_snapshots = self.rds.automated_snapshots()
        else:
            instance_snapshots, cluster_snapshots = _automated_snapshots_via_api(self.rds_api)
        for snap in instance_snapshots:
            source = snap["DBInstanceIdentifier"]
            key_class, key_arn = self._instance_keys[source]
            self._add(
                snap["DBSnapshotArn"],
                DB_SNAPSHOT,
                key_class,
                key_arn,
                snap["DBSnapshotIdentifier"],
                snapshot_type="automated",
                source=source,
            )
        for snap in cluster_snapshots:
            source = snap["DBClusterIdentifier"]
            key_class, key_arn = self._cluster_keys[source]
            self._add(
                snap["DBClusterSnapshotArn"],
                DB_CLUSTER_SNAPSHOT,
                key_class,
                key_arn,
                snap["DBClusterSnapshotIdentifier"],
                snapshot_type="automated",
                source=source,
            )


def _automated_snapshots_via_api(rds: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    instance: list[dict[str, Any]] = []
    for page in rds.get_paginator("describe_db_snapshots").paginate(SnapshotType="automated"):
        instance.extend(page["DBSnapshots"])
    cluster: list[dict[str, Any]] = []
    pages = rds.get_paginator("describe_db_cluster_snapshots").paginate(SnapshotType="automated")
    for page in pages:
        cluster.extend(page["DBClusterSnapshots"])
    return instance, cluster


@functools.cache
def _rotation_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", _ROTATION_CODE)
    return buffer.getvalue()


def _client(session: boto3.Session, service: str, region: str) -> Any:
    return session.client(service, region_name=region)  # type: ignore[call-overload]


def _resolve_aws_managed(made: _Made) -> _Made:
    """Fill the key ARN of resources on AWS-managed keys (known once the keys exist)."""
    resolved: list[ExpectedResource] = []
    for res in made.resources:
        if res.key_class is KeyClass.AWS_MANAGED and res.key_arn is None:
            alias = "alias/aws/rds" if res.resource_type != SECRET else "alias/aws/secretsmanager"
            arn = _moto.find_aws_managed_key_arn(res.account, res.region, alias)
            res = attrs.evolve(res, key_arn=KeyArn(arn) if arn else None)
        resolved.append(res)
    return _Made(resolved, made.keys)


def _aws_managed_keys(accounts: Iterable[str], regions: Iterable[str]) -> Iterator[ExpectedKey]:
    for account in accounts:
        for region in regions:
            for alias in _moto.AWS_MANAGED_ALIASES:
                arn = _moto.find_aws_managed_key_arn(account, region, alias)
                if arn is not None:
                    yield ExpectedKey(
                        arn=KeyArn(arn),
                        account=AccountId(account),
                        region=Region(region),
                        manager="AWS",
                        state="Enabled",
                        rotation_enabled=True,
                        rotation_period_days=365,
                        aliases=(alias,),
                        description=_moto.AWS_MANAGED_ALIASES[alias][1],
                    )


@functools.cache
def _known_regions() -> tuple[str, ...]:
    return tuple(boto3.session.Session().get_available_regions("rds"))


def _check_regions(regions: tuple[str, ...]) -> None:
    known = _known_regions()
    for region in regions:
        if region not in known:
            raise UnknownRegionError(region, known)


def seed_estate(
    aws: EmulatedAWS,
    *,
    regions: Iterable[str] = ("us-east-1", "eu-west-1"),
    scale: int = 1,
    seed: int = 0,
    accounts: Iterable[str] | None = None,
    through_api: bool = False,
) -> GroundTruth:
    """Build a realistic, deterministic estate in `aws` and return its ground truth.

    `accounts` (default: the primary account) get the full estate in every region of
    `regions`; the next emulated account (if any) owns the CMK their cross-account secrets use.
    `scale` multiplies the per-region counts (see the module docstring); `seed` drives the
    choices (engines, instance classes, tag values), so equal arguments give an equal estate
    (ARNs and key ids differ from run to run: AWS makes them up).
    Regions are seeded concurrently. Call it on an empty (freshly reset) emulator.

    Resources are written straight into moto's backends (with the emulator's fidelity fixes
    applied as the API would) because that is 20-50 times faster; `through_api=True` writes
    through the AWS API instead (slower, same estate). Reads always use the API.
    """
    regions = tuple(dict.fromkeys(regions))
    if not regions:
        raise ConfigurationError("seed_estate needs at least one region")
    _check_regions(regions)
    if scale < 1:
        raise ConfigurationError(f"scale must be >= 1, not {scale}")
    seeded = tuple(dict.fromkeys(accounts)) if accounts is not None else (aws.primary_account,)
    for account in seeded:
        if account not in aws.accounts:
            raise ConfigurationError(f"account {account!r} is not emulated by {aws!r}")

    def peer_of(account: str) -> str | None:
        others = [a for a in aws.accounts if a != account]
        if not others:
            return None
        return others[(aws.accounts.index(account)) % len(others)]

    jobs: list[_RegionSeeder] = []
    for account in seeded:
        for i, region in enumerate(regions):
            replica = regions[(i + 1) % len(regions)] if len(regions) > 1 else None
            jobs.append(
                _RegionSeeder(
                    aws,
                    account,
                    region,
                    scale=scale,
                    seed=seed,
                    peer=peer_of(account),
                    replica_region=replica,
                    through_api=through_api,
                )
            )

    def run(job: _RegionSeeder) -> _Made:
        peer_kms: Any = None
        if job.peer is not None:
            peer_kms = (
                _client(aws.session(job.region, job.peer), "kms", job.region)
                if through_api
                else DirectKms(job.peer, job.region)
            )
        return job.run(peer_kms)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(run, jobs))

    resources: dict[ResourceArn, ExpectedResource] = {}
    keys: dict[KeyArn, ExpectedKey] = {}
    for made in results:
        made = _resolve_aws_managed(made)
        for res in made.resources:
            resources[res.arn] = res
        for key in made.keys:
            keys[key.arn] = key
    all_accounts = set(seeded) | {a for a in (peer_of(x) for x in seeded) if a}
    for key in _aws_managed_keys(sorted(all_accounts), regions):
        keys[key.arn] = key
    return GroundTruth(
        resources=resources,
        keys=keys,
        accounts=tuple(AccountId(a) for a in seeded),
        regions=tuple(Region(r) for r in regions),
    )
