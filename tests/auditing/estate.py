"""A hand-built inventory with one instance of every problem the audit's own rules look for.

Shared by tests/auditing and tests/report (loaded by path from their conftest files, because the
test directories are not packages). ``EXPECTED`` lists every (rule id, target ARN) the audit must
report on it, and nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cmkguard import (
    EncryptedResource,
    Inventory,
    KeyClass,
    KeyUse,
    KmsKey,
    RotationStatus,
    ScanError,
)
from cmkguard.types import AccountId, KeyArn, Region, ResourceArn, ResourceTypeName

ACCOUNT = "111122223333"
OTHER = "444455556666"
REGION = "us-east-1"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FULL_TAGS = {
    "owner": "team-a",
    "application": "orders",
    "data-sensitivity": "high",
    "cost-center": "42",
}


def karn(name: str, account: str = ACCOUNT, region: str = REGION) -> KeyArn:
    return KeyArn(f"arn:aws:kms:{region}:{account}:key/{name}")


def key(
    name: str,
    *,
    manager: str = "CUSTOMER",
    state: str = "Enabled",
    rotation: RotationStatus | None = None,
    tags: dict[str, str] | None = None,
    spec: str = "SYMMETRIC_DEFAULT",
    usage: str = "ENCRYPT_DECRYPT",
    deletion_date: datetime | None = None,
    policy: str | None = None,
    aliases: tuple[str, ...] = (),
) -> KmsKey:
    return KmsKey(
        arn=karn(name),
        key_id=name,
        account=AccountId(ACCOUNT),
        region=Region(REGION),
        manager=manager,
        state=state,
        spec=spec,
        usage=usage,
        rotation=rotation
        if rotation is not None
        else RotationStatus(applicable=True, enabled=True, period_days=365),
        tags=FULL_TAGS if tags is None else tags,
        deletion_date=deletion_date,
        policy=policy,
        aliases=aliases or (f"alias/{name}",),
    )


def resource(
    name: str,
    rtype: str,
    key_class: KeyClass,
    key_arn: str | None = None,
    *,
    tags: dict[str, str] | None = None,
    secondary: tuple[KeyUse, ...] = (),
    details: dict[str, object] | None = None,
    reason: str | None = None,
) -> EncryptedResource:
    service, kind = rtype.split(":")
    if service == "rds":
        suffix = {"db-instance": "db", "db-cluster": "cluster", "db-snapshot": "snapshot"}.get(
            kind, "cluster-snapshot"
        )
        arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:{suffix}:{name}"
    else:
        arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"
    return EncryptedResource(
        arn=ResourceArn(arn),
        resource_type=ResourceTypeName(rtype),
        account=AccountId(ACCOUNT),
        region=Region(REGION),
        name=name,
        key_class=key_class,
        key_arn=KeyArn(key_arn) if key_arn else None,
        key_reference=key_arn,
        tags=tags or {},
        details=details or {},
        secondary_keys=secondary,
        reason=reason,
    )


CMK = KeyClass.CUSTOMER_MANAGED
AWS = KeyClass.AWS_MANAGED

K_GOOD = key("good")
K_AWS_RDS = key("awsrds", manager="AWS", tags={}, aliases=("alias/aws/rds",))
K_PENDING = key("pending", state="PendingDeletion", deletion_date=NOW + timedelta(days=6, hours=1))
K_PENDING_UNUSED = key(
    "pending-unused", state="PendingDeletion", deletion_date=NOW + timedelta(days=20)
)
K_DISABLED = key("disabled", state="Disabled")
K_NOROT = key("norot", rotation=RotationStatus(applicable=True, enabled=False))
K_LONGROT = key("longrot", rotation=RotationStatus(applicable=True, enabled=True, period_days=730))
K_ASYM = key(
    "asym",
    spec="RSA_2048",
    usage="SIGN_VERIFY",
    rotation=RotationStatus(applicable=False, reason="asymmetric key"),
)
K_UNTAGGED = key("untagged", tags={"owner": "team-b", "Application": ""})
K_SHARED = key("shared")
K_UNUSED = key("unused")
K_IMPORTED = KmsKey(
    arn=karn("imported"),
    key_id="imported",
    account=AccountId(ACCOUNT),
    region=Region(REGION),
    manager="CUSTOMER",
    state="Enabled",
    origin="EXTERNAL",
    tags=FULL_TAGS,
    rotation=None,
)

R_GOOD = resource("db-good", "rds:db-instance", CMK, K_GOOD.arn, tags={"application": "orders"})
R_AWS_DB = resource("db-aws", "rds:db-instance", AWS, K_AWS_RDS.arn)
R_AWS_CLUSTER = resource("cluster-aws", "rds:db-cluster", AWS, K_AWS_RDS.arn)
R_AWS_SNAP = resource(
    "snap-aws", "rds:db-snapshot", AWS, K_AWS_RDS.arn, details={"snapshot_type": "manual"}
)
R_AWS_CSNAP = resource("csnap-aws", "rds:db-cluster-snapshot", AWS, K_AWS_RDS.arn)
R_AWS_SECRET = resource("secret-aws", "secretsmanager:secret", AWS, None)
R_PLAIN = resource("db-plain", "rds:db-instance", KeyClass.UNENCRYPTED)
R_XACCT = resource(
    "secret-xacct", "secretsmanager:secret", KeyClass.CROSS_ACCOUNT, karn("theirs", OTHER)
)
R_UNKNOWN = resource(
    "db-unknown", "rds:db-instance", KeyClass.UNKNOWN, karn("hidden"), reason="AccessDenied"
)
R_PENDING = resource("db-pending", "rds:db-instance", CMK, K_PENDING.arn)
R_DISABLED = resource("secret-disabled", "secretsmanager:secret", CMK, K_DISABLED.arn)
R_PI = resource(
    "db-pi",
    "rds:db-instance",
    CMK,
    K_GOOD.arn,
    secondary=(
        KeyUse(
            purpose="performance-insights",
            region=Region(REGION),
            key_arn=K_AWS_RDS.arn,
            key_class=AWS,
        ),
    ),
)
R_REPLICA = resource(
    "secret-replica",
    "secretsmanager:secret",
    CMK,
    K_GOOD.arn,
    secondary=(
        KeyUse(purpose="replica", region=Region("us-west-2"), key_arn=None, key_class=AWS),
        KeyUse(
            purpose="replica",
            region=Region("eu-west-1"),
            key_arn=karn("good", region="eu-west-1"),
            key_class=CMK,
        ),
    ),
)
R_NOROT = resource("db-norot", "rds:db-instance", CMK, K_NOROT.arn)
R_LONGROT = resource("db-longrot", "rds:db-instance", CMK, K_LONGROT.arn)
R_UNTAGGED = resource("db-untagged", "rds:db-instance", CMK, K_UNTAGGED.arn)
R_SHARED_A = resource("db-a", "rds:db-instance", CMK, K_SHARED.arn, tags={"application": "billing"})
R_SHARED_B = resource(
    "secret-b", "secretsmanager:secret", CMK, K_SHARED.arn, tags={"Application": "crm"}
)
R_IMPORTED = resource("db-imported", "rds:db-instance", CMK, K_IMPORTED.arn)

ERROR = ScanError(
    account=ACCOUNT,
    region="eu-central-1",
    operation="DescribeDBInstances",
    reason="AccessDenied: not authorized",
    resource_type="rds:db-instance",
    error_code="AccessDenied",
)

KEYS = (
    K_GOOD,
    K_AWS_RDS,
    K_PENDING,
    K_PENDING_UNUSED,
    K_DISABLED,
    K_NOROT,
    K_LONGROT,
    K_ASYM,
    K_UNTAGGED,
    K_SHARED,
    K_UNUSED,
    K_IMPORTED,
)
RESOURCES = (
    R_GOOD,
    R_AWS_DB,
    R_AWS_CLUSTER,
    R_AWS_SNAP,
    R_AWS_CSNAP,
    R_AWS_SECRET,
    R_PLAIN,
    R_XACCT,
    R_UNKNOWN,
    R_PENDING,
    R_DISABLED,
    R_PI,
    R_REPLICA,
    R_NOROT,
    R_LONGROT,
    R_UNTAGGED,
    R_SHARED_A,
    R_SHARED_B,
    R_IMPORTED,
)


def inventory(**overrides: object) -> Inventory:
    fields: dict[str, object] = {
        "resources": RESOURCES,
        "keys": KEYS,
        "errors": (ERROR,),
        "accounts": (ACCOUNT,),
        "regions": (REGION, "eu-central-1"),
        "resource_types": (
            "rds:db-instance",
            "rds:db-cluster",
            "rds:db-snapshot",
            "rds:db-cluster-snapshot",
            "secretsmanager:secret",
        ),
        "scanned_at": NOW,
    }
    fields.update(overrides)
    return Inventory(**fields)  # type: ignore[arg-type]


EXPECTED: frozenset[tuple[str, str]] = frozenset(
    {
        ("inventory-incomplete", f"{ACCOUNT}/eu-central-1"),
        ("rds-instance-aws-managed-key", R_AWS_DB.arn),
        ("rds-cluster-aws-managed-key", R_AWS_CLUSTER.arn),
        ("rds-snapshot-aws-managed-key", R_AWS_SNAP.arn),
        ("rds-cluster-snapshot-aws-managed-key", R_AWS_CSNAP.arn),
        ("secret-aws-managed-key", R_AWS_SECRET.arn),
        ("resource-unencrypted", R_PLAIN.arn),
        ("resource-cross-account-key", R_XACCT.arn),
        ("resource-key-unknown", R_UNKNOWN.arn),
        ("resource-key-pending-deletion", R_PENDING.arn),
        ("resource-key-disabled", R_DISABLED.arn),
        ("rds-performance-insights-aws-managed-key", R_PI.arn),
        ("secret-replica-key-class-mismatch", R_REPLICA.arn),
        ("key-rotation-disabled", K_NOROT.arn),
        ("key-rotation-period-too-long", K_LONGROT.arn),
        ("key-rotation-not-applicable", K_ASYM.arn),
        ("key-rotation-not-applicable", K_IMPORTED.arn),
        ("key-missing-tags", K_UNTAGGED.arn),
        ("key-shared-across-applications", K_SHARED.arn),
        ("key-unused", K_UNUSED.arn),
        ("key-pending-deletion", K_PENDING_UNUSED.arn),
    }
)
"""Every (rule id, target) the audit reports on :func:`inventory` (keys without policies)."""
