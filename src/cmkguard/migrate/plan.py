"""plan_migration: inventory + resources + target key -> a reviewable MigrationPlan (pure).

No AWS calls and no I/O happen here (tests/test_layering.py keeps it so): everything the plan needs
comes from the inventory (each resource's describe record, kept by the scan) or, fresher, from
`source_settings` (`cmkguard.capture_settings`). The plan carries the *exact* requests; the
executor re-reads the source's settings right before it restores and refuses to continue if they
changed since planning, so a plan can never silently restore with stale settings.

Step order is phase-major (all `prepare` steps, then `copy`, `restore`, `cutover`,
`cleanup`), so nothing touches a source before every re-keyed copy exists and has been verified.
Existing snapshots are copied in batches of at most five per region (the limit of snapshot copies
in flight per destination region and account).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cmkguard.arn import parse_arn
from cmkguard.inventory.values import Inventory, KeyClass
from cmkguard.migrate._rds_paths import RdsPaths
from cmkguard.migrate._resolve import resolve_reference
from cmkguard.migrate._secret_paths import SecretPaths
from cmkguard.migrate._snapshot_paths import SNAPSHOT_COPY_LIMIT, SnapshotPaths
from cmkguard.migrate.model import PHASES, MigrationOptions, MigrationPlan, MigrationStep

__all__ = ["SNAPSHOT_COPY_LIMIT", "plan_migration"]


def plan_migration(
    inventory: Inventory,
    resources: str | Iterable[str],
    *,
    target_key: str,
    options: MigrationOptions | None = None,
    source_settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> MigrationPlan:
    """Plan moving `resources` onto `target_key`: ordered steps with their exact requests.

    Args:
        inventory: A scan result holding the resources and the target key (with its policy).
        resources: One resource ARN or several (DB instances, Aurora clusters, DB and cluster
            snapshots, secrets). A secret may also be named by its partial ARN (without the
            random suffix) or its name, as Secrets Manager accepts them: the plan names the
            full ARN; a reference matching several secrets blocks the plan with the candidates.
        target_key: The customer-managed key, as an id, key ARN, alias name or alias ARN.
        options: See `MigrationOptions`.
        source_settings: Resource ARN -> its `DescribeDBInstances` / `DescribeDBClusters`
            record, fresher than the one the scan kept (`EncryptedResource.record`); optional:
            `cmkguard.capture_settings(session, arns)` reads them (`cmkguard migrate plan`
            does, unless `--no-capture`). Needed only for inventories without records.

    Returns:
        A `MigrationPlan`. Problems are pre-flight items in the plan (`blocking` ones stop
        `cmkguard.execute`), never exceptions, so the whole picture can be reviewed.
    """
    opts = options if options is not None else MigrationOptions()
    references = [resources] if isinstance(resources, str) else list(resources)
    planner = _Planner(inventory, target_key, opts, dict(source_settings or {}))
    arns: list[str] = []
    for reference in dict.fromkeys(references):
        arn, check, why = resolve_reference(inventory, reference)
        if arn in arns:
            continue  # a name and the ARN it resolves to: planned once
        arns.append(arn)
        if check is None:
            planner.add(arn)
        else:
            planner.refuse(check, arn, why)
    return planner.build(tuple(arns))


class _Planner(RdsPaths, SnapshotPaths, SecretPaths):
    """Dispatches each resource to its path and assembles the plan phase by phase."""

    # -- entry ---------------------------------------------------------------------------------

    def refuse(self, check: str, reference: str, why: str) -> None:
        """A reference that names no inventory resource (or several secrets)."""
        self._block(check, reference, why)

    def add(self, arn: str) -> None:
        parsed = parse_arn(arn)
        resource = self.inventory.resource(arn)
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
