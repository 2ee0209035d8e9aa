"""RDS DB instance and Aurora cluster paths: snapshot, copy/restore with the key, cutover (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmkguard.inventory.values import EncryptedResource, KeyClass, KmsKey
from cmkguard.migrate import _settings as st
from cmkguard.migrate._base import (
    CLUSTER,
    INSTANCE,
    MIGRATION_TAG,
    Chain,
    PlannerBase,
    add_rename,
    add_rollback_rename,
    ident,
    short_hash,
)

__all__ = ["RdsPaths"]


class RdsPaths(PlannerBase):
    """Plans DB instances (with read replicas) and Aurora clusters (with members)."""

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
        h = short_hash(resource.arn, key.arn)
        snap = ident(f"cmkguard-{src}-{h}", 255)
        copy = ident(f"cmkguard-{src}-{h}{opts.new_suffix}", 255)
        new_id = ident(f"{src}{opts.new_suffix}")
        old_id = ident(f"{src}{opts.old_suffix}")
        c = Chain(f"{region}/db:{src}", resource.arn, region)
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
                "Tags": [{"Key": MIGRATION_TAG, "Value": src}],
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
                    c, rep_src, ident(f"{rep_src}{opts.old_suffix}"), rep_new, key, None, src
                )
        elif record.get("MasterUserSecret"):
            self._warn(
                "master-user-secret",
                resource.arn,
                f"{new_id} gets its own RDS-managed master secret on the target key; "
                "applications must read the new secret",
            )

    def _instance_record(self, arn: str) -> Mapping[str, Any] | None:
        """A DB instance's captured settings, else its scanned details if they hold them."""
        record = self.settings.get(arn)
        if record is not None:
            return record
        try:
            details = self.inventory.resource(arn).details
        except KeyError:
            return None
        # Scanned details carry the describe record only when the scan kept it whole.
        return details if "DBInstanceClass" in details else None

    def _plan_replicas(
        self,
        c: Chain,
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
            rep_record = self._instance_record(rep_arn)
            if rep_record is None:
                self._warn(
                    "replica-settings",
                    rep_arn,
                    f"replica {rep}'s settings were not captured: it is re-created with "
                    "the primary's class and defaults",
                )
                rep_record = {"DBInstanceClass": record.get("DBInstanceClass")}
            rep_new = ident(f"{rep}{self.options.new_suffix}")
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
        c: Chain,
        src: str,
        old_id: str,
        new_id: str,
        key: KmsKey,
        old_key: str | None,
        primary: str | None = None,
    ) -> None:
        for what, frm, to, description in (
            (f"rename-old-{src}", src, old_id, f"cutover: rename the source {src} to {old_id}"),
            (f"rename-new-{src}", new_id, src, f"cutover: rename {new_id} to {src}"),
        ):
            add_rename(
                c,
                INSTANCE,
                what,
                frm,
                to,
                description=description,
                precondition=f"{frm} is available and {to} does not exist",
                verify=f"{to} exists and {frm} does not",
            )
        expect: dict[str, Any] = {"KmsKeyId": key.arn}
        if primary:
            # A replica follows its primary's renames: it must now read from the re-keyed one.
            expect["ReadReplicaSourceDBInstanceIdentifier"] = primary
        c.add(
            f"verify-cutover-{src}",
            "verify",
            "cutover",
            "DescribeDBInstances",
            {"DBInstanceIdentifier": src, "expect": expect},
            description=f"{src} now reports the target key"
            + (f" and replicates from {primary}" if primary else ""),
        )

        add_rollback_rename(
            c,
            INSTANCE,
            src,
            new_id,
            description=f"rollback: rename the re-keyed {src} back to {new_id}",
        )
        add_rollback_rename(
            c,
            INSTANCE,
            old_id,
            src,
            description=f"rollback: rename the original {old_id} back to {src}",
        )
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
        h = short_hash(resource.arn, key.arn)
        snap = ident(f"cmkguard-{src}-{h}", 255)
        new_id = ident(f"{src}{opts.new_suffix}")
        old_id = ident(f"{src}{opts.old_suffix}")
        members = list(record.get("DBClusterMembers") or ())
        # The writer first, so the new cluster has a writer before any reader joins.
        members.sort(key=lambda m: (not m.get("IsClusterWriter"), m.get("PromotionTier", 1)))
        member_records: list[tuple[str, Mapping[str, Any]]] = []
        for m in members:
            mid = m["DBInstanceIdentifier"]
            marn = f"arn:aws:rds:{region}:{resource.account}:db:{mid}"
            mrec = self._instance_record(marn)
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
        c = Chain(f"{region}/cluster:{src}", resource.arn, region)
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
                "Tags": [{"Key": MIGRATION_TAG, "Value": src}],
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
            mnew = ident(f"{mid}{opts.new_suffix}")
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
            renames.append((mid, ident(f"{mid}{opts.old_suffix}"), mnew))
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
            add_rename(
                c, CLUSTER, what, frm, to, description=f"cutover: rename cluster {frm} to {to}"
            )
        for mid, mold, mnew in renames:
            for what, frm, to in (
                (f"rename-old-{mid}", mid, mold),
                (f"rename-new-{mid}", mnew, mid),
            ):
                add_rename(
                    c, INSTANCE, what, frm, to, description=f"cutover: rename member {frm} to {to}"
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
        pairs = [(CLUSTER, src, new_id), (CLUSTER, old_id, src)]
        for mid, mold, mnew in renames:
            pairs += [(INSTANCE, mid, mnew), (INSTANCE, mold, mid)]
        for kind, frm, to in pairs:
            add_rollback_rename(c, kind, frm, to, description=f"rollback: rename {frm} to {to}")
