"""Snapshots left on an AWS-managed key after their database or their copy moved to a CMK.

A migration re-keys a database by restoring it on a customer-managed key, and a snapshot by
copying it; the old snapshots stay where they were, on `aws/rds`. Whoever reads the coverage
figures after a migration must not believe the estate is done while backups remain decryptable
under the old key: this rule lists each such snapshot with its retention (how old it is, whether
it is automated or manual, when it expires; a manual snapshot never expires on its own).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from cmkguard.auditing.context import AuditContext, as_utc, key_label
from cmkguard.auditing.finding import Finding
from cmkguard.inventory.values import EncryptedResource, KeyClass
from cmkguard.types import KeyArn

__all__ = ["LEFTOVER_SNAPSHOT_RULE", "check_leftover_snapshots", "snapshot_retention"]

LEFTOVER_SNAPSHOT_RULE = "rds-snapshot-left-on-aws-managed-key"

# Snapshot type -> (the source database's resource type, the details / record field naming it).
_SOURCE = {
    "rds:db-snapshot": ("rds:db-instance", "source_instance", "DBInstanceIdentifier"),
    "rds:db-cluster-snapshot": ("rds:db-cluster", "source_cluster", "DBClusterIdentifier"),
}
# Key classes a migration moves data onto (the database or the copy "moved" when it is on one).
_MOVED = frozenset({KeyClass.CUSTOMER_MANAGED, KeyClass.CROSS_ACCOUNT})


def _field(r: EncryptedResource, detail: str, record: str) -> Any:
    """A value from the scan's details, else from the describe record (hand-made inventories
    and older saves may have only one of them)."""
    value = r.details.get(detail)
    if value is None and r.record is not None:
        value = r.record.get(record)
    return value


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str) and value:
        try:
            return as_utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _retention_days(database: EncryptedResource | None) -> int | None:
    if database is None:
        return None
    value = _field(database, "backup_retention_days", "BackupRetentionPeriod")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def snapshot_retention(
    snapshot: EncryptedResource, database: EncryptedResource | None, now: datetime
) -> dict[str, Any]:
    """How long `snapshot` stays: its type, age in days, expiry (ISO date or `None`) and why.

    Manual snapshots never expire (they stay until deleted); automated ones are deleted when
    their database's backup retention period (`BackupRetentionPeriod`, read from `database`'s
    describe record) has passed since they were taken; AWS Backup snapshots follow their backup
    plan's lifecycle, which the scan does not read.
    """
    kind = str(_field(snapshot, "snapshot_type", "SnapshotType") or "unknown")
    created = _when(_field(snapshot, "created", "SnapshotCreateTime"))
    out: dict[str, Any] = {
        "snapshot_type": kind,
        "created": created.isoformat() if created else None,
    }
    out["age_days"] = (as_utc(now) - created).days if created else None
    out["expires"] = None
    if kind == "manual":
        out["retention"] = "A manual snapshot never expires: it stays until someone deletes it."
        return out
    if kind == "automated":
        days = _retention_days(database)
        if days is None or created is None:
            out["retention"] = (
                "RDS deletes it when its database's backup retention period has passed (the "
                "period or the snapshot time is unknown here)."
            )
        else:
            expires = created + timedelta(days=days)
            out["expires"] = expires.isoformat()
            out["retention"] = f"RDS deletes it on {expires.date()} ({days}-day backup retention)."
        return out
    if kind == "awsbackup":
        out["retention"] = "It stays as long as its AWS Backup plan's lifecycle says."
        return out
    out["retention"] = f"The retention of a {kind!r} snapshot is unknown."
    return out


def _databases(ctx: AuditContext) -> dict[tuple[str, str, str, str], EncryptedResource]:
    return {
        (r.resource_type, r.account, r.region, r.name): r
        for r in ctx.inventory.resources
        if r.resource_type in ("rds:db-instance", "rds:db-cluster")
    }


def _copies(ctx: AuditContext) -> dict[str, EncryptedResource]:
    """Snapshots on a CMK by the snapshot they were copied from (its ARN and its identifier).

    AWS names the source of a cluster snapshot copy (`SourceDBClusterSnapshotArn`) always, of
    an instance snapshot copy (`SourceDBSnapshotIdentifier`) only across accounts or regions;
    a same-region copy made by `cmkguard migrate` is found by its name (`<source><suffix>`,
    same source database) in `_copy_of`.
    """
    out: dict[str, EncryptedResource] = {}
    for r in ctx.inventory.resources:
        if r.resource_type not in _SOURCE or r.key_class not in _MOVED:
            continue
        for value in (
            r.details.get("source_snapshot"),
            (r.record or {}).get("SourceDBSnapshotIdentifier"),
            (r.record or {}).get("SourceDBClusterSnapshotArn"),
        ):
            if isinstance(value, str) and value:
                out.setdefault(value, r)
    return out


def _copy_of(
    ctx: AuditContext, snapshot: EncryptedResource, copies: Mapping[str, EncryptedResource]
) -> EncryptedResource | None:
    found = copies.get(snapshot.arn) or copies.get(snapshot.name)
    if found is not None:
        return found
    _, detail, record = _SOURCE[snapshot.resource_type]
    source = _field(snapshot, detail, record)
    for r in ctx.inventory.resources:
        if (
            r.resource_type == snapshot.resource_type
            and r.key_class in _MOVED
            and (r.account, r.region) == (snapshot.account, snapshot.region)
            and r.name.startswith(snapshot.name + "-")
            and _field(r, detail, record) == source
        ):
            return r
    return None


def check_leftover_snapshots(ctx: AuditContext) -> Iterator[Finding]:
    """Snapshots on an AWS-managed key whose database is now on a CMK, or which were copied
    onto a CMK, with their retention."""
    databases = _databases(ctx)
    copies = _copies(ctx)
    for r in ctx.inventory.resources:
        if r.resource_type not in _SOURCE or r.key_class is not KeyClass.AWS_MANAGED:
            continue
        db_type, detail, record = _SOURCE[r.resource_type]
        source = _field(r, detail, record)
        database = databases.get((db_type, r.account, r.region, str(source)))
        moved_db = database if database is not None and database.key_class in _MOVED else None
        copy = _copy_of(ctx, r, copies)
        if moved_db is None and copy is None:
            continue  # nothing moved yet: the aws-managed-key rules report it as it is
        yield _finding(ctx, r, database, moved_db, copy)


def _key(ctx: AuditContext, arn: str | None) -> str:
    return key_label(ctx.inventory.keys.get(KeyArn(arn)) if arn else None, arn)


def _finding(
    ctx: AuditContext,
    snapshot: EncryptedResource,
    database: EncryptedResource | None,
    moved_db: EncryptedResource | None,
    copy: EncryptedResource | None,
) -> Finding:
    retention = snapshot_retention(snapshot, database, ctx.now)
    old_key = _key(ctx, snapshot.key_arn) if snapshot.key_arn else "an AWS-managed key"
    age = retention["age_days"]
    what = f"{retention['snapshot_type']} snapshot" + (
        f", {age} day{'s' if age != 1 else ''} old" if age is not None else ""
    )
    why = []
    if moved_db is not None:
        why.append(f"its database {moved_db.name} is now on {_key(ctx, moved_db.key_arn)}")
    if copy is not None:
        why.append(f"a copy exists on {_key(ctx, copy.key_arn)} ({copy.name})")
    message = (
        f"{snapshot.name} ({what}) is still on {old_key}, decryptable under the old key, "
        f"although {' and '.join(why)}. {retention['retention']}"
    )
    evidence: dict[str, Any] = {"name": snapshot.name, "old_key": old_key, **retention}
    if moved_db is not None:
        evidence["database"] = moved_db.arn
        evidence["database_key"] = moved_db.key_arn
    if copy is not None:
        evidence["copy"] = copy.arn
        evidence["copy_key"] = copy.key_arn
    return ctx.finding(
        LEFTOVER_SNAPSHOT_RULE,
        message,
        resource=snapshot,
        key_arn=snapshot.key_arn,
        evidence=evidence,
    )
