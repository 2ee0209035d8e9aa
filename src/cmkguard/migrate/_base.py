"""Shared machinery of the planner: identifiers, step chains, pre-flight recording (pure)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from cmkguard.inventory.values import EncryptedResource, Inventory, KmsKey
from cmkguard.migrate.model import (
    MigrationOptions,
    MigrationStep,
    PreflightItem,
    PreflightLevel,
    StepKind,
    StepPhase,
)
from cmkguard.migrate.preflight import (
    check_key,
    check_service_use,
    resolve_target_key,
)

__all__ = [
    "MIGRATION_TAG",
    "Chain",
    "PlannerBase",
    "copy_snapshot_request",
    "ident",
    "short_hash",
]

MIGRATION_TAG = "cmkguard:migration-source"
"""Tag put on the intermediate snapshots: which source they were taken from."""


_DEFAULT_PRECONDITION = "every step it depends on is complete"
_DEFAULT_VERIFY = {
    StepKind.CALL: "AWS accepted the request; on resume, an existing result is adopted",
    StepKind.WAIT: "botocore waiter {operation} succeeds within the configured polls",
    StepKind.VERIFY: "every expected field matches (key identifiers compared as key ARNs)",
    StepKind.CHECK_SOURCE: "every captured setting is unchanged",
    StepKind.REENCRYPT_SECRET: "the new version is AWSCURRENT",
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


def copy_snapshot_request(
    source: str, target: str, key: str, *, cluster: bool, copy_tags: bool = True
) -> tuple[str, dict[str, Any]]:
    """The operation and parameters copying a DB or cluster snapshot onto `key`.

    The one place that knows the two APIs' names (`CopyDBSnapshot` with
    `SourceDBSnapshotIdentifier` / `TargetDBSnapshotIdentifier`, `CopyDBClusterSnapshot` with
    the `DBClusterSnapshot` names), for the migration recipes and the sharing plans alike.
    `source` is an identifier or, for a snapshot shared from another account, its ARN.
    """
    snap = "DBClusterSnapshot" if cluster else "DBSnapshot"
    params: dict[str, Any] = {
        f"Source{snap}Identifier": source,
        f"Target{snap}Identifier": target,
        "KmsKeyId": key,
    }
    if copy_tags:
        params["CopyTags"] = True
    return f"Copy{snap}", params


def short_hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


@attrs.define
class Chain:
    """Steps of one resource: numbered ids, each depending on the previous one by default.

    One method per step kind (`call`, `wait`, `verify`, `check_source`, `reencrypt`), so a
    recipe reads as what it does; `rollback_call` / `rollback_wait` / `rollback_verify` build the
    steps that reverse the cutover.
    """

    prefix: str
    resource_arn: str
    region: str
    steps: list[MigrationStep] = attrs.field(factory=list)
    rollback: list[MigrationStep] = attrs.field(factory=list)
    _n: int = 0
    _rn: int = 0

    def call(
        self,
        what: str,
        phase: StepPhase,
        operation: str,
        params: Mapping[str, Any],
        *,
        description: str,
        service: str = "rds",
        precondition: str = "",
        verify: str = "",
        destructive: bool = False,
        adopt: Mapping[str, Any] | None = None,
        depends_on: Iterable[str] | None = None,
    ) -> MigrationStep:
        """One AWS request; `adopt` says how a resume recognises that it already happened."""
        return self._add(
            what,
            StepKind.CALL,
            phase,
            operation,
            params,
            service=service,
            description=description,
            precondition=precondition,
            verify=verify,
            destructive=destructive,
            adopt=adopt,
            depends_on=depends_on,
        )

    def wait(
        self,
        what: str,
        phase: StepPhase,
        waiter: str,
        params: Mapping[str, Any],
        *,
        description: str,
        verify: str = "",
        depends_on: Iterable[str] | None = None,
    ) -> MigrationStep:
        """A botocore waiter (RDS)."""
        return self._add(
            what,
            StepKind.WAIT,
            phase,
            waiter,
            params,
            description=description,
            verify=verify,
            depends_on=depends_on,
        )

    def verify(
        self,
        what: str,
        phase: StepPhase,
        operation: str,
        params: Mapping[str, Any],
        *,
        description: str,
        service: str = "rds",
        depends_on: Iterable[str] | None = None,
    ) -> MigrationStep:
        """A describe whose record must hold `params["expect"]`."""
        return self._add(
            what,
            StepKind.VERIFY,
            phase,
            operation,
            params,
            service=service,
            description=description,
            depends_on=depends_on,
        )

    def check_source(
        self,
        what: str,
        phase: StepPhase,
        operation: str,
        params: Mapping[str, Any],
        *,
        description: str,
        service: str = "rds",
        precondition: str = "",
        verify: str = "",
    ) -> MigrationStep:
        """A describe of the source compared with `params["expected"]` (stops if it changed)."""
        return self._add(
            what,
            StepKind.CHECK_SOURCE,
            phase,
            operation,
            params,
            service=service,
            description=description,
            precondition=precondition,
            verify=verify,
        )

    def reencrypt(
        self, what: str, params: Mapping[str, Any], *, description: str, verify: str
    ) -> MigrationStep:
        """Write a secret's current value again as a new version (cutover)."""
        return self._add(
            what,
            StepKind.REENCRYPT_SECRET,
            StepPhase.CUTOVER,
            "PutSecretValue",
            params,
            service="secretsmanager",
            description=description,
            verify=verify,
        )

    def _add(
        self,
        what: str,
        kind: StepKind,
        phase: StepPhase,
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
            region=self.region,
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

    def rollback_call(
        self,
        what: str,
        operation: str,
        params: Mapping[str, Any],
        *,
        description: str,
        service: str = "rds",
        adopt: Mapping[str, Any] | None = None,
    ) -> None:
        """A request of the rollback plan."""
        self._add_rollback(what, StepKind.CALL, operation, params, service, description, adopt)

    def rollback_wait(
        self, what: str, waiter: str, params: Mapping[str, Any], *, desc: str
    ) -> None:
        """A waiter of the rollback plan."""
        self._add_rollback(what, StepKind.WAIT, waiter, params, "rds", desc, None)

    def rollback_verify(
        self, what: str, operation: str, params: Mapping[str, Any], *, description: str
    ) -> None:
        """A verification of the rollback plan."""
        self._add_rollback(what, StepKind.VERIFY, operation, params, "rds", description, None)

    def _add_rollback(
        self,
        what: str,
        kind: StepKind,
        operation: str,
        params: Mapping[str, Any],
        service: str,
        description: str,
        adopt: Mapping[str, Any] | None,
    ) -> None:
        self._rn += 1
        step = MigrationStep(
            id=f"{self.prefix}/rollback-{self._rn:02d}-{what}",
            kind=kind,
            phase=StepPhase.CUTOVER,
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
        self.items.append(PreflightItem(check, PreflightLevel.BLOCKING, subject, message))

    def _warn(self, check: str, subject: str, message: str) -> None:
        self.items.append(PreflightItem(check, PreflightLevel.WARNING, subject, message))

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
        """The describe record of an RDS resource: fresher settings passed in, else the one the
        scan kept, else inventory details built by hand that hold one."""
        if resource.arn in self.settings:
            return self.settings[resource.arn]
        if resource.record is not None:
            return resource.record
        details = resource.details
        if "DBInstanceClass" in details or "DBClusterMembers" in details:
            return details
        return None
