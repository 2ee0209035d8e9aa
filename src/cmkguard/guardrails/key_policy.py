"""Least-privilege key policies for the CMKs of RDS and Secrets Manager (pure).

Administrators manage the key without cryptographic actions; users encrypt and decrypt only
through the service in the key's region and account; grants only for AWS resources. Optional:
read access for named external accounts (sharing RDS snapshots) and use by the whole
organization. Someone always keeps `kms:PutKeyPolicy` (never a lock-out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cmkguard.errors import ConfigurationError
from cmkguard.guardrails._ids import (
    check_account,
    check_org_id,
    check_principal_arn,
    check_region,
)

__all__ = [
    "ADMIN_ACTIONS",
    "EXTERNAL_READ_ACTIONS",
    "GRANT_ACTIONS",
    "SERVICES",
    "USE_ACTIONS",
    "build_key_policy",
    "cross_account_read_statements",
    "via_service",
]

SERVICES = ("rds", "secretsmanager")
"""The services the builder writes key policies for."""

ADMIN_ACTIONS: tuple[str, ...] = (
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:ListKeyPolicies",
    "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:ListKeyRotations",
    "kms:RotateKeyOnDemand",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:UpdateKeyDescription",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ListResourceTags",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:ListGrants",
    "kms:RevokeGrant",
)
"""Key administration, listed by name: no cryptographic action and no `kms:CreateGrant`
(a grant can carry `Decrypt`, so an unconstrained CreateGrant is use in disguise)."""

USE_ACTIONS: tuple[str, ...] = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)
"""What key users may do, through the service only."""

GRANT_ACTIONS: tuple[str, ...] = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")
"""Grant management for the service's own resources (`kms:GrantIsForAWSResource`)."""

EXTERNAL_READ_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:DescribeKey", "kms:ReEncryptFrom")
"""What an external account needs to copy a shared encrypted snapshot onto its own key."""


def via_service(service: str, region: str) -> str:
    """The `kms:ViaService` value of a service in a region (`rds.eu-west-1.amazonaws.com`)."""
    if service not in SERVICES:
        raise ConfigurationError(f"service {service!r} is not one of {', '.join(SERVICES)}")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{service}.{check_region(region)}.{suffix}"


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def cross_account_read_statements(
    accounts: Iterable[str],
    *,
    service: str,
    region: str,
    sid_prefix: str = "ExternalAccount",
) -> list[dict[str, Any]]:
    """Key-policy statements letting `accounts` read data encrypted under the key.

    The snapshot-sharing case: the external account's RDS (or Secrets Manager) decrypts and
    re-encrypts onto its own key, and creates the grant the service needs. Only through the
    service in the key's region; the external account's IAM policies then decide who there may.

    Returns an empty list when `accounts` is empty.
    """
    ids = [check_account(a, "external account") for a in dict.fromkeys(accounts)]
    if not ids:
        return []
    partition = _partition(region)
    principal = {"AWS": _one_or_list([f"arn:{partition}:iam::{a}:root" for a in ids])}
    channel = {"kms:ViaService": via_service(service, region)}
    return [
        {
            "Sid": f"{sid_prefix}Read",
            "Effect": "Allow",
            "Principal": principal,
            "Action": list(EXTERNAL_READ_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": channel},
        },
        {
            "Sid": f"{sid_prefix}GrantsForAWSResources",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {
                "StringEquals": channel,
                "Bool": {"kms:GrantIsForAWSResource": "true"},
            },
        },
    ]


def _principals(arns: Iterable[str], what: str, account: str) -> list[str]:
    out = []
    for arn in dict.fromkeys(arns):
        check_principal_arn(arn, what)
        if arn.split(":")[4] != account:
            raise ConfigurationError(
                f"{what} {arn!r} is not in the key account {account}: give other accounts "
                "access with external accounts instead"
            )
        out.append(arn)
    return out


def build_key_policy(
    *,
    account: str,
    region: str,
    service: str,
    admins: Iterable[str],
    users: Iterable[str] = (),
    external_accounts: Iterable[str] = (),
    org_id: str | None = None,
) -> dict[str, Any]:
    """A least-privilege key policy for a CMK of `service` (`rds` or `secretsmanager`).

    Args:
        account: The account the key lives in.
        region: The region the key lives in.
        service: `rds` or `secretsmanager`; users may use the key only through it
            (`kms:ViaService <service>.<region>.amazonaws.com`) and from `account`
            (`kms:CallerAccount`).
        admins: Role or user ARNs of the key account that administer the key (at least one:
            they keep `kms:PutKeyPolicy`, so the key can never be locked).
        users: Role or user ARNs of the key account that use it (through the service).
        external_accounts: Accounts that may read data under the key (snapshot sharing).
        org_id: Let every principal of this organization use the key through the service.

    Raises:
        ConfigurationError: a malformed id or ARN, a principal outside the key account, no
            administrator, or one principal both administrator and user.
    """
    check_account(account)
    check_region(region)
    channel = via_service(service, region)
    admin_arns = _principals(admins, "administrator", account)
    user_arns = _principals(users, "key user", account)
    if not admin_arns:
        raise ConfigurationError(
            "no administrator: someone must keep kms:PutKeyPolicy or the key is locked out"
        )
    both = sorted(set(admin_arns) & set(user_arns))
    if both:
        raise ConfigurationError(f"{both[0]} is both administrator and user: separate the duties")
    if org_id is not None:
        check_org_id(org_id)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "KeyAdministration",
            "Effect": "Allow",
            "Principal": {"AWS": _one_or_list(admin_arns)},
            "Action": list(ADMIN_ACTIONS),
            "Resource": "*",
        }
    ]
    use_condition = {"StringEquals": {"kms:ViaService": channel, "kms:CallerAccount": account}}
    if user_arns:
        statements += [
            {
                "Sid": "KeyUseThroughService",
                "Effect": "Allow",
                "Principal": {"AWS": _one_or_list(user_arns)},
                "Action": list(USE_ACTIONS),
                "Resource": "*",
                "Condition": use_condition,
            },
            {
                "Sid": "GrantsForAWSResources",
                "Effect": "Allow",
                "Principal": {"AWS": _one_or_list(user_arns)},
                "Action": list(GRANT_ACTIONS),
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ]
    if org_id is not None:
        statements.append(
            {
                "Sid": "OrganizationUseThroughService",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": list(USE_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:ViaService": channel, "aws:PrincipalOrgID": org_id}
                },
            }
        )
    statements += cross_account_read_statements(external_accounts, service=service, region=region)
    return {
        "Version": "2012-10-17",
        "Id": f"cmkguard-{service}-key-policy",
        "Statement": statements,
    }


def admin_principals(policy: Mapping[str, Any]) -> tuple[str, ...]:
    """The principals of the `KeyAdministration` statement of a policy this module built."""
    for st in policy.get("Statement", ()):
        if st.get("Sid") == "KeyAdministration":
            aws = st["Principal"]["AWS"]
            return (aws,) if isinstance(aws, str) else tuple(aws)
    return ()
