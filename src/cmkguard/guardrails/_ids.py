"""Validation of the identifiers guardrails are built from (pure).

Every check raises `ConfigurationError` naming the argument and the value, so the CLI can print
it on one line. Account and org ids use the shared checks of `cmkguard.arn`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cmkguard.arn import is_account_id, is_org_id
from cmkguard.errors import ConfigurationError

__all__ = [
    "PARTITIONS",
    "check_account",
    "check_alias_pattern",
    "check_break_glass",
    "check_key_arn",
    "check_org_id",
    "check_principal_arn",
    "check_region",
    "is_alias_form",
    "overlaps_aws_managed_alias",
]

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
"""The partitions an ARN may name."""

_PARTITION = "(?:aws|aws-cn|aws-us-gov)"
_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]")
_KEY_ARN_RE = re.compile(
    rf"arn:{_PARTITION}:kms:[a-z]{{2}}(?:-[a-z]+)+-[0-9]:[0-9]{{12}}:key/[A-Za-z0-9-]+"
)
_ALIAS_NAME_RE = re.compile(r"alias/[A-Za-z0-9/_*?-]+")
_ALIAS_ARN_RE = re.compile(
    rf"arn:{_PARTITION}:kms:(?:\*|[a-z0-9-]+):(?:\*|[0-9]{{12}}):(alias/[A-Za-z0-9/_*?-]+)"
)
_PRINCIPAL_RE = re.compile(rf"arn:{_PARTITION}:iam::[0-9]{{12}}:(?:role|user)/[\w+=,.@/-]+")
_AWS_MANAGED_PREFIX = "alias/aws/"


def check_region(region: str, what: str = "region") -> str:
    """A region name such as `eu-west-1`."""
    if not isinstance(region, str) or not _REGION_RE.fullmatch(region):
        raise ConfigurationError(f"{what} {region!r} is not a region name (e.g. eu-west-1)")
    return region


def check_account(account: str, what: str = "account") -> str:
    """A 12-digit account id."""
    if not isinstance(account, str) or not is_account_id(account):
        raise ConfigurationError(f"{what} {account!r} is not a 12-digit account id")
    return account


def check_org_id(org_id: str, what: str = "org id") -> str:
    """An organization id (`o-` and 10-32 lower-case letters or digits)."""
    if not isinstance(org_id, str) or not is_org_id(org_id):
        raise ConfigurationError(f"{what} {org_id!r} is not an organization id (o-...)")
    return org_id


def check_key_arn(arn: str, what: str = "approved key") -> str:
    """An exact KMS key ARN: no wildcard anywhere (`key/*` also matches AWS-managed keys)."""
    if not isinstance(arn, str):
        raise ConfigurationError(f"{what} {arn!r} is not a key ARN")
    if "*" in arn or "?" in arn:
        raise ConfigurationError(
            f"{what} {arn!r} has a wildcard: a key ARN pattern such as key/* also matches the "
            "AWS-managed keys (aws/rds, aws/secretsmanager); list keys by ARN or use an alias "
            "pattern"
        )
    if not _KEY_ARN_RE.fullmatch(arn):
        raise ConfigurationError(
            f"{what} {arn!r} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)"
        )
    return arn


def is_alias_form(text: str) -> bool:
    """Whether `text` names an alias (`alias/...` or an alias ARN) rather than a key."""
    return text.startswith("alias/") or (text.startswith("arn:") and ":alias/" in text)


def overlaps_aws_managed_alias(alias_pattern: str) -> bool:
    """Whether the glob `alias_pattern` can match an `alias/aws/...` name.

    Exact for `*`/`?` globs: a match of some `alias/aws/<x>` exists iff the literal text before
    the first wildcard and `alias/aws/` agree on their common length (the rest of the pattern
    can then be satisfied by a suitable `<x>`, which is free).
    """
    cut = min((i for i, c in enumerate(alias_pattern) if c in "*?"), default=len(alias_pattern))
    literal = alias_pattern[:cut]
    n = min(len(literal), len(_AWS_MANAGED_PREFIX))
    if literal[:n] != _AWS_MANAGED_PREFIX[:n]:
        return False
    # Without a wildcard the name itself must be at least as long as the reserved prefix.
    return cut < len(alias_pattern) or len(literal) >= len(_AWS_MANAGED_PREFIX)


def check_alias_pattern(text: str, what: str = "approved key") -> str:
    """An alias name or alias ARN (wildcards allowed) that can never name an AWS-managed key.

    Returns the alias part (`alias/...`).
    """
    m = _ALIAS_ARN_RE.fullmatch(text) if text.startswith("arn:") else None
    alias = m.group(1) if m else text
    if not _ALIAS_NAME_RE.fullmatch(alias):
        raise ConfigurationError(f"{what} {text!r} is not an alias name or alias ARN")
    if overlaps_aws_managed_alias(alias):
        raise ConfigurationError(
            f"{what} {text!r} can match an AWS-managed alias (alias/aws/...): "
            "use a prefix of your own, e.g. alias/cmk/*"
        )
    return alias


def check_principal_arn(arn: str, what: str) -> str:
    """An IAM role or user ARN without wildcards (key policies do not expand them)."""
    if not isinstance(arn, str) or not _PRINCIPAL_RE.fullmatch(arn) or "*" in arn:
        raise ConfigurationError(
            f"{what} {arn!r} is not an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)"
        )
    return arn


def check_break_glass(patterns: Iterable[str]) -> tuple[str, ...]:
    """Principal ARN patterns exempted from the SCPs (`ArnNotLike aws:PrincipalArn`).

    Each must pin an account (a wildcard account would exempt everyone).
    """
    out = []
    for p in patterns:
        parts = p.split(":", 5) if isinstance(p, str) else []
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or "/" not in parts[5]:
            raise ConfigurationError(
                f"break-glass principal {p!r} is not an IAM role ARN pattern "
                "(arn:aws:iam::<account>:role/<name>, * allowed in the name)"
            )
        if parts[1] not in PARTITIONS or not is_account_id(parts[4]):
            raise ConfigurationError(
                f"break-glass principal {p!r} must name its partition and 12-digit account "
                "(a wildcard account would exempt every caller)"
            )
        out.append(p)
    return tuple(dict.fromkeys(out))


def check_org(org_id: str | None) -> str | None:
    """`None` or a valid org id."""
    return None if org_id is None else check_org_id(org_id)


def is_org(value: str) -> bool:
    """Whether `value` is an org id."""
    return is_org_id(value)
