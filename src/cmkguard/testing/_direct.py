"""Writes straight into moto's backends, for seeding large estates fast.

A create through the emulator's HTTP API costs 5-20 ms of CPU, mostly moto rendering its XML
response and botocore parsing it; the same create on moto's backend costs well under a
millisecond. The seeder's *writes* therefore go through these adapters, which take the same
arguments as the boto3 calls and return the fields the seeder reads, while every *read* of the
estate (and so the ground truth's ARNs) still goes through the AWS API.

Each write hands its parameters to the very backend method moto's own request handler calls with
them, then runs the emulator's fidelity fix-ups the middleware would have run, so the state is the
one the API would have produced (`tests/testing` compares both paths).
"""

from __future__ import annotations

import json
from typing import Any

from cmkguard.testing import _moto

__all__ = ["DirectKms", "DirectRds", "DirectSecretsManager"]


def _params(kwargs: dict[str, Any]) -> Any:
    """API parameters in the form moto's request handlers pass to its backends."""
    return _moto.moto_module("core.parse").XFormedDict(kwargs)


class DirectKms:
    """The KMS calls the seeder makes, on moto's backend for one account and region."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self.backend = _moto.kms_backend(account, region)

    def create_key(self, **kwargs: Any) -> dict[str, Any]:
        """`CreateKey` (symmetric encryption key)."""
        key = self.backend.create_key(
            kwargs.get("Policy"),
            kwargs.get("KeyUsage", "ENCRYPT_DECRYPT"),
            kwargs.get("KeySpec", "SYMMETRIC_DEFAULT"),
            kwargs.get("Description", ""),
            kwargs.get("Tags"),
        )
        return {"KeyMetadata": {"KeyId": str(key.id), "Arn": str(key.arn)}}

    def create_alias(self, *, AliasName: str, TargetKeyId: str) -> None:
        """`CreateAlias`."""
        self.backend.create_alias(TargetKeyId, AliasName)

    def enable_key_rotation(self, *, KeyId: str, RotationPeriodInDays: int = 365) -> None:
        """`EnableKeyRotation` (moto keeps the period but does not report it)."""
        self.backend.enable_key_rotation(KeyId)
        self.backend.keys[
            self.backend.get_key_id(KeyId)
        ].rotation_period_in_days = RotationPeriodInDays

    def schedule_key_deletion(self, *, KeyId: str, PendingWindowInDays: int = 30) -> None:
        """`ScheduleKeyDeletion` (by key id)."""
        self.backend.schedule_key_deletion(self.backend.get_key_id(KeyId), PendingWindowInDays)

    def disable_key(self, *, KeyId: str) -> None:
        """`DisableKey` (by key id)."""
        self.backend.disable_key(self.backend.get_key_id(KeyId))


class DirectRds:
    """The RDS writes the seeder makes, on moto's backend for one account and region."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self.backend = _moto.rds_backend(account, region)

    def _fixed(self) -> None:
        _moto.fix_rds(self.account, self.region)

    def create_db_instance(self, **kwargs: Any) -> dict[str, Any]:
        """`CreateDBInstance`."""
        # A managed master-user secret is written into Secrets Manager's backend.
        with _moto.SECRETS_LOCK:
            db = self.backend.create_db_instance(_params(kwargs))
        self._fixed()
        out: dict[str, Any] = {"DBInstanceArn": str(db.db_instance_arn), "Engine": str(db.engine)}
        if getattr(db, "master_user_secret", None) is not None:
            # Resolving the secret's key is what creates aws/secretsmanager on first use (the
            # API path does it when it renders the response).
            out["MasterUserSecret"] = {
                "SecretArn": str(db.master_user_secret.secret_arn),
                "KmsKeyId": str(db.master_user_secret.kms_key_id),
            }
        return {"DBInstance": out}

    def create_db_snapshot(self, **kwargs: Any) -> dict[str, Any]:
        """`CreateDBSnapshot`."""
        snapshot = self.backend.create_db_snapshot(**_params(kwargs))
        self._fixed()
        return {"DBSnapshot": {"DBSnapshotArn": str(snapshot.db_snapshot_arn)}}

    def create_db_cluster(self, **kwargs: Any) -> dict[str, Any]:
        """`CreateDBCluster`."""
        cluster = self.backend.create_db_cluster(_params(kwargs))
        self._fixed()
        return {"DBCluster": {"DBClusterArn": str(cluster.db_cluster_arn)}}

    def create_db_cluster_snapshot(self, **kwargs: Any) -> dict[str, Any]:
        """`CreateDBClusterSnapshot`."""
        snapshot = self.backend.create_db_cluster_snapshot(**_params(kwargs))
        self._fixed()
        arn = str(snapshot.db_cluster_snapshot_arn)
        return {"DBClusterSnapshot": {"DBClusterSnapshotArn": arn}}

    def automated_snapshots(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The automated instance and cluster snapshots, with the fields `Describe*` gives."""
        self._fixed()
        instance = [
            {
                "DBSnapshotArn": str(s.db_snapshot_arn),
                "DBSnapshotIdentifier": str(s.db_snapshot_identifier),
                "DBInstanceIdentifier": str(s.database.db_instance_identifier),
            }
            for s in list(self.backend.database_snapshots.values())
            if s.snapshot_type == "automated"
        ]
        cluster = [
            {
                "DBClusterSnapshotArn": str(s.db_cluster_snapshot_arn),
                "DBClusterSnapshotIdentifier": str(s.db_cluster_snapshot_identifier),
                "DBClusterIdentifier": str(s.cluster.db_cluster_identifier),
            }
            for s in list(self.backend.cluster_snapshots.values())
            if s.snapshot_type == "automated"
        ]
        return instance, cluster


class DirectSecretsManager:
    """The Secrets Manager writes the seeder makes, on moto's backend."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self.backend = _moto.secretsmanager_backend(account, region)

    def create_secret(self, **kwargs: Any) -> dict[str, Any]:
        """`CreateSecret`."""
        with _moto.SECRETS_LOCK:
            response = self.backend.create_secret(
                name=kwargs["Name"],
                secret_string=kwargs.get("SecretString"),
                secret_binary=None,
                description=kwargs.get("Description", ""),
                tags=kwargs.get("Tags", []),
                kms_key_id=kwargs.get("KmsKeyId"),
                client_request_token=None,
                replica_regions=kwargs.get("AddReplicaRegions", []),
                force_overwrite=False,
            )
            _moto.fix_secretsmanager(self.account, self.region)
        data: dict[str, Any] = json.loads(response)
        return data
