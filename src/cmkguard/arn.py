"""ARN parsing and KMS key-identifier normalisation (pure: no AWS calls)."""

from __future__ import annotations

import re

import attrs

from cmkguard.types import AccountId, KeyArn, Region

__all__ = [
    "Arn",
    "KeyReference",
    "is_account_id",
    "is_org_id",
    "key_arn",
    "parse_arn",
    "parse_key_reference",
]

_ACCOUNT_RE = re.compile(r"[0-9]{12}")
_ORG_RE = re.compile(r"o-[a-z0-9]{10,32}")


def is_account_id(value: str) -> bool:
    """Whether `value` is exactly 12 ASCII digits (no trailing newline, no other digits)."""
    return _ACCOUNT_RE.fullmatch(value) is not None


def is_org_id(value: str) -> bool:
    """Whether `value` is an AWS Organizations id: `o-` and 10-32 lower-case letters/digits."""
    return _ORG_RE.fullmatch(value) is not None


@attrs.frozen
class Arn:
    """The parts of an ARN: `arn:<partition>:<service>:<region>:<account>:<resource>`."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse_arn(text: str) -> Arn:
    """Split an ARN into its parts; raise `ValueError` if `text` is not an ARN."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        raise ValueError(f"not an ARN: {text!r}")
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def key_arn(region: str, account: str, key_id: str, partition: str = "aws") -> KeyArn:
    """Build the ARN of a KMS key from its parts."""
    return KeyArn(f"arn:{partition}:kms:{region}:{account}:key/{key_id}")


@attrs.frozen
class KeyReference:
    """A KMS key identifier as a service reported it, taken apart.

    `kind` is `"key-arn"`, `"alias-arn"`, `"alias"` or `"key-id"`. `region` and
    `account` are known only for the ARN forms. `name` is the key id or the alias name
    (`alias/...`).
    """

    raw: str
    kind: str
    name: str
    region: Region | None = None
    account: AccountId | None = None

    @property
    def is_alias(self) -> bool:
        """Whether the reference names an alias rather than a key."""
        return self.kind in ("alias", "alias-arn")


def parse_key_reference(raw: str) -> KeyReference:
    """Classify a key identifier in any of the forms AWS services echo back.

    Raises `ValueError` for text that is none of them.
    """
    text = raw.strip()
    if text.startswith("arn:"):
        arn = parse_arn(text)
        if arn.service != "kms":
            raise ValueError(f"not a KMS key ARN: {raw!r}")
        region, account = Region(arn.region), AccountId(arn.account)
        if arn.resource.startswith("key/"):
            return KeyReference(raw, "key-arn", arn.resource[4:], region, account)
        if arn.resource.startswith("alias/"):
            return KeyReference(raw, "alias-arn", arn.resource, region, account)
        raise ValueError(f"not a KMS key ARN: {raw!r}")
    if text.startswith("alias/"):
        return KeyReference(raw, "alias", text)
    if text and "/" not in text and ":" not in text:
        return KeyReference(raw, "key-id", text)
    raise ValueError(f"not a KMS key identifier: {raw!r}")
