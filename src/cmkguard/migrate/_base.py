"""Shared machinery of the planner: identifiers, step chains, pre-flight recording (pure)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import attrs

from cmkguard.inventory.values import EncryptedResource, Inventory, KmsKey
from cmkguard.migrate.model import MigrationOptions, MigrationStep, PreflightItem
from cmkguard.migrate.preflight import (
    check_key,
    check_service_use,
    resolve_target_key,
)

__all__ = [
    "CLUSTER",
    "INSTANCE",
    "MIGRATION_TAG",
    "Chain",
    "PlannerBase",
    "RdsKind",
    "add_rename",
    "add_rollback_rename",
    "ident",
    "short_hash",
]

MIGRATION_TAG = "cmkguard:migration-source"
"""Tag put on the intermediate snapshots: which source they were taken from."""


_DEFAULT_PRECONDITION = "every step it depends on is complete"
_DEFAULT_VERIFY = {
    "call": "AWS accepted the request; on resume, an existing result is adopted",
    "wait": "botocore waiter {operation} succeeds within the configured polls",
    "verify": "every expected field matches (key identifiers compared as key ARNs)",
    "check-source": "every captured setting is unchanged",
    "reencrypt-secret": "the new version is AWSCURRENT",
}


def ident(text: str, limit: int = 63) -> str:
    """A valid RDS identifier: letters, digits, single hyphens, starting with a letter."""
    cleaned = re.sub(r"[^A-Za-z0-9-]", "-", text)
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "x-" + cleaned
    if len(cleaned) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:6]
        cleaned = cleaned[: limit - 7].rstrip("-") + "-" + digest
    return cleaned.lower()


def short_hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


@attrs.define
class Chain:
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
            precondition=precondition or _DEFAULT_PRECONDITION,
            verify=verify or _DEFAULT_VERIFY[kind].format(operation=operation),
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


class RdsKind(NamedTuple):
    """The operation and field names that differ between an RDS DB instance and a DB cluster."""

    describe: str
    modify: str
    id_field: str
    new_id_field: str
    waiter: str
    renamed_probe: str


INSTANCE = RdsKind(
    "DescribeDBInstances",
    "ModifyDBInstance",
    "DBInstanceIdentifier",
    "NewDBInstanceIdentifier",
    "DBInstanceAvailable",
    "db-instance-renamed",
)
CLUSTER = RdsKind(
    "DescribeDBClusters",
    "ModifyDBCluster",
    "DBClusterIdentifier",
    "NewDBClusterIdentifier",
    "DBClusterAvailable",
    "db-cluster-renamed",
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
    """A cutover rename of ``frm`` to ``to``, then the wait until ``to`` is available."""
    c.add(
        what,
        "call",
        "cutover",
        kind.modify,
        _rename_params(kind, frm, to),
        description=description,
        precondition=precondition,
        verify=verify,
        adopt=_renamed_probe(kind, frm, to),
    )
    c.add(
        f"wait-{what}",
        "wait",
        "cutover",
        kind.waiter,
        {kind.id_field: to},
        description=f"wait until {to} is available",
    )


def add_rollback_rename(c: Chain, kind: RdsKind, frm: str, to: str, *, description: str) -> None:
    """A rollback rename of ``frm`` to ``to``, then the wait until ``to`` is available."""
    c.add_rollback(
        f"rename-{frm}",
        "call",
        kind.modify,
        _rename_params(kind, frm, to),
        description=description,
        adopt=_renamed_probe(kind, frm, to),
    )
    c.add_rollback(
        f"wait-{to}",
        "wait",
        kind.waiter,
        {kind.id_field: to},
        description=f"wait until {to} is available",
    )


class PlannerBase:
    """State shared by the path planners: the inventory, options, items and step chains."""

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
        self.chains: list[Chain] = []
        self.snapshot_jobs: list[tuple[EncryptedResource, str, bool, KmsKey]] = []
        self.key_arns: dict[str, str] = {}
        self._checked_keys: set[tuple[str, str]] = set()
        self._planned: set[str] = set()

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
