"""Secrets Manager paths: key switch, new version, RDS-managed secrets, replicas (pure)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from cmkguard.arn import parse_arn
from cmkguard.inventory.values import EncryptedResource, KeyClass, KmsKey
from cmkguard.migrate._base import Chain, PlannerBase
from cmkguard.migrate._rds_recipe import CLUSTER, INSTANCE
from cmkguard.migrate.model import GENERATED_PASSWORD, StepPhase
from cmkguard.migrate.preflight import (
    check_key,
    check_principals_decrypt,
    details_get,
    resolve_target_key,
)

__all__ = ["SecretPaths"]


class SecretPaths(PlannerBase):
    """Plans secrets, checking that every consumer can decrypt with the new key."""

    # -- secrets -------------------------------------------------------------------------------

    def _plan_secret(self, resource: EncryptedResource, key: KmsKey) -> None:
        details = resource.details
        owner = details_get(details, "OwningService", "owning_service")
        if owner == "rds":
            self._plan_rds_managed_secret(resource, key)
            return
        if details_get(details, "is_replica", "IsReplica"):
            primary = (
                details_get(details, "primary_region", "PrimaryRegion") or "its primary region"
            )
            self._block(
                "secret-replica",
                resource.arn,
                f"a replica secret: UpdateSecret is refused on replicas; migrate the primary in "
                f"{primary} with rekey_secret_replicas=True",
            )
            return
        self._check_secret_consumers(resource, key)
        region = resource.region
        c = Chain(f"{region}/secret:{resource.name}", resource.arn, region)
        self.chains.append(c)
        c.check_source(
            "check-source",
            StepPhase.PREPARE,
            "DescribeSecret",
            {"SecretId": resource.arn, "expected": {"KmsKeyId": resource.key_reference}},
            service="secretsmanager",
            description="the secret is still on the key the plan was made from",
        )
        c.call(
            "update-key",
            StepPhase.CUTOVER,
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
            c.reencrypt(
                "new-version",
                {"SecretId": resource.arn, "ClientRequestToken": token},
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
        c.verify(
            "verify",
            StepPhase.CUTOVER,
            "DescribeSecret",
            {"SecretId": resource.arn, "expect": {"KmsKeyId": key.arn}},
            service="secretsmanager",
            description="the secret reports the target key",
        )
        self._plan_secret_replicas(c, resource)
        old = resource.key_arn if resource.key_class is not KeyClass.UNENCRYPTED else None
        c.rollback_call(
            "restore-key",
            "UpdateSecret",
            {"SecretId": resource.arn, "KmsKeyId": old or "alias/aws/secretsmanager"},
            service="secretsmanager",
            description="rollback: put the secret back on its previous key",
        )

    def _plan_secret_replicas(self, c: Chain, resource: EncryptedResource) -> None:
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
            c.call(
                f"remove-replica-{region}",
                StepPhase.CUTOVER,
                "RemoveRegionsFromReplication",
                {"SecretId": resource.arn, "RemoveReplicaRegions": [region]},
                service="secretsmanager",
                description=f"remove the replica in {region} (it is absent until re-added)",
                destructive=True,
                adopt={"probe": "secret-replica-absent", "secret": resource.arn, "region": region},
            )
            c.call(
                f"add-replica-{region}",
                StepPhase.CUTOVER,
                "ReplicateSecretToRegions",
                {
                    "SecretId": resource.arn,
                    "AddReplicaRegions": [{"Region": region, "KmsKeyId": key.arn}],
                },
                service="secretsmanager",
                description=f"re-create the replica in {region} on {key.arn}",
                adopt={"probe": "secret-replica", "secret": resource.arn, "region": region},
            )
            c.verify(
                f"verify-replica-{region}",
                StepPhase.CUTOVER,
                "DescribeSecret",
                {
                    "SecretId": resource.arn,
                    "expect": {f"ReplicationStatus[Region={region}].KmsKeyId": key.arn},
                },
                service="secretsmanager",
                description=f"the replica in {region} reports {key.arn}",
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
        c = Chain(f"{region}/secret:{resource.name}", resource.arn, region)
        self.chains.append(c)
        kind = CLUSTER if is_cluster else INSTANCE
        op, id_field, waiter = kind.modify, kind.id_field, kind.waiter
        c.check_source(
            "check-source",
            StepPhase.PREPARE,
            kind.describe,
            {id_field: owner_id, "expected": {"MasterUserSecret.SecretArn": resource.arn}},
            description=f"{owner_id} still manages this secret",
        )
        c.call(
            "managed-off",
            StepPhase.CUTOVER,
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
        c.wait(
            "wait-off",
            StepPhase.CUTOVER,
            waiter,
            {id_field: owner_id},
            description=f"wait until {owner_id} is available",
        )
        c.call(
            "managed-on",
            StepPhase.CUTOVER,
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
        c.wait(
            "wait-on",
            StepPhase.CUTOVER,
            waiter,
            {id_field: owner_id},
            description=f"wait until {owner_id} is available",
        )
        c.verify(
            "verify",
            StepPhase.CUTOVER,
            kind.describe,
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
