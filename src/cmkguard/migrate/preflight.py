"""Pre-flight checks on the target key (pure: reads the inventory's key records only).

Each check becomes a `PreflightItem`: `blocking` when executing
would fail or break something (a disabled key, a consumer that could no longer decrypt),
`warning` when a human should look (a key policy that delegates to IAM, which cmkguard cannot
see), `passed` otherwise, so the review shows what *was* checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cmkguard.arn import parse_arn, parse_key_reference
from cmkguard.inventory.values import Inventory, KmsKey
from cmkguard.migrate.model import PreflightItem

__all__ = [
    "RDS_KEY_ACTIONS",
    "SECRETS_KEY_ACTIONS",
    "check_key",
    "check_principals_decrypt",
    "check_service_use",
    "resolve_target_key",
]

# What a service needs on a CMK to encrypt a resource with it on the caller's behalf.
RDS_KEY_ACTIONS = ("kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
SECRETS_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:DescribeKey")


def _matches(key: KmsKey, ref: str) -> bool:
    try:
        parsed = parse_key_reference(ref)
    except ValueError:
        return False
    if parsed.kind == "key-arn":
        return key.arn == ref
    if parsed.kind == "key-id":
        return key.key_id == parsed.name
    # alias or alias ARN
    if parsed.region is not None and parsed.region != key.region:
        return False
    if parsed.account is not None and parsed.account != key.account:
        return False
    return parsed.name in key.aliases


def resolve_target_key(
    inventory: Inventory, reference: str, region: str, account: str
) -> tuple[KmsKey | None, str | None]:
    """The key `reference` names for a resource in `region`/`account`, and why not.

    Returns `(key, None)` or `(None, reason)`. A key in another region is accepted only as a
    multi-region key with a replica in `region` (the replica is returned).
    """
    candidates = [k for k in inventory.keys.values() if _matches(k, reference)]
    if not candidates:
        return None, f"target key {reference!r} is not in the inventory (scan its region)"
    local = [k for k in candidates if k.region == region]
    if local:
        own = [k for k in local if k.account == account]
        return (own or local)[0], None
    mrk = [k for k in candidates if k.multi_region]
    for key in mrk:
        for other in inventory.keys.values():
            if other.key_id == key.key_id and other.region == region and other.multi_region:
                return other, None
    found = ", ".join(sorted({k.region for k in candidates}))
    return None, (
        f"target key {reference!r} is in {found}, not {region}, and has no multi-region "
        f"replica in {region}"
    )


def check_key(key: KmsKey, *, account: str) -> list[PreflightItem]:
    """State, spec, usage, manager and account of the target key."""
    items: list[PreflightItem] = []
    subject = key.arn

    def add(check: str, ok: bool, message: str, *, warn: bool = False) -> None:
        level = "passed" if ok else ("warning" if warn else "blocking")
        items.append(PreflightItem(check, level, subject, message))

    if key.state == "PendingDeletion":
        when = f" on {key.deletion_date.isoformat()}" if key.deletion_date else ""
        add("key-enabled", False, f"key is pending deletion{when}: data moved to it would be lost")
    else:
        add("key-enabled", key.state == "Enabled", f"key state is {key.state}")
    add(
        "key-symmetric",
        key.spec == "SYMMETRIC_DEFAULT" and key.usage == "ENCRYPT_DECRYPT",
        f"key spec {key.spec}, usage {key.usage} (RDS and Secrets Manager need "
        "SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT)",
    )
    add(
        "key-customer-managed",
        not key.is_aws_managed,
        "key is AWS-managed: migrating onto it gains nothing"
        if key.is_aws_managed
        else "key is customer-managed",
    )
    add(
        "key-same-account",
        key.account == account,
        f"key belongs to account {key.account}, resources to {account}"
        if key.account != account
        else "key is in the resources' account",
        warn=True,
    )
    return items


def _allowed(key: KmsKey, action: str) -> tuple[set[str] | None, str | None]:
    """Principals the key policy (plus grants) allows `action`; `None` and why if unknown."""
    if key.policy is None:
        return None, "the key policy was not read by the scan"
    try:
        analysis = key.policy_analysis
    except ImportError:
        return None, "the policy analyser (cmkguard.policy) is not available"
    except Exception as exc:
        return None, f"the key policy could not be analysed: {exc}"
    if analysis is None:
        return None, "the key policy was not read by the scan"
    allowed = set(analysis.principals_allowed(action))
    short = action.split(":", 1)[1].lower()
    for grant in key.grants:
        ops = {o.lower() for o in grant.operations}
        if short in ops or (short == "generatedatakey" and "generatedatakey" in ops):
            allowed.add(grant.grantee_principal)
    return allowed, None


def _account_of(principal: str) -> str | None:
    try:
        return parse_arn(principal).account or None
    except ValueError:
        return principal if principal.isdigit() else None


def _canonical_principal(principal: str) -> str:
    # An assumed-role session acts with its role's permissions.
    try:
        arn = parse_arn(principal)
    except ValueError:
        return principal
    if arn.service == "sts" and arn.resource.startswith("assumed-role/"):
        role = arn.resource.split("/")[1]
        return f"arn:{arn.partition}:iam::{arn.account}:role/{role}"
    return principal


def check_service_use(key: KmsKey, *, account: str, service: str) -> list[PreflightItem]:
    """Whether the key policy lets `account` use the key through `service` at all."""
    actions = RDS_KEY_ACTIONS if service == "rds" else SECRETS_KEY_ACTIONS
    root = f"arn:aws:iam::{account}:root"
    items: list[PreflightItem] = []
    for action in actions:
        allowed, why = _allowed(key, action)
        check = f"key-policy-{service}"
        if allowed is None:
            items.append(PreflightItem(check, "warning", key.arn, f"cannot check {action}: {why}"))
            continue
        if "*" in allowed or root in allowed:
            items.append(
                PreflightItem(check, "passed", key.arn, f"{action} allowed to account {account}")
            )
            continue
        own = sorted(p for p in allowed if _account_of(p) == account)
        if own:
            items.append(
                PreflightItem(
                    check,
                    "warning",
                    key.arn,
                    f"{action} allowed only to {', '.join(own)}: the identity running the "
                    "migration must be one of them",
                )
            )
        else:
            items.append(
                PreflightItem(
                    check,
                    "blocking",
                    key.arn,
                    f"the key policy gives {action} to no principal of account {account}: "
                    f"{service} cannot use the key",
                )
            )
    return items


def check_principals_decrypt(
    key: KmsKey,
    principals: Iterable[tuple[str, str]],
    *,
    secret_arn: str,
) -> list[PreflightItem]:
    """Each `(principal, role)` must be able to `kms:Decrypt` with the new key.

    `role` is `"consumer"` or `"rotation-lambda"` (which also needs GenerateDataKey).
    A principal reached only through the account root (IAM delegation) is a warning: the key
    policy allows it if its IAM policy does, which cmkguard does not see.
    """
    items: list[PreflightItem] = []
    cache: dict[str, tuple[set[str] | None, str | None]] = {}
    for principal, role in principals:
        actions = ["kms:Decrypt"] + (["kms:GenerateDataKey"] if role == "rotation-lambda" else [])
        canonical = _canonical_principal(principal)
        account = _account_of(canonical)
        root = f"arn:aws:iam::{account}:root" if account else None
        for action in actions:
            if action not in cache:
                cache[action] = _allowed(key, action)
            allowed, why = cache[action]
            check = f"{role}-decrypt" if action == "kms:Decrypt" else f"{role}-generate-data-key"
            if allowed is None:
                items.append(
                    PreflightItem(
                        check, "warning", principal, f"cannot check {action} on {key.arn}: {why}"
                    )
                )
            elif "*" in allowed or canonical in allowed or principal in allowed:
                items.append(
                    PreflightItem(check, "passed", principal, f"{action} allowed on the new key")
                )
            elif root is not None and root in allowed:
                items.append(
                    PreflightItem(
                        check,
                        "warning",
                        principal,
                        f"{action} on the new key is delegated to IAM (account root in the key "
                        f"policy): make sure {principal}'s IAM policy allows it",
                    )
                )
            else:
                items.append(
                    PreflightItem(
                        check,
                        "blocking",
                        principal,
                        f"{principal} ({role} of {secret_arn}) cannot {action} with {key.arn}: "
                        "switching the key would break it at its next read",
                    )
                )
    return items


def details_get(details: Mapping[str, Any], *names: str) -> Any:
    """The first of `names` present in `details` (inventory field names vary by scanner)."""
    for name in names:
        if name in details and details[name] not in (None, ""):
            return details[name]
    return None
