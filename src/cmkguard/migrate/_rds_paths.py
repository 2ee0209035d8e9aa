"""RDS DB instance and Aurora cluster paths: snapshot, copy/restore with the key, cutover (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmkguard.inventory.values import EncryptedResource, KeyClass, KmsKey
from cmkguard.migrate import _settings as st
from cmkguard.migrate._base import Chain, PlannerBase, ident, short_hash
from cmkguard.migrate._rds_recipe import (
    CLUSTER,
    INSTANCE,
    Rekey,
    add_dependant,
    add_rekey,
    add_swap,
    add_swap_back,
)
from cmkguard.migrate.model import StepPhase

__all__ = ["RdsPaths"]

_NO_RECORD = (
    ": a restore would fall back to defaults. Scan again (a scan keeps every record; older "
    "inventory files and hand-built ones do not), or pass "
    "source_settings=cmkguard.capture_settings(session, arns)"
)


class RdsPaths(PlannerBase):
    """Plans DB instances (with read replicas) and Aurora clusters (with members)."""

    # -- RDS DB instance -----------------------------------------------------------------------

    def _plan_instance(self, resource: EncryptedResource, key: KmsKey) -> None:
        record = self._record(resource)
        if record is None:
            self._block(
                "source-settings",
                resource.arn,
                f"the inventory holds no describe record of the instance{_NO_RECORD}",
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
        encrypts = " (this encrypts it)" if resource.key_class is KeyClass.UNENCRYPTED else ""
        rekey = Rekey(
            kind=INSTANCE,
            src=src,
            snapshot_id=snap,
            new_id=new_id,
            target_key=key.arn,
            check={"DBInstanceIdentifier": src, "expected": st.settings_digest_fields(record)},
            copy_id=copy,
            copy_description=f"copy {snap} under the target key{encrypts}",
            restore_params=st.instance_restore_params(
                record, new_id=new_id, snapshot_id=copy, target_key=key.arn
            ),
            restore_description=f"restore {new_id} from {copy} with every setting of {src}",
            modify_params=st.instance_modify_params(record, new_id=new_id, target_key=key.arn),
            modify_description="apply what restore cannot take (monitoring, Performance "
            f"Insights on the target key, max storage, maintenance window) to {new_id}",
        )
        add_rekey(c, rekey)
        expect: dict[str, Any] = {"KmsKeyId": key.arn, "StorageEncrypted": True}
        if record.get("PerformanceInsightsEnabled"):
            expect["PerformanceInsightsKMSKeyId"] = key.arn
        c.verify(
            "verify-new",
            StepPhase.RESTORE,
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
            resource = self.inventory.resource(arn)
        except KeyError:
            return None
        return self._record(resource)

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
                    f"the inventory holds no describe record of replica {rep}: it is "
                    "re-created with the primary's class and defaults",
                )
                rep_record = {"DBInstanceClass": record.get("DBInstanceClass")}
            rep_new = ident(f"{rep}{self.options.new_suffix}")
            add_dependant(
                c,
                f"replica-{rep}",
                "CreateDBInstanceReadReplica",
                st.replica_create_params(rep_record, new_id=rep_new, source_id=new_primary),
                new_id=rep_new,
                description=f"re-create read replica {rep} as {rep_new} from {new_primary}",
                precondition=f"{new_primary} is available",
            )
            modify = st.instance_modify_params(rep_record, new_id=rep_new, target_key=key.arn)
            c.call(
                f"modify-replica-{rep}",
                StepPhase.RESTORE,
                "ModifyDBInstance",
                modify,
                description=f"monitoring and Performance Insights for {rep_new}",
            )
            c.wait(
                f"wait-replica-modify-{rep}",
                StepPhase.RESTORE,
                "DBInstanceAvailable",
                {"DBInstanceIdentifier": rep_new},
                description=f"wait until {rep_new} is available",
            )
            c.verify(
                f"verify-replica-{rep}",
                StepPhase.RESTORE,
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
        names = (src, old_id, new_id)
        add_swap(
            c,
            INSTANCE,
            names,
            suffix=f"-{src}",
            describe=(
                lambda frm, to: f"cutover: rename the source {frm} to {to}",
                lambda frm, to: f"cutover: rename {frm} to {to}",
            ),
            strict=True,
        )
        expect: dict[str, Any] = {"KmsKeyId": key.arn}
        if primary:
            # A replica follows its primary's renames: it must now read from the re-keyed one.
            expect["ReadReplicaSourceDBInstanceIdentifier"] = primary
        c.verify(
            f"verify-cutover-{src}",
            StepPhase.CUTOVER,
            "DescribeDBInstances",
            {"DBInstanceIdentifier": src, "expect": expect},
            description=f"{src} now reports the target key"
            + (f" and replicates from {primary}" if primary else ""),
        )
        add_swap_back(
            c,
            INSTANCE,
            names,
            describe=(
                lambda frm, to: f"rollback: rename the re-keyed {frm} back to {to}",
                lambda frm, to: f"rollback: rename the original {frm} back to {to}",
            ),
        )
        c.rollback_verify(
            f"verify-{src}",
            "DescribeDBInstances",
            {"DBInstanceIdentifier": src, "expect": {"KmsKeyId": old_key} if old_key else {}},
            description=f"{src} is the original instance again",
        )

    # -- Aurora cluster ------------------------------------------------------------------------

    def _plan_cluster(self, resource: EncryptedResource, key: KmsKey) -> None:
        record = self._record(resource)
        if record is None:
            self._block(
                "source-settings",
                resource.arn,
                f"the inventory holds no describe record of the cluster{_NO_RECORD}",
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
                    f"the inventory holds no describe record of member {mid} (its class, "
                    f"tier and monitoring are needed to re-create it){_NO_RECORD}",
                )
                return
            member_records.append((mid, mrec))
        self._planned.add(resource.arn)
        c = Chain(f"{region}/cluster:{src}", resource.arn, region)
        self.chains.append(c)
        encrypts = " (this encrypts it)" if resource.key_class is KeyClass.UNENCRYPTED else ""
        rekey = Rekey(
            kind=CLUSTER,
            src=src,
            snapshot_id=snap,
            new_id=new_id,
            target_key=key.arn,
            check={
                "DBClusterIdentifier": src,
                "expected": st.settings_digest_fields(record, cluster=True),
            },
            restore_params=st.cluster_restore_params(
                record, new_id=new_id, snapshot_id=snap, target_key=key.arn
            ),
            restore_description=f"restore cluster {new_id} from {snap} with KmsKeyId = the "
            f"target key{encrypts}",
            modify_params=st.cluster_modify_params(record, new_id=new_id, target_key=key.arn),
            modify_description=f"apply what restore cannot take to {new_id}",
        )
        add_rekey(c, rekey)
        renames: list[tuple[str, str, str]] = []
        for mid, mrec in member_records:
            mnew = ident(f"{mid}{opts.new_suffix}")
            add_dependant(
                c,
                f"member-{mid}",
                "CreateDBInstance",
                st.member_create_params(mrec, new_id=mnew, cluster_id=new_id, target_key=key.arn),
                new_id=mnew,
                description=f"re-create member {mid} as {mnew} in {new_id}",
            )
            renames.append((mid, ident(f"{mid}{opts.old_suffix}"), mnew))
        c.verify(
            "verify-new",
            StepPhase.RESTORE,
            "DescribeDBClusters",
            {
                "DBClusterIdentifier": new_id,
                "expect": {"KmsKeyId": key.arn, "StorageEncrypted": True},
            },
            description=f"{new_id} reports the target key",
        )
        if opts.cutover:
            self._cut_over_cluster(c, resource.arn, (src, old_id, new_id), renames, key)

    def _cut_over_cluster(
        self,
        c: Chain,
        arn: str,
        names: tuple[str, str, str],
        members: list[tuple[str, str, str]],
        key: KmsKey,
    ) -> None:
        """Swap the cluster's names, then each member's; verify; the rollback swaps back."""
        src = names[0]
        cluster_words = (lambda frm, to: f"cutover: rename cluster {frm} to {to}",) * 2
        add_swap(c, CLUSTER, names, suffix="", describe=cluster_words)
        member_words = (lambda frm, to: f"cutover: rename member {frm} to {to}",) * 2
        for member in members:
            add_swap(c, INSTANCE, member, suffix=f"-{member[0]}", describe=member_words)
        c.verify(
            "verify-cutover",
            StepPhase.CUTOVER,
            "DescribeDBClusters",
            {"DBClusterIdentifier": src, "expect": {"KmsKeyId": key.arn}},
            description=f"cluster {src} now reports the target key",
        )
        for mid, _mold, _mnew in members:
            # Asked of the instance, not of the cluster's member list: a member reports the
            # cluster it belongs to (and moto empties member lists on rename).
            c.verify(
                f"verify-member-{mid}",
                StepPhase.CUTOVER,
                "DescribeDBInstances",
                {
                    "DBInstanceIdentifier": mid,
                    "expect": {"DBClusterIdentifier": src, "KmsKeyId": key.arn},
                },
                description=f"{mid} is a member of the re-keyed {src}",
            )
        self._warn(
            "cluster-endpoints",
            arn,
            "after cutover the cluster endpoints resolve to the new cluster; "
            "clients reconnect (plan for the downtime of the renames)",
        )
        back = (lambda frm, to: f"rollback: rename {frm} to {to}",) * 2
        add_swap_back(c, CLUSTER, names, describe=back)
        for member in members:
            add_swap_back(c, INSTANCE, member, describe=back)
