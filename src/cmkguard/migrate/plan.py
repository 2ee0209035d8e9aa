"""plan_migration: inventory + resources + target key -> a reviewable MigrationPlan (pure).

No AWS calls and no I/O happen here (tests/test_layering.py keeps it so): everything the plan needs
comes from the inventory and, for RDS, from ``source_settings`` (describe records captured by
:func:`cmkguard.aws.rds_settings.capture_settings`). The plan carries the *exact* requests; the
executor re-reads the source's settings right before it restores and refuses to continue if they
changed since planning, so a plan can never silently restore with stale settings.

Step order is phase-major (all ``prepare`` steps, then ``copy``, ``restore``, ``cutover``,
``cleanup``), so nothing touches a source before every re-keyed copy exists and has been verified.
Existing snapshots are copied in batches of at most five per region (the limit of snapshot copies
in flight per destination region and account).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from cmkguard.arn import parse_arn
from cmkguard.migrate import _settings as st
from cmkguard.migrate.model import (
    GENERATED_PASSWORD,
    PHASES,
    MigrationOptions,
    MigrationPlan,
    MigrationStep,
    PreflightItem,
)
from cmkguard.migrate.preflight import (
    check_key,
    check_principals_decrypt,
    check_service_use,
    details_get,
    resolve_target_key,
)
from cmkguard.models import EncryptedResource, Inventory, KeyClass, KmsKey

__all__ = ["SNAPSHOT_COPY_LIMIT", "plan_migration"]

SNAPSHOT_COPY_LIMIT = 5
"""Snapshot copies in flight per destination region and account (an RDS quota)."""

_MIGRATION_TAG = "cmkguard:migration-source"


def plan_migration(
    inventory: Inventory,
    resources: str | Iterable[str],
    *,
    target_key: str,
    options: MigrationOptions | None = None,
    source_settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> MigrationPlan:
    """Plan moving ``resources`` onto ``target_key``: ordered steps with their exact requests.

    Args:
        inventory: A scan result holding the resources and the target key (with its policy).
        resources: One resource ARN or several (DB instances, Aurora clusters, DB and cluster
            snapshots, secrets).
        target_key: The customer-managed key, as an id, key ARN, alias name or alias ARN.
        options: See :class:`MigrationOptions`.
        source_settings: Resource ARN -> its ``DescribeDBInstances``/``DescribeDBClusters``
            record, for settings the inventory does not hold (capture them with
            :func:`cmkguard.aws.rds_settings.capture_settings`; the CLI does).

    Returns:
        A :class:`MigrationPlan`. Problems are pre-flight items in the plan (``blocking`` ones
        stop :func:`cmkguard.execute`), never exceptions, so the whole picture can be reviewed.
    """
    opts = options if options is not None else MigrationOptions()
    arns = [resources] if isinstance(resources, str) else list(dict.fromkeys(resources))
    planner = _Planner(inventory, target_key, opts, dict(source_settings or {}))
    for arn in arns:
        planner.add(arn)
    return planner.build(tuple(arns))


def _ident(text: str, limit: int = 63) -> str:
    """A valid RDS identifier: letters, digits, single hyphens, starting with a letter."""
    cleaned = re.sub(r"[^A-Za-z0-9-]", "-", text)
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "x-" + cleaned
    if len(cleaned) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:6]
        cleaned = cleaned[: limit - 7].rstrip("-") + "-" + digest
    return cleaned.lower()


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


@attrs.define
class _Chain:
    """Steps of one resource: numbered ids, each depending on the previous one by default."""

    prefix: str
    resource_arn: str
    region: str
    steps: list[MigrationStep] = attrs.field(factory=list)
    rollback: list[MigrationStep] = attrs.field(factory=list)
    _n: int = 0
    _rn: int = 0

    def add(
        self,
        what: str,
        kind: str,
        phase: str,
        operation: str,
        params: Mapping[str, Any],
        *,
        service: str = "rds",
        description: str,
        precondition: str = "",
        verify: str = "",
        destructive: bool = False,
        adopt: Mapping[str, Any] | None = None,
        depends_on: Iterable[str] | None = None,
        region: str | None = None,
    ) -> MigrationStep:
        self._n += 1
        step_id = f"{self.prefix}/{self._n:02d}-{what}"
        deps = (
            tuple(depends_on)
            if depends_on is not None
            else ((self.steps[-1].id,) if self.steps else ())
        )
        step = MigrationStep(
            id=step_id,
            kind=kind,
            phase=phase,
            service=service,
            region=region or self.region,
            operation=operation,
            params=params,
            resource_arn=self.resource_arn,
            description=description,
            precondition=precondition,
            verify=verify,
            depends_on=deps,
            destructive=destructive,
            adopt=adopt or {},
        )
        self.steps.append(step)
        return step

    def add_rollback(
        self,
        what: str,
        kind: str,
        operation: str,
        params: Mapping[str, Any],
        *,
        service: str = "rds",
        description: str,
        adopt: Mapping[str, Any] | None = None,
    ) -> None:
        self._rn += 1
        step = MigrationStep(
            id=f"{self.prefix}/rollback-{self._rn:02d}-{what}",
            kind=kind,
            phase="cutover",
            service=service,
            region=self.region,
            operation=operation,
            params=params,
            resource_arn=self.resource_arn,
            description=description,
            depends_on=(self.rollback[-1].id,) if self.rollback else (),
            adopt=adopt or {},
        )
        self.rollback.append(step)


class _Planner:
    def __init__(
        self,
        inventory: Inventory,
        target_key: str,
        options: MigrationOptions,
        source_settings: dict[str, Mapping[str, Any]],
    ) -> None:
        self.inventory = inventory
        self.target_ref = target_key
        self.options = options
        self.settings = source_settings
        self.items: list[PreflightItem] = []
        self.chains: list[_Chain] = []
        self.snapshot_jobs: list[tuple[EncryptedResource, str, bool, KmsKey]] = []
        self.key_arns: dict[str, str] = {}
        self._checked_keys: set[tuple[str, str]] = set()
        self._planned: set[str] = set()

    # -- entry ---------------------------------------------------------------------------------

    def add(self, arn: str) -> None:
        try:
            parsed = parse_arn(arn)
        except ValueError:
            self._block("resource-arn", arn, f"not an ARN: {arn!r}")
            return
        try:
            resource = self.inventory.resource(arn)
        except KeyError:
            self._block("resource-in-inventory", arn, "resource is not in the inventory")
            return
        service = "secretsmanager" if parsed.service == "secretsmanager" else "rds"
        key = self._target_for(resource, service)
        if key is None:
            return
        if resource.key_arn == key.arn and resource.key_class is KeyClass.CUSTOMER_MANAGED:
            self._warn("already-on-target", arn, "resource is already on the target key: skipped")
            return
        kind = parsed.resource.split(":", 1)[0]
        if parsed.service == "secretsmanager" and kind == "secret":
            self._plan_secret(resource, key)
        elif parsed.service == "rds" and kind == "db":
            self._plan_instance(resource, key)
        elif parsed.service == "rds" and kind == "cluster":
            self._plan_cluster(resource, key)
        elif parsed.service == "rds" and kind == "snapshot":
            self._queue_snapshot(resource, key, cluster=False)
        elif parsed.service == "rds" and kind == "cluster-snapshot":
            self._queue_snapshot(resource, key, cluster=True)
        else:
            self._block("resource-type", arn, f"cmkguard cannot migrate {parsed.service}:{kind}")

    def build(self, arns: tuple[str, ...]) -> MigrationPlan:
        self._build_snapshot_batches()
        steps: list[MigrationStep] = []
        for phase in PHASES:
            for chain in self.chains:
                steps.extend(s for s in chain.steps if s.phase == phase)
        rollback = [s for chain in self.chains for s in chain.rollback]
        return MigrationPlan(
            target_key=self.target_ref,
            resources=arns,
            steps=tuple(steps),
            preflight=tuple(self.items),
            options=self.options,
            target_key_arns=self.key_arns,
            rollback_steps=tuple(rollback),
        )

    # -- pre-flight ----------------------------------------------------------------------------

    def _block(self, check: str, subject: str, message: str) -> None:
        self.items.append(PreflightItem(check, "blocking", subject, message))

    def _warn(self, check: str, subject: str, message: str) -> None:
        self.items.append(PreflightItem(check, "warning", subject, message))

    def _target_for(self, resource: EncryptedResource, service: str) -> KmsKey | None:
        key, why = resolve_target_key(
            self.inventory, self.target_ref, resource.region, resource.account
        )
        if key is None:
            self._block("key-exists", resource.arn, why or "target key not found")
            return None
        self.key_arns.setdefault(resource.region, key.arn)
        if (key.arn, "key") not in self._checked_keys:
            self._checked_keys.add((key.arn, "key"))
            self.items.extend(check_key(key, account=resource.account))
        if (key.arn, service) not in self._checked_keys:
            self._checked_keys.add((key.arn, service))
            self.items.extend(check_service_use(key, account=resource.account, service=service))
        return key

    def _record(self, resource: EncryptedResource) -> Mapping[str, Any] | None:
        """The describe record for an RDS resource: captured settings, else inventory details."""
        if resource.arn in self.settings:
            return self.settings[resource.arn]
        details = resource.details
        if "DBInstanceClass" in details or "DBClusterMembers" in details:
            return details
        return None

    # -- RDS DB instance -----------------------------------------------------------------------

    def _plan_instance(self, resource: EncryptedResource, key: KmsKey) -> None:
        record = self._record(resource)
        if record is None:
            self._block(
                "source-settings",
                resource.arn,
                "the instance's settings were not captured; restore would fall back to "
                "defaults (pass source_settings from cmkguard.aws.rds_settings.capture_settings)",
            )
            return
        if record.get("ReadReplicaSourceDBInstanceIdentifier"):
            self._block(
                "read-replica",
                resource.arn,
                "a read replica cannot be re-keyed: migrate its primary "
                f"({record['ReadReplicaSourceDBInstanceIdentifier']}); replicas are re-created "
                "from the new primary",
            )
            return
        if record.get("DBClusterIdentifier"):
            self._block(
                "cluster-member",
                resource.arn,
                f"an Aurora member: migrate its cluster ({record['DBClusterIdentifier']})",
            )
            return
        if resource.arn in self._planned:
            return
        self._planned.add(resource.arn)
        src = resource.name
        region = resource.region
        opts = self.options
        h = _short_hash(resource.arn, key.arn)
        snap = _ident(f"cmkguard-{src}-{h}", 255)
        copy = _ident(f"cmkguard-{src}-{h}{opts.new_suffix}", 255)
        new_id = _ident(f"{src}{opts.new_suffix}")
        old_id = _ident(f"{src}{opts.old_suffix}")
        c = _Chain(f"{region}/db:{src}", resource.arn, region)
        self.chains.append(c)
        digest = st.settings_digest_fields(record)
        check = {"DBInstanceIdentifier": src, "expected": digest}
        c.add(
            "check-source",
            "check-source",
            "prepare",
            "DescribeDBInstances",
            check,
            description=f"re-read {src}'s settings; stop if they changed since planning",
            precondition=f"{src} exists",
            verify="every captured setting is unchanged",
        )
        c.add(
            "snapshot",
            "call",
            "prepare",
            "CreateDBSnapshot",
            {
                "DBInstanceIdentifier": src,
                "DBSnapshotIdentifier": snap,
                "Tags": [{"Key": _MIGRATION_TAG, "Value": src}],
            },
            description=f"snapshot {src} (read-only for the source)",
            precondition=f"{src} is available",
            verify=f"snapshot {snap} exists",
            adopt={"probe": "db-snapshot", "id": snap},
        )
        c.add(
            "wait-snapshot",
            "wait",
            "prepare",
            "DBSnapshotAvailable",
            {"DBSnapshotIdentifier": snap},
            description=f"wait until {snap} is available",
            verify="status available",
        )
        c.add(
            "copy",
            "call",
            "copy",
            "CopyDBSnapshot",
            {
                "SourceDBSnapshotIdentifier": snap,
                "TargetDBSnapshotIdentifier": copy,
                "KmsKeyId": key.arn,
                "CopyTags": True,
            },
            description=f"copy {snap} under the target key"
            + (" (this encrypts it)" if resource.key_class is KeyClass.UNENCRYPTED else ""),
            precondition=f"{snap} is available",
            verify=f"{copy} exists",
            adopt={"probe": "db-snapshot", "id": copy},
        )
        c.add(
            "wait-copy",
            "wait",
            "copy",
            "DBSnapshotAvailable",
            {"DBSnapshotIdentifier": copy},
            description=f"wait until {copy} is available",
        )
        c.add(
            "verify-copy",
            "verify",
            "copy",
            "DescribeDBSnapshots",
            {"DBSnapshotIdentifier": copy, "expect": {"KmsKeyId": key.arn, "Encrypted": True}},
            description=f"{copy} is encrypted with the target key",
        )
        c.add(
            "recheck-source",
            "check-source",
            "restore",
            "DescribeDBInstances",
            check,
            description=f"re-read {src}'s settings right before restoring",
        )
        restore = st.instance_restore_params(
            record, new_id=new_id, snapshot_id=copy, target_key=key.arn
        )
        c.add(
            "restore",
            "call",
            "restore",
            "RestoreDBInstanceFromDBSnapshot",
            restore,
            description=f"restore {new_id} from {copy} with every setting of {src}",
            precondition=f"{copy} is available; no instance named {new_id}",
            verify=f"{new_id} exists",
            adopt={"probe": "db-instance", "id": new_id},
        )
        c.add(
            "wait-restore",
            "wait",
            "restore",
            "DBInstanceAvailable",
            {"DBInstanceIdentifier": new_id},
            description=f"wait until {new_id} is available",
        )
        c.add(
            "modify",
            "call",
            "restore",
            "ModifyDBInstance",
            st.instance_modify_params(record, new_id=new_id, target_key=key.arn),
            description=f"apply what restore cannot take (monitoring, Performance Insights on "
            f"the target key, max storage, maintenance window) to {new_id}",
            precondition=f"{new_id} is available",
        )
        c.add(
            "wait-modify",
            "wait",
            "restore",
            "DBInstanceAvailable",
            {"DBInstanceIdentifier": new_id},
            description=f"wait until {new_id} is available",
        )
        expect: dict[str, Any] = {"KmsKeyId": key.arn, "StorageEncrypted": True}
        if record.get("PerformanceInsightsEnabled"):
            expect["PerformanceInsightsKMSKeyId"] = key.arn
        c.add(
            "verify-new",
            "verify",
            "restore",
            "DescribeDBInstances",
            {"DBInstanceIdentifier": new_id, "expect": expect},
            description=f"{new_id} reports the target key",
        )
        replicas = self._plan_replicas(c, resource, record, key, new_id)
        if opts.cutover:
            self._rename_instance(c, src, old_id, new_id, key, resource.key_arn)
            for rep_src, rep_new in replicas:
                self._rename_instance(
                    c, rep_src, _ident(f"{rep_src}{opts.old_suffix}"), rep_new, key, None
                )
        elif record.get("MasterUserSecret"):
            self._warn(
                "master-user-secret",
                resource.arn,
                f"{new_id} gets its own RDS-managed master secret on the target key; "
                "applications must read the new secret",
            )

    def _plan_replicas(
        self,
        c: _Chain,
        resource: EncryptedResource,
        record: Mapping[str, Any],
        key: KmsKey,
        new_primary: str,
    ) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for rep in record.get("ReadReplicaDBInstanceIdentifiers") or ():
            if rep.startswith("arn:"):
                self._warn(
                    "cross-region-replica",
                    resource.arn,
                    f"cross-region replica {rep} is not re-created by this plan: re-create it "
                    "from the new primary with that region's key",
                )
                continue
            if not self.options.recreate_read_replicas:
                self._warn(
                    "read-replica",
                    resource.arn,
                    f"read replica {rep} stays attached to the old primary",
                )
                continue
            rep_arn = f"arn:aws:rds:{resource.region}:{resource.account}:db:{rep}"
            rep_record = self.settings.get(rep_arn)
            if rep_record is None:
                try:
                    details = self.inventory.resource(rep_arn).details
                except KeyError:
                    details = {}
                rep_record = details if "DBInstanceClass" in details else None
            if rep_record is None:
                self._warn(
                    "replica-settings",
                    rep_arn,
                    f"replica {rep}'s settings were not captured: it is re-created with "
                    "the primary's class and defaults",
                )
                rep_record = {"DBInstanceClass": record.get("DBInstanceClass")}
            rep_new = _ident(f"{rep}{self.options.new_suffix}")
            c.add(
                f"replica-{rep}",
                "call",
                "restore",
                "CreateDBInstanceReadReplica",
                st.replica_create_params(rep_record, new_id=rep_new, source_id=new_primary),
                description=f"re-create read replica {rep} as {rep_new} from {new_primary}",
                precondition=f"{new_primary} is available",
                adopt={"probe": "db-instance", "id": rep_new},
            )
            c.add(
                f"wait-replica-{rep}",
                "wait",
                "restore",
                "DBInstanceAvailable",
                {"DBInstanceIdentifier": rep_new},
                description=f"wait until {rep_new} is available",
            )
            modify = st.instance_modify_params(rep_record, new_id=rep_new, target_key=key.arn)
            c.add(
                f"modify-replica-{rep}",
                "call",
                "restore",
                "ModifyDBInstance",
                modify,
                description=f"monitoring and Performance Insights for {rep_new}",
            )
            c.add(
                f"wait-replica-modify-{rep}",
                "wait",
                "restore",
                "DBInstanceAvailable",
                {"DBInstanceIdentifier": rep_new},
                description=f"wait until {rep_new} is available",
            )
            c.add(
                f"verify-replica-{rep}",
                "verify",
                "restore",
                "DescribeDBInstances",
                {"DBInstanceIdentifier": rep_new, "expect": {"KmsKeyId": key.arn}},
                description=f"{rep_new} reports the target key",
            )
            out.append((rep, rep_new))
        return out

    def _rename_instance(
        self,
        c: _Chain,
        src: str,
        old_id: str,
        new_id: str,
        key: KmsKey,
        old_key: str | None,
    ) -> None:
        def rename(what: str, frm: str, to: str, description: str) -> None:
            c.add(
                what,
                "call",
                "cutover",
                "ModifyDBInstance",
                {
                    "DBInstanceIdentifier": frm,
                    "NewDBInstanceIdentifier": to,
                    "ApplyImmediately": True,
                },
                description=description,
                precondition=f"{frm} is available and {to} does not exist",
                verify=f"{to} exists and {frm} does not",
                adopt={"probe": "db-instance-renamed", "from": frm, "to": to},
            )
            c.add(
                f"wait-{what}",
                "wait",
                "cutover",
                "DBInstanceAvailable",
                {"DBInstanceIdentifier": to},
                description=f"wait until {to} is available",
            )

        rename(f"rename-old-{src}", src, old_id, f"cutover: rename the source {src} to {old_id}")
        rename(f"rename-new-{src}", new_id, src, f"cutover: rename {new_id} to {src}")
        c.add(
            f"verify-cutover-{src}",
            "verify",
            "cutover",
            "DescribeDBInstances",
            {"DBInstanceIdentifier": src, "expect": {"KmsKeyId": key.arn}},
            description=f"{src} now reports the target key",
        )

        def rb_rename(frm: str, to: str, description: str) -> None:
            c.add_rollback(
                f"rename-{frm}",
                "call",
                "ModifyDBInstance",
                {
                    "DBInstanceIdentifier": frm,
                    "NewDBInstanceIdentifier": to,
                    "ApplyImmediately": True,
                },
                description=description,
                adopt={"probe": "db-instance-renamed", "from": frm, "to": to},
            )
            c.add_rollback(
                f"wait-{to}",
                "wait",
                "DBInstanceAvailable",
                {"DBInstanceIdentifier": to},
                description=f"wait until {to} is available",
            )

        rb_rename(src, new_id, f"rollback: rename the re-keyed {src} back to {new_id}")
        rb_rename(old_id, src, f"rollback: rename the original {old_id} back to {src}")
        expect = {"KmsKeyId": old_key} if old_key else {}
        c.add_rollback(
            f"verify-{src}",
            "verify",
            "DescribeDBInstances",
            {"DBInstanceIdentifier": src, "expect": expect},
            description=f"{src} is the original instance again",
        )

    # -- Aurora cluster ------------------------------------------------------------------------

    def _plan_cluster(self, resource: EncryptedResource, key: KmsKey) -> None:
        record = self._record(resource)
        if record is None:
            self._block(
                "source-settings",
                resource.arn,
                "the cluster's settings were not captured (pass source_settings from "
                "cmkguard.aws.rds_settings.capture_settings)",
            )
            return
        src = resource.name
        region = resource.region
        opts = self.options
        h = _short_hash(resource.arn, key.arn)
        snap = _ident(f"cmkguard-{src}-{h}", 255)
        new_id = _ident(f"{src}{opts.new_suffix}")
        old_id = _ident(f"{src}{opts.old_suffix}")
        members = list(record.get("DBClusterMembers") or ())
        # The writer first, so the new cluster has a writer before any reader joins.
        members.sort(key=lambda m: (not m.get("IsClusterWriter"), m.get("PromotionTier", 1)))
        member_records: list[tuple[str, Mapping[str, Any]]] = []
        for m in members:
            mid = m["DBInstanceIdentifier"]
            marn = f"arn:aws:rds:{region}:{resource.account}:db:{mid}"
            mrec = self.settings.get(marn)
            if mrec is None:
                try:
                    details = self.inventory.resource(marn).details
                except KeyError:
                    details = {}
                mrec = details if "DBInstanceClass" in details else None
            if mrec is None:
                self._block(
                    "source-settings",
                    marn,
                    f"member {mid}'s settings were not captured (instance class, tier, "
                    "monitoring are needed to re-create it)",
                )
                return
            member_records.append((mid, mrec))
        self._planned.add(resource.arn)
        c = _Chain(f"{region}/cluster:{src}", resource.arn, region)
        self.chains.append(c)
        check = {
            "DBClusterIdentifier": src,
            "expected": st.settings_digest_fields(record, cluster=True),
        }
        c.add(
            "check-source",
            "check-source",
            "prepare",
            "DescribeDBClusters",
            check,
            description=f"re-read {src}'s settings; stop if they changed since planning",
        )
        c.add(
            "snapshot",
            "call",
            "prepare",
            "CreateDBClusterSnapshot",
            {
                "DBClusterIdentifier": src,
                "DBClusterSnapshotIdentifier": snap,
                "Tags": [{"Key": _MIGRATION_TAG, "Value": src}],
            },
            description=f"snapshot cluster {src}",
            adopt={"probe": "db-cluster-snapshot", "id": snap},
        )
        c.add(
            "wait-snapshot",
            "wait",
            "prepare",
            "DBClusterSnapshotAvailable",
            {"DBClusterSnapshotIdentifier": snap},
            description=f"wait until {snap} is available",
        )
        c.add(
            "recheck-source",
            "check-source",
            "restore",
            "DescribeDBClusters",
            check,
            description=f"re-read {src}'s settings right before restoring",
        )
        c.add(
            "restore",
            "call",
            "restore",
            "RestoreDBClusterFromSnapshot",
            st.cluster_restore_params(record, new_id=new_id, snapshot_id=snap, target_key=key.arn),
            description=f"restore cluster {new_id} from {snap} with KmsKeyId = the target key"
            + (" (this encrypts it)" if resource.key_class is KeyClass.UNENCRYPTED else ""),
            adopt={"probe": "db-cluster", "id": new_id},
        )
        c.add(
            "wait-restore",
            "wait",
            "restore",
            "DBClusterAvailable",
            {"DBClusterIdentifier": new_id},
            description=f"wait until {new_id} is available",
        )
        modify = st.cluster_modify_params(record, new_id=new_id, target_key=key.arn)
        if modify is not None:
            c.add(
                "modify",
                "call",
                "restore",
                "ModifyDBCluster",
                modify,
                description=f"apply what restore cannot take to {new_id}",
            )
            c.add(
                "wait-modify",
                "wait",
                "restore",
                "DBClusterAvailable",
                {"DBClusterIdentifier": new_id},
                description=f"wait until {new_id} is available",
            )
        renames: list[tuple[str, str, str]] = []
        for mid, mrec in member_records:
            mnew = _ident(f"{mid}{opts.new_suffix}")
            c.add(
                f"member-{mid}",
                "call",
                "restore",
                "CreateDBInstance",
                st.member_create_params(mrec, new_id=mnew, cluster_id=new_id, target_key=key.arn),
                description=f"re-create member {mid} as {mnew} in {new_id}",
                adopt={"probe": "db-instance", "id": mnew},
            )
            c.add(
                f"wait-member-{mid}",
                "wait",
                "restore",
                "DBInstanceAvailable",
                {"DBInstanceIdentifier": mnew},
                description=f"wait until {mnew} is available",
            )
            renames.append((mid, _ident(f"{mid}{opts.old_suffix}"), mnew))
        c.add(
            "verify-new",
            "verify",
            "restore",
            "DescribeDBClusters",
            {
                "DBClusterIdentifier": new_id,
                "expect": {"KmsKeyId": key.arn, "StorageEncrypted": True},
            },
            description=f"{new_id} reports the target key",
        )
        if not opts.cutover:
            return
        for what, frm, to in (("rename-old", src, old_id), ("rename-new", new_id, src)):
            c.add(
                what,
                "call",
                "cutover",
                "ModifyDBCluster",
                {
                    "DBClusterIdentifier": frm,
                    "NewDBClusterIdentifier": to,
                    "ApplyImmediately": True,
                },
                description=f"cutover: rename cluster {frm} to {to}",
                adopt={"probe": "db-cluster-renamed", "from": frm, "to": to},
            )
            c.add(
                f"wait-{what}",
                "wait",
                "cutover",
                "DBClusterAvailable",
                {"DBClusterIdentifier": to},
                description=f"wait until {to} is available",
            )
        for mid, mold, mnew in renames:
            for what, frm, to in (
                (f"rename-old-{mid}", mid, mold),
                (f"rename-new-{mid}", mnew, mid),
            ):
                c.add(
                    what,
                    "call",
                    "cutover",
                    "ModifyDBInstance",
                    {
                        "DBInstanceIdentifier": frm,
                        "NewDBInstanceIdentifier": to,
                        "ApplyImmediately": True,
                    },
                    description=f"cutover: rename member {frm} to {to}",
                    adopt={"probe": "db-instance-renamed", "from": frm, "to": to},
                )
                c.add(
                    f"wait-{what}",
                    "wait",
                    "cutover",
                    "DBInstanceAvailable",
                    {"DBInstanceIdentifier": to},
                    description=f"wait until {to} is available",
                )
        c.add(
            "verify-cutover",
            "verify",
            "cutover",
            "DescribeDBClusters",
            {"DBClusterIdentifier": src, "expect": {"KmsKeyId": key.arn}},
            description=f"cluster {src} now reports the target key",
        )
        for mid, _mold, _mnew in renames:
            # Asked of the instance, not of the cluster's member list: a member reports the
            # cluster it belongs to (and moto empties member lists on rename).
            c.add(
                f"verify-member-{mid}",
                "verify",
                "cutover",
                "DescribeDBInstances",
                {
                    "DBInstanceIdentifier": mid,
                    "expect": {"DBClusterIdentifier": src, "KmsKeyId": key.arn},
                },
                description=f"{mid} is a member of the re-keyed {src}",
            )
        self._warn(
            "cluster-endpoints",
            resource.arn,
            "after cutover the cluster endpoints resolve to the new cluster; "
            "clients reconnect (plan for the downtime of the renames)",
        )
        # Rollback: the renames in reverse.
        pairs = [(src, new_id, "ModifyDBCluster"), (old_id, src, "ModifyDBCluster")]
        for mid, mold, mnew in renames:
            pairs += [(mid, mnew, "ModifyDBInstance"), (mold, mid, "ModifyDBInstance")]
        for frm, to, op in pairs:
            is_cluster = op == "ModifyDBCluster"
            id_key = "DBClusterIdentifier" if is_cluster else "DBInstanceIdentifier"
            new_key = "NewDBClusterIdentifier" if is_cluster else "NewDBInstanceIdentifier"
            c.add_rollback(
                f"rename-{frm}",
                "call",
                op,
                {id_key: frm, new_key: to, "ApplyImmediately": True},
                description=f"rollback: rename {frm} to {to}",
                adopt={
                    "probe": "db-cluster-renamed" if is_cluster else "db-instance-renamed",
                    "from": frm,
                    "to": to,
                },
            )
            c.add_rollback(
                f"wait-{to}",
                "wait",
                "DBClusterAvailable" if is_cluster else "DBInstanceAvailable",
                {id_key: to},
                description=f"wait until {to} is available",
            )

    # -- existing snapshots --------------------------------------------------------------------

    def _queue_snapshot(self, resource: EncryptedResource, key: KmsKey, *, cluster: bool) -> None:
        if cluster and resource.key_class is KeyClass.UNENCRYPTED:
            self._block(
                "unencrypted-cluster-snapshot",
                resource.arn,
                "copying an unencrypted cluster snapshot with a key is an error in RDS: restore "
                "it with KmsKeyId instead (migrate the cluster)",
            )
            return
        source = parse_arn(resource.arn).resource.split(":", 1)[1]
        self.snapshot_jobs.append((resource, source, cluster, key))

    def _build_snapshot_batches(self) -> None:
        by_region: dict[str, list[tuple[EncryptedResource, str, bool, KmsKey]]] = {}
        for job in self.snapshot_jobs:
            by_region.setdefault(job[0].region, []).append(job)
        for region, jobs in by_region.items():
            c = _Chain(f"{region}/snapshots", "", region)
            self.chains.append(c)
            previous_waits: list[str] = []
            for start in range(0, len(jobs), SNAPSHOT_COPY_LIMIT):
                batch = jobs[start : start + SNAPSHOT_COPY_LIMIT]
                batch_no = start // SNAPSHOT_COPY_LIMIT + 1
                waits: list[str] = []
                wait_of: dict[str, str] = {}
                copies: list[tuple[EncryptedResource, str, str, bool, KmsKey, str]] = []
                for resource, source, cluster, key in batch:
                    target = _ident(f"{source.removeprefix('rds:')}{self.options.new_suffix}", 255)
                    op = "CopyDBClusterSnapshot" if cluster else "CopyDBSnapshot"
                    src_field = (
                        "SourceDBClusterSnapshotIdentifier"
                        if cluster
                        else "SourceDBSnapshotIdentifier"
                    )
                    tgt_field = (
                        "TargetDBClusterSnapshotIdentifier"
                        if cluster
                        else "TargetDBSnapshotIdentifier"
                    )
                    step = c.add(
                        f"copy-{target}",
                        "call",
                        "copy",
                        op,
                        {
                            src_field: source,
                            tgt_field: target,
                            "KmsKeyId": key.arn,
                            "CopyTags": True,
                        },
                        description=f"copy snapshot {source} under the target key "
                        f"(batch {batch_no}: at most {SNAPSHOT_COPY_LIMIT} copies in flight)",
                        verify=f"{target} exists",
                        adopt={
                            "probe": "db-cluster-snapshot" if cluster else "db-snapshot",
                            "id": target,
                        },
                        depends_on=previous_waits,
                    )
                    copies.append((resource, source, target, cluster, key, step.id))
                for _res, _source, target, cluster, _key, copy_id in copies:
                    id_field = "DBClusterSnapshotIdentifier" if cluster else "DBSnapshotIdentifier"
                    wait = c.add(
                        f"wait-{target}",
                        "wait",
                        "copy",
                        "DBClusterSnapshotAvailable" if cluster else "DBSnapshotAvailable",
                        {id_field: target},
                        description=f"wait until {target} is available",
                        depends_on=[copy_id],
                    )
                    waits.append(wait.id)
                    wait_of[target] = wait.id
                for resource, source, target, cluster, key, _copy_id in copies:
                    id_field = "DBClusterSnapshotIdentifier" if cluster else "DBSnapshotIdentifier"
                    c.add(
                        f"verify-{target}",
                        "verify",
                        "copy",
                        "DescribeDBClusterSnapshots" if cluster else "DescribeDBSnapshots",
                        {id_field: target, "expect": {"KmsKeyId": key.arn}},
                        description=f"{target} is encrypted with the target key",
                        depends_on=[wait_of[target]],
                    )
                    self._snapshot_cleanup(c, resource, source, target, cluster)
                previous_waits = waits

    def _snapshot_cleanup(
        self, c: _Chain, resource: EncryptedResource, source: str, target: str, cluster: bool
    ) -> None:
        automated = source.startswith("rds:") or resource.details.get("SnapshotType") == "automated"
        if not self.options.delete_source_snapshots:
            return
        if automated:
            self._warn(
                "automated-snapshot",
                resource.arn,
                "automated snapshots cannot be deleted; it expires with the retention period",
            )
            return
        id_field = "DBClusterSnapshotIdentifier" if cluster else "DBSnapshotIdentifier"
        verify_id = c.steps[-1].id
        c.add(
            f"delete-{source}",
            "call",
            "cleanup",
            "DeleteDBClusterSnapshot" if cluster else "DeleteDBSnapshot",
            {id_field: source},
            description=f"DELETE the original snapshot {source} (asked for explicitly)",
            precondition=f"{target} verified on the target key",
            destructive=True,
            adopt={
                "probe": "db-cluster-snapshot-absent" if cluster else "db-snapshot-absent",
                "id": source,
            },
            depends_on=[verify_id],
        )

    # -- secrets -------------------------------------------------------------------------------

    def _plan_secret(self, resource: EncryptedResource, key: KmsKey) -> None:
        details = resource.details
        owner = details_get(details, "OwningService", "owning_service")
        if owner == "rds":
            self._plan_rds_managed_secret(resource, key)
            return
        self._check_secret_consumers(resource, key)
        region = resource.region
        c = _Chain(f"{region}/secret:{resource.name}", resource.arn, region)
        self.chains.append(c)
        c.add(
            "check-source",
            "check-source",
            "prepare",
            "DescribeSecret",
            {"SecretId": resource.arn, "expected": {"KmsKeyId": resource.key_reference}},
            service="secretsmanager",
            description="the secret is still on the key the plan was made from",
        )
        c.add(
            "update-key",
            "call",
            "cutover",
            "UpdateSecret",
            {"SecretId": resource.arn, "KmsKeyId": key.arn},
            service="secretsmanager",
            description="switch the secret to the target key (current versions are re-encrypted "
            "and stay readable with the old key too)",
            precondition="every consumer can kms:Decrypt with the target key",
            verify="DescribeSecret reports the target key",
        )
        if self.options.reencrypt_secret_value:
            token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cmkguard:{resource.arn}:{key.arn}"))
            c.add(
                "new-version",
                "reencrypt-secret",
                "cutover",
                "PutSecretValue",
                {"SecretId": resource.arn, "ClientRequestToken": token},
                service="secretsmanager",
                description="write the current value again as a new version, so it exists under "
                "the target key alone (the value is never logged, printed or stored)",
                verify="the new AWSCURRENT version has the token as its id",
            )
        else:
            self._warn(
                "secret-old-versions",
                resource.arn,
                "after update_secret the current value stays decryptable with the old key until "
                "a new version is written (set reencrypt_secret_value=True or rotate)",
            )
        c.add(
            "verify",
            "verify",
            "cutover",
            "DescribeSecret",
            {"SecretId": resource.arn, "expect": {"KmsKeyId": key.arn}},
            service="secretsmanager",
            description="the secret reports the target key",
        )
        self._plan_secret_replicas(c, resource)
        old = resource.key_arn if resource.key_class is not KeyClass.UNENCRYPTED else None
        c.add_rollback(
            "restore-key",
            "call",
            "UpdateSecret",
            {"SecretId": resource.arn, "KmsKeyId": old or "alias/aws/secretsmanager"},
            service="secretsmanager",
            description="rollback: put the secret back on its previous key",
        )

    def _plan_secret_replicas(self, c: _Chain, resource: EncryptedResource) -> None:
        replicas = [k for k in resource.secondary_keys if k.purpose == "replica"]
        for rep in replicas:
            region = rep.region
            ref = self.options.replica_keys.get(region, self.target_ref)
            key, why = resolve_target_key(self.inventory, ref, region, resource.account)
            if not self.options.rekey_secret_replicas:
                self._warn(
                    "secret-replica",
                    resource.arn,
                    f"the replica in {region} stays on its key ({rep.key_arn or 'aws-managed'}); "
                    "set rekey_secret_replicas=True to re-create it with a CMK",
                )
                continue
            if key is None:
                self._block("replica-key", f"{resource.arn} ({region})", why or "no key")
                continue
            self.items.extend(check_key(key, account=resource.account))
            c.add(
                f"remove-replica-{region}",
                "call",
                "cutover",
                "RemoveRegionsFromReplication",
                {"SecretId": resource.arn, "RemoveReplicaRegions": [region]},
                service="secretsmanager",
                description=f"remove the replica in {region} (it is absent until re-added)",
                destructive=True,
                adopt={"probe": "secret-replica-absent", "secret": resource.arn, "region": region},
            )
            c.add(
                f"add-replica-{region}",
                "call",
                "cutover",
                "ReplicateSecretToRegions",
                {
                    "SecretId": resource.arn,
                    "AddReplicaRegions": [{"Region": region, "KmsKeyId": key.arn}],
                },
                service="secretsmanager",
                description=f"re-create the replica in {region} on {key.arn}",
                adopt={"probe": "secret-replica", "secret": resource.arn, "region": region},
            )

    def _check_secret_consumers(self, resource: EncryptedResource, key: KmsKey) -> None:
        principals: list[tuple[str, str]] = [
            (p, "consumer") for p in self.options.secret_consumers.get(resource.arn, ())
        ]
        role = self.options.rotation_lambda_roles.get(resource.arn) or details_get(
            resource.details, "RotationLambdaRoleArn", "rotation_lambda_role"
        )
        lambda_arn = details_get(resource.details, "RotationLambdaARN", "rotation_lambda_arn")
        if role:
            principals.append((str(role), "rotation-lambda"))
        elif lambda_arn:
            self._block(
                "rotation-lambda-role",
                resource.arn,
                f"rotation Lambda {lambda_arn}'s execution role is unknown: pass it in "
                "MigrationOptions.rotation_lambda_roles so its kms:Decrypt can be checked",
            )
        if not principals:
            self._warn(
                "secret-consumers",
                resource.arn,
                "no consumer principals named: every reader of this secret needs kms:Decrypt on "
                "the target key (pass MigrationOptions.secret_consumers to check them)",
            )
        self.items.extend(check_principals_decrypt(key, principals, secret_arn=resource.arn))

    def _plan_rds_managed_secret(self, resource: EncryptedResource, key: KmsKey) -> None:
        owner = self._secret_owner(resource.arn, resource.region)
        if owner is None:
            self._block(
                "master-secret-owner",
                resource.arn,
                "an RDS-managed master user secret whose DB instance or cluster is not in the "
                "inventory (its key changes only through ModifyDBInstance/ModifyDBCluster)",
            )
            return
        owner_arn, owner_id, is_cluster = owner
        if owner_arn in self._planned:
            self._warn(
                "master-secret-owner",
                resource.arn,
                f"{owner_id} is migrated in this plan: its new instance gets a new master "
                "secret on the target key",
            )
            return
        region = resource.region
        c = _Chain(f"{region}/secret:{resource.name}", resource.arn, region)
        self.chains.append(c)
        op = "ModifyDBCluster" if is_cluster else "ModifyDBInstance"
        id_field = "DBClusterIdentifier" if is_cluster else "DBInstanceIdentifier"
        waiter = "DBClusterAvailable" if is_cluster else "DBInstanceAvailable"
        c.add(
            "check-source",
            "check-source",
            "prepare",
            "DescribeDBClusters" if is_cluster else "DescribeDBInstances",
            {id_field: owner_id, "expected": {"MasterUserSecret.SecretArn": resource.arn}},
            description=f"{owner_id} still manages this secret",
        )
        c.add(
            "managed-off",
            "call",
            "cutover",
            op,
            {
                id_field: owner_id,
                "ManageMasterUserPassword": False,
                "MasterUserPassword": GENERATED_PASSWORD,
                "ApplyImmediately": True,
            },
            description=f"turn RDS management of {owner_id}'s master password off (RDS deletes "
            "the old secret; a random interim password is set)",
            destructive=True,
            adopt={"probe": "master-secret-off", "id": owner_id, "cluster": is_cluster},
        )
        c.add(
            "wait-off",
            "wait",
            "cutover",
            waiter,
            {id_field: owner_id},
            description=f"wait until {owner_id} is available",
        )
        c.add(
            "managed-on",
            "call",
            "cutover",
            op,
            {
                id_field: owner_id,
                "ManageMasterUserPassword": True,
                "MasterUserSecretKmsKeyId": key.arn,
                "ApplyImmediately": True,
            },
            description="turn it on again with the secret on the target key",
            adopt={
                "probe": "master-secret-on",
                "id": owner_id,
                "cluster": is_cluster,
                "key": key.arn,
            },
        )
        c.add(
            "wait-on",
            "wait",
            "cutover",
            waiter,
            {id_field: owner_id},
            description=f"wait until {owner_id} is available",
        )
        c.add(
            "verify",
            "verify",
            "cutover",
            "DescribeDBClusters" if is_cluster else "DescribeDBInstances",
            {id_field: owner_id, "expect": {"MasterUserSecret.KmsKeyId": key.arn}},
            description=f"{owner_id}'s master secret is on the target key",
        )
        self._warn(
            "master-secret-new-arn",
            resource.arn,
            "RDS creates a new master secret (new ARN, new password): applications that read "
            "the old secret ARN must be pointed at the new one",
        )

    def _secret_owner(self, secret_arn: str, region: str) -> tuple[str, str, bool] | None:
        records: list[tuple[str, Mapping[str, Any]]] = list(self.settings.items())
        records += [(r.arn, r.details) for r in self.inventory.resources]
        for arn, record in records:
            secret = record.get("MasterUserSecret") or {}
            matches = secret.get("SecretArn") == secret_arn
            if not matches:
                res = next((r for r in self.inventory.resources if r.arn == arn), None)
                matches = res is not None and any(
                    k.purpose == "master-user-secret" and k.detail == secret_arn
                    for k in res.secondary_keys
                )
            if matches:
                parsed = parse_arn(arn)
                kind, name = parsed.resource.split(":", 1)
                if parsed.region == region and kind in ("db", "cluster"):
                    return arn, name, kind == "cluster"
        return None
