"""The RDS re-key recipe, written once: snapshot -> (copy) -> restore -> modify -> cutover (pure).

No API changes the key of an existing DB instance or cluster, so both are re-keyed the same way:
snapshot the source, put the snapshot under the target key (an instance snapshot is copied with
`KmsKeyId`; a cluster is restored from its snapshot with `KmsKeyId`), restore a new resource from
it with every setting of the source, apply what restore cannot take, re-create the dependants
(read replicas, cluster members), verify the key, then swap names at cutover. `RdsKind` holds
what differs between an instance and a cluster (operations, field names, probes, wording);
`Rekey` is one source's walk through the recipe; `add_swap` / `add_swap_back` are the cutover and
its rollback for any instance, cluster or member.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from cmkguard.migrate._base import MIGRATION_TAG, Chain, copy_snapshot_request
from cmkguard.migrate.model import StepPhase

__all__ = ["CLUSTER", "INSTANCE", "RdsKind", "Rekey", "add_swap", "add_swap_back"]


@attrs.frozen
class RdsKind:
    """The operations, field names and wording that differ between a DB instance and a cluster."""

    describe: str
    modify: str
    id_field: str
    new_id_field: str
    waiter: str
    renamed_probe: str
    restored_probe: str
    create_snapshot: str
    snapshot_id_field: str
    snapshot_waiter: str
    snapshot_probe: str
    restore: str
    noun: str  # how descriptions name the source: "" (an instance) or "cluster "


INSTANCE = RdsKind(
    describe="DescribeDBInstances",
    modify="ModifyDBInstance",
    id_field="DBInstanceIdentifier",
    new_id_field="NewDBInstanceIdentifier",
    waiter="DBInstanceAvailable",
    renamed_probe="db-instance-renamed",
    restored_probe="db-instance",
    create_snapshot="CreateDBSnapshot",
    snapshot_id_field="DBSnapshotIdentifier",
    snapshot_waiter="DBSnapshotAvailable",
    snapshot_probe="db-snapshot",
    restore="RestoreDBInstanceFromDBSnapshot",
    noun="",
)
CLUSTER = RdsKind(
    describe="DescribeDBClusters",
    modify="ModifyDBCluster",
    id_field="DBClusterIdentifier",
    new_id_field="NewDBClusterIdentifier",
    waiter="DBClusterAvailable",
    renamed_probe="db-cluster-renamed",
    restored_probe="db-cluster",
    create_snapshot="CreateDBClusterSnapshot",
    snapshot_id_field="DBClusterSnapshotIdentifier",
    snapshot_waiter="DBClusterSnapshotAvailable",
    snapshot_probe="db-cluster-snapshot",
    restore="RestoreDBClusterFromSnapshot",
    noun="cluster ",
)


@attrs.frozen
class Rekey:
    """One source's walk through the recipe: its names and the requests built for it.

    `copy_id` is set for an instance (its snapshot is copied under the key before the restore);
    a cluster restores from its own snapshot with `KmsKeyId`. `strict_texts` gives the steps of
    an instance their explicit preconditions and checks (the wording plans have always had).
    """

    kind: RdsKind
    src: str
    snapshot_id: str
    new_id: str
    target_key: str
    check: Mapping[str, Any]
    restore_params: Mapping[str, Any]
    restore_description: str
    modify_params: Mapping[str, Any] | None
    modify_description: str
    copy_id: str | None = None
    copy_description: str = ""

    @property
    def strict_texts(self) -> bool:
        return self.kind is INSTANCE


def add_rekey(c: Chain, r: Rekey) -> None:
    """The prepare, copy and restore phases of the recipe (dependants and cutover follow)."""
    _snapshot(c, r)
    if r.copy_id is not None:
        _copy(c, r, r.copy_id)
    c.check_source(
        "recheck-source",
        StepPhase.RESTORE,
        r.kind.describe,
        r.check,
        description=f"re-read {r.src}'s settings right before restoring",
    )
    restored_from = r.copy_id or r.snapshot_id
    strict = r.strict_texts
    c.call(
        "restore",
        StepPhase.RESTORE,
        r.kind.restore,
        r.restore_params,
        description=r.restore_description,
        precondition=f"{restored_from} is available; no instance named {r.new_id}"
        if strict
        else "",
        verify=f"{r.new_id} exists" if strict else "",
        adopt={"probe": r.kind.restored_probe, "id": r.new_id},
    )
    c.wait(
        "wait-restore",
        StepPhase.RESTORE,
        r.kind.waiter,
        {r.kind.id_field: r.new_id},
        description=f"wait until {r.new_id} is available",
    )
    if r.modify_params is not None:
        c.call(
            "modify",
            StepPhase.RESTORE,
            r.kind.modify,
            r.modify_params,
            description=r.modify_description,
            precondition=f"{r.new_id} is available" if strict else "",
        )
        c.wait(
            "wait-modify",
            StepPhase.RESTORE,
            r.kind.waiter,
            {r.kind.id_field: r.new_id},
            description=f"wait until {r.new_id} is available",
        )


def _snapshot(c: Chain, r: Rekey) -> None:
    strict = r.strict_texts
    c.check_source(
        "check-source",
        StepPhase.PREPARE,
        r.kind.describe,
        r.check,
        description=f"re-read {r.src}'s settings; stop if they changed since planning",
        precondition=f"{r.src} exists" if strict else "",
        verify="every captured setting is unchanged" if strict else "",
    )
    c.call(
        "snapshot",
        StepPhase.PREPARE,
        r.kind.create_snapshot,
        {
            r.kind.id_field: r.src,
            r.kind.snapshot_id_field: r.snapshot_id,
            "Tags": [{"Key": MIGRATION_TAG, "Value": r.src}],
        },
        description=(
            f"snapshot {r.src} (read-only for the source)"
            if strict
            else f"snapshot cluster {r.src}"
        ),
        precondition=f"{r.src} is available" if strict else "",
        verify=f"snapshot {r.snapshot_id} exists" if strict else "",
        adopt={"probe": r.kind.snapshot_probe, "id": r.snapshot_id},
    )
    c.wait(
        "wait-snapshot",
        StepPhase.PREPARE,
        r.kind.snapshot_waiter,
        {r.kind.snapshot_id_field: r.snapshot_id},
        description=f"wait until {r.snapshot_id} is available",
        verify="status available" if strict else "",
    )


def _copy(c: Chain, r: Rekey, copy_id: str) -> None:
    """Copy the instance snapshot under the target key (this also encrypts an unencrypted one)."""
    c.call(
        "copy",
        StepPhase.COPY,
        *copy_snapshot_request(r.snapshot_id, copy_id, r.target_key, cluster=False),
        description=r.copy_description,
        precondition=f"{r.snapshot_id} is available",
        verify=f"{copy_id} exists",
        adopt={"probe": "db-snapshot", "id": copy_id},
    )
    c.wait(
        "wait-copy",
        StepPhase.COPY,
        "DBSnapshotAvailable",
        {"DBSnapshotIdentifier": copy_id},
        description=f"wait until {copy_id} is available",
    )
    c.verify(
        "verify-copy",
        StepPhase.COPY,
        "DescribeDBSnapshots",
        {"DBSnapshotIdentifier": copy_id, "expect": {"KmsKeyId": r.target_key, "Encrypted": True}},
        description=f"{copy_id} is encrypted with the target key",
    )


def add_dependant(
    c: Chain,
    what: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    new_id: str,
    description: str,
    precondition: str = "",
) -> None:
    """Create a dependant DB instance (a read replica, a cluster member) and wait for it."""
    c.call(
        what,
        StepPhase.RESTORE,
        operation,
        params,
        description=description,
        precondition=precondition,
        adopt={"probe": INSTANCE.restored_probe, "id": new_id},
    )
    c.wait(
        f"wait-{what}",
        StepPhase.RESTORE,
        INSTANCE.waiter,
        {INSTANCE.id_field: new_id},
        description=f"wait until {new_id} is available",
    )


def _rename_params(kind: RdsKind, frm: str, to: str) -> dict[str, Any]:
    return {kind.id_field: frm, kind.new_id_field: to, "ApplyImmediately": True}


def _renamed_probe(kind: RdsKind, frm: str, to: str) -> dict[str, str]:
    # On resume, a rename that AWS took before the journal was written is adopted, not resent.
    return {"probe": kind.renamed_probe, "from": frm, "to": to}


def add_rename(
    c: Chain,
    kind: RdsKind,
    what: str,
    frm: str,
    to: str,
    *,
    description: str,
    precondition: str = "",
    verify: str = "",
) -> None:
    """A cutover rename of `frm` to `to`, then the wait until `to` is available."""
    c.call(
        what,
        StepPhase.CUTOVER,
        kind.modify,
        _rename_params(kind, frm, to),
        description=description,
        precondition=precondition,
        verify=verify,
        adopt=_renamed_probe(kind, frm, to),
    )
    c.wait(
        f"wait-{what}",
        StepPhase.CUTOVER,
        kind.waiter,
        {kind.id_field: to},
        description=f"wait until {to} is available",
    )


Describe = Callable[[str, str], str]


def add_swap(
    c: Chain,
    kind: RdsKind,
    names: tuple[str, str, str],
    *,
    suffix: str,
    describe: tuple[Describe, Describe],
    strict: bool = False,
) -> None:
    """Cutover of `(src, old_id, new_id)`: `src` becomes `old_id`, then `new_id` becomes `src`.

    `describe` words each rename from `(frm, to)`; `strict` adds the explicit precondition
    and check that instance renames carry.
    """
    src, old_id, new_id = names
    for what, (frm, to), words in (
        (f"rename-old{suffix}", (src, old_id), describe[0]),
        (f"rename-new{suffix}", (new_id, src), describe[1]),
    ):
        add_rename(
            c,
            kind,
            what,
            frm,
            to,
            description=words(frm, to),
            precondition=f"{frm} is available and {to} does not exist" if strict else "",
            verify=f"{to} exists and {frm} does not" if strict else "",
        )


def add_rollback_rename(c: Chain, kind: RdsKind, frm: str, to: str, *, description: str) -> None:
    """A rollback rename of `frm` to `to`, then the wait until `to` is available."""
    c.rollback_call(
        f"rename-{frm}",
        kind.modify,
        _rename_params(kind, frm, to),
        description=description,
        adopt=_renamed_probe(kind, frm, to),
    )
    c.rollback_wait(
        f"wait-{to}", kind.waiter, {kind.id_field: to}, desc=f"wait until {to} is available"
    )


def add_swap_back(
    c: Chain,
    kind: RdsKind,
    names: tuple[str, str, str],
    *,
    describe: tuple[Describe, Describe],
) -> None:
    """Rollback of `add_swap`: the re-keyed `src` back to `new_id`, `old_id` back to `src`."""
    src, old_id, new_id = names
    add_rollback_rename(c, kind, src, new_id, description=describe[0](src, new_id))
    add_rollback_rename(c, kind, old_id, src, description=describe[1](old_id, src))
