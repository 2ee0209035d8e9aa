"""Existing DB and cluster snapshots: copies with the key, batched per region (pure)."""

from __future__ import annotations

from cmkguard.arn import parse_arn
from cmkguard.inventory.values import EncryptedResource, KeyClass, KmsKey
from cmkguard.migrate._base import Chain, PlannerBase, copy_snapshot_request, ident
from cmkguard.migrate.model import StepPhase

SNAPSHOT_COPY_LIMIT = 5
"""Snapshot copies in flight per destination region and account (an RDS quota)."""

__all__ = ["SNAPSHOT_COPY_LIMIT", "SnapshotPaths"]


class SnapshotPaths(PlannerBase):
    """Plans snapshot copies, at most SNAPSHOT_COPY_LIMIT in flight per region."""

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
            c = Chain(f"{region}/snapshots", "", region)
            self.chains.append(c)
            previous_waits: list[str] = []
            for start in range(0, len(jobs), SNAPSHOT_COPY_LIMIT):
                batch = jobs[start : start + SNAPSHOT_COPY_LIMIT]
                batch_no = start // SNAPSHOT_COPY_LIMIT + 1
                waits: list[str] = []
                wait_of: dict[str, str] = {}
                copies: list[tuple[EncryptedResource, str, str, bool, KmsKey, str]] = []
                for resource, source, cluster, key in batch:
                    target = ident(f"{source.removeprefix('rds:')}{self.options.new_suffix}", 255)
                    op, params = copy_snapshot_request(source, target, key.arn, cluster=cluster)
                    step = c.call(
                        f"copy-{target}",
                        StepPhase.COPY,
                        op,
                        params,
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
                    wait = c.wait(
                        f"wait-{target}",
                        StepPhase.COPY,
                        "DBClusterSnapshotAvailable" if cluster else "DBSnapshotAvailable",
                        {id_field: target},
                        description=f"wait until {target} is available",
                        depends_on=[copy_id],
                    )
                    waits.append(wait.id)
                    wait_of[target] = wait.id
                for resource, source, target, cluster, key, _copy_id in copies:
                    id_field = "DBClusterSnapshotIdentifier" if cluster else "DBSnapshotIdentifier"
                    c.verify(
                        f"verify-{target}",
                        StepPhase.COPY,
                        "DescribeDBClusterSnapshots" if cluster else "DescribeDBSnapshots",
                        {id_field: target, "expect": {"KmsKeyId": key.arn}},
                        description=f"{target} is encrypted with the target key",
                        depends_on=[wait_of[target]],
                    )
                    self._snapshot_cleanup(c, resource, source, target, cluster)
                previous_waits = waits

    def _snapshot_cleanup(
        self, c: Chain, resource: EncryptedResource, source: str, target: str, cluster: bool
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
        c.call(
            f"delete-{source}",
            StepPhase.CLEANUP,
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
