"""Service control policies that keep new RDS and Secrets Manager resources on approved CMKs.

Pure: documents are built from the facts of the Service Authorization Reference (see
docs/guardrails.md), minified, measured against the Organizations limit of 5,120 characters and
split when they do not fit. Nothing here calls AWS.

What an SCP cannot do is said in `ScpSet.notes`: SCPs do not apply to the management account or to
service-linked roles, and resource control policies do not apply to AWS-managed keys (so no RCP is
generated). What could not be verified offline is in `ScpSet.unverified`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from cmkguard.errors import ConfigurationError
from cmkguard.guardrails._ids import (
    check_alias_pattern,
    check_break_glass,
    check_key_arn,
    is_alias_form,
)

__all__ = [
    "MAX_SCPS_PER_TARGET",
    "RDS_STORAGE_ENCRYPTED_ACTIONS",
    "SCP_MAX_CHARS",
    "SCP_NOTES",
    "SCP_UNVERIFIED",
    "ApprovedKeys",
    "ScpSet",
    "ServiceControlPolicy",
    "approved_keys",
    "generate_scps",
    "minified",
]

SCP_MAX_CHARS = 5120
"""Organizations quota: an SCP document is at most 5,120 characters (whitespace counts)."""

MAX_SCPS_PER_TARGET = 5
"""Organizations quota: at most 5 SCPs attached to one root, OU or account."""

RDS_STORAGE_ENCRYPTED_ACTIONS: tuple[str, ...] = (
    "rds:CreateDBInstance",
    "rds:CreateDBCluster",
    "rds:CreateDBInstanceReadReplica",
    "rds:RestoreDBInstanceFromDBSnapshot",
    "rds:RestoreDBInstanceToPointInTime",
    "rds:RestoreDBInstanceFromS3",
    "rds:RestoreDBClusterFromS3",
)
"""The actions `rds:StorageEncrypted` applies to (Service Authorization Reference for RDS).

Not `RestoreDBClusterFromSnapshot`, `CopyDB*Snapshot` or `ModifyDBCluster`; and not to Aurora
instances in `CreateDBInstance` (their cluster holds the encryption setting).
"""

# The operations whose request carries a StorageEncrypted parameter (botocore's RDS model): the
# only ones where a missing condition key means "the caller did not ask for encryption".
# Instances and clusters apart: an Aurora *instance* takes its cluster's encryption (no flag to
# send), but an Aurora *cluster* created without the flag lands on an AWS owned key (default
# since 2026-02-18), which is not a CMK either, so clusters get no engine exception.
_EXPLICIT_FLAG_INSTANCE_ACTIONS: tuple[str, ...] = (
    "rds:CreateDBInstance",
    "rds:RestoreDBInstanceFromS3",
)
_EXPLICIT_FLAG_CLUSTER_ACTIONS: tuple[str, ...] = (
    "rds:CreateDBCluster",
    "rds:RestoreDBClusterFromS3",
)

SCP_NOTES: tuple[str, ...] = (
    "SCPs do not apply to the organization's management account or to service-linked roles: "
    "resources created there are not blocked (watch them with the alert rules and AWS Config).",
    "Resource control policies (RCPs) do not apply to AWS-managed keys, so cmkguard generates no "
    "RCP for aws/rds or aws/secretsmanager: these SCPs act on the callers instead.",
    "RDS has no condition key for the KMS key: the aws/rds guard denies kms:CreateGrant made "
    "through RDS on the key aliased alias/aws/rds (SCPs reach the KMS calls RDS makes for the "
    "caller through forward access sessions).",
    "Approved keys are listed by ARN (or an alias pattern), never key/*: a key/* pattern also "
    "matches the AWS-managed keys. No statement exempts aws:ViaAWSService, which would never "
    "block an AWS-managed key (it is only used through a service).",
    "A target holds at most 5 SCPs, FullAWSAccess included when it is attached.",
)
"""What every generated SCP set says about the limits of SCPs (shown in every output format)."""

SCP_UNVERIFIED: tuple[str, ...] = (
    "to verify: whether rds:StorageEncrypted is present when the request omits StorageEncrypted "
    "(the Null-safe statement denies requests without it for the operations that take the "
    "parameter, Aurora instances excepted).",
    "to verify: whether the kms:CreateGrant guard also stops CopyDBSnapshot, "
    "CopyDBClusterSnapshot and RestoreDBClusterFromSnapshot onto aws/rds.",
    "to verify: the value of secretsmanager:KmsKeyArn when the request names the key by alias, "
    'and when UpdateSecret sends KmsKeyId="" (revert to aws/secretsmanager); the KMS guard on '
    "alias/aws/secretsmanager covers the revert either way.",
)
"""Facts the SCPs depend on that could not be tested offline (never claimed as verified)."""


@attrs.frozen
class ApprovedKeys:
    """The keys new resources may use: exact key ARNs and alias patterns (`alias/cmk/*`).

    Build it with `approved_keys`, which refuses `key/*` wildcards and patterns that can match
    an `alias/aws/...` name.
    """

    key_arns: tuple[str, ...] = ()
    alias_patterns: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.key_arns or self.alias_patterns)

    def in_region(self, region: str) -> tuple[str, ...]:
        """The approved key ARNs of one region."""
        return tuple(a for a in self.key_arns if a.split(":")[3] == region)


def approved_keys(keys: Iterable[str]) -> ApprovedKeys:
    """Sort `keys` into exact key ARNs and alias patterns, refusing anything unsafe.

    Raises `ConfigurationError` for a key id without ARN, a wildcard in a key ARN, or an alias
    pattern that could match an AWS-managed alias.
    """
    if isinstance(keys, str):
        keys = [keys]
    arns: list[str] = []
    aliases: list[str] = []
    for key in keys:
        if isinstance(key, str) and is_alias_form(key):
            aliases.append(check_alias_pattern(key))
        else:
            arns.append(check_key_arn(key))
    return ApprovedKeys(tuple(dict.fromkeys(arns)), tuple(dict.fromkeys(aliases)))


def minified(document: Mapping[str, Any]) -> str:
    """The document as compact JSON: the text whose length counts against `SCP_MAX_CHARS`."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True)


@attrs.frozen
class ServiceControlPolicy:
    """One SCP: its name, description, document and minified size in characters."""

    name: str
    description: str
    document: Mapping[str, Any] = attrs.field(hash=False)

    @property
    def text(self) -> str:
        """The minified JSON text to send to Organizations."""
        return minified(self.document)

    @property
    def size(self) -> int:
        """Characters of the minified text (the limit is `SCP_MAX_CHARS`)."""
        return len(self.text)

    @property
    def sids(self) -> tuple[str, ...]:
        """The statement ids, in order."""
        return tuple(str(s.get("Sid", "")) for s in self.document["Statement"])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: name, description, size and document."""
        return {
            "name": self.name,
            "description": self.description,
            "size": self.size,
            "document": json.loads(self.text),
        }


@attrs.frozen
class ScpSet:
    """The generated SCPs with what they cannot do (`notes`) and what is unverified."""

    policies: tuple[ServiceControlPolicy, ...]
    approved: ApprovedKeys
    notes: tuple[str, ...] = SCP_NOTES
    unverified: tuple[str, ...] = SCP_UNVERIFIED

    @property
    def documents(self) -> list[dict[str, Any]]:
        """One policy document per SCP (what `cmkguard guardrails scp` prints)."""
        return [json.loads(p.text) for p in self.policies]

    @property
    def sizes(self) -> dict[str, int]:
        """Minified size of each SCP, by name."""
        return {p.name: p.size for p in self.policies}

    @property
    def statements(self) -> list[dict[str, Any]]:
        """Every statement of every SCP, in order."""
        return [s for doc in self.documents for s in doc["Statement"]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: the policies with their sizes, the notes, the unverified facts."""
        return {
            "policies": [p.to_dict() for p in self.policies],
            "limits": {"max_chars": SCP_MAX_CHARS, "max_per_target": MAX_SCPS_PER_TARGET},
            "notes": list(self.notes),
            "unverified": list(self.unverified),
        }


def _exempt(condition: dict[str, Any], break_glass: tuple[str, ...]) -> dict[str, Any]:
    if break_glass:
        block = condition.setdefault("ArnNotLike", {})
        block["aws:PrincipalArn"] = list(break_glass)
    return condition


def _statement(sid: str, actions: Iterable[str], condition: dict[str, Any]) -> dict[str, Any]:
    acts = list(actions)
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Action": acts[0] if len(acts) == 1 else acts,
        "Resource": "*",
        "Condition": condition,
    }


def _rds_statements(null_safe: bool, exempt: tuple[str, ...]) -> list[dict[str, Any]]:
    out = [
        _statement(
            "DenyUnencryptedRds",
            RDS_STORAGE_ENCRYPTED_ACTIONS,
            _exempt({"Bool": {"rds:StorageEncrypted": "false"}}, exempt),
        )
    ]
    if null_safe:
        out += [
            _statement(
                "DenyRdsWithoutEncryptionFlag",
                _EXPLICIT_FLAG_INSTANCE_ACTIONS,
                _exempt(
                    {
                        "Null": {"rds:StorageEncrypted": "true"},
                        # Aurora instances take their cluster's encryption: no flag to send.
                        "StringNotLike": {"rds:DatabaseEngine": "aurora*"},
                    },
                    exempt,
                ),
            ),
            _statement(
                "DenyRdsClusterWithoutEncryptionFlag",
                _EXPLICIT_FLAG_CLUSTER_ACTIONS,
                _exempt({"Null": {"rds:StorageEncrypted": "true"}}, exempt),
            ),
        ]
    out.append(
        _statement(
            "DenyRdsOnAwsManagedKey",
            ["kms:CreateGrant"],
            _exempt(
                {
                    "StringLike": {"kms:ViaService": "rds.*.amazonaws.com"},
                    "ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/aws/rds"},
                },
                exempt,
            ),
        )
    )
    return out


def _approved_values(approved: ApprovedKeys) -> list[str]:
    # Alias patterns as alias ARNs in any region/account of the partitions the key ARNs use.
    partitions = sorted({a.split(":")[1] for a in approved.key_arns} or {"aws"})
    values = list(approved.key_arns)
    for alias in approved.alias_patterns:
        values.extend(f"arn:{p}:kms:*:*:{alias}" for p in partitions)
    return values


def _secret_statements(
    approved: ApprovedKeys, block_writes: bool, exempt: tuple[str, ...]
) -> list[dict[str, Any]]:
    values = _approved_values(approved)
    out = [
        # Negated ARN operator: a CreateSecret without KmsKeyId (the default key) is denied too.
        _statement(
            "DenySecretOnUnapprovedKey",
            ["secretsmanager:CreateSecret"],
            _exempt({"ArnNotLike": {"secretsmanager:KmsKeyArn": values}}, exempt),
        ),
        # Only when the request names a key: an UpdateSecret of the description passes.
        _statement(
            "DenySecretKeyChangeToUnapproved",
            ["secretsmanager:UpdateSecret"],
            _exempt(
                {
                    "ArnNotLike": {"secretsmanager:KmsKeyArn": values},
                    "Null": {"secretsmanager:KmsKeyArn": "false"},
                },
                exempt,
            ),
        ),
    ]
    if block_writes:
        # ReplicateSecretToRegions has no key condition, and UpdateSecret(KmsKeyId="") reverts
        # to the AWS-managed key: stop Secrets Manager from encrypting with it. Decrypt stays
        # allowed so secrets not migrated yet remain readable.
        out.append(
            _statement(
                "DenySecretsOnAwsManagedKey",
                ["kms:GenerateDataKey*", "kms:Encrypt"],
                _exempt(
                    {
                        "StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"},
                        "ForAnyValue:StringLike": {
                            "kms:ResourceAliases": "alias/aws/secretsmanager"
                        },
                    },
                    exempt,
                ),
            )
        )
    return out


_WRITES_NOTE = (
    "DenySecretsOnAwsManagedKey also stops new versions (PutSecretValue, rotation) of secrets "
    "still on aws/secretsmanager: attach it once they are migrated (existing versions stay "
    "readable: kms:Decrypt is not denied)."
)


def generate_scps(
    approved: Iterable[str] | ApprovedKeys,
    *,
    break_glass: Iterable[str] = (),
    null_safe: bool = True,
    block_aws_managed_secret_writes: bool = True,
    name_prefix: str = "cmkguard",
    max_policies: int = MAX_SCPS_PER_TARGET,
) -> ScpSet:
    """The SCPs that keep new RDS and Secrets Manager resources off AWS-managed keys.

    Args:
        approved: Key ARNs and alias patterns new secrets may use (see `approved_keys`).
        break_glass: Role ARN patterns exempted from every statement (`ArnNotLike
            aws:PrincipalArn`); each must name its account.
        null_safe: Also deny RDS creations whose request carries no `rds:StorageEncrypted`
            (Aurora instances excepted; Aurora clusters included, as without the flag they
            land on an AWS owned key): safe whether or not the key is present when omitted.
        block_aws_managed_secret_writes: Deny `kms:GenerateDataKey*`/`kms:Encrypt` through
            Secrets Manager on `alias/aws/secretsmanager` (replicas, reverts).
        name_prefix: Prefix of the SCP names.
        max_policies: How many SCPs the target can still take (at most 5).

    Returns:
        An `ScpSet`: minified documents of at most `SCP_MAX_CHARS` characters each.

    Raises:
        ConfigurationError: no approved key, an unsafe key pattern, a statement too large for
            one SCP (a negated key list cannot be split), or more SCPs than `max_policies`.
    """
    keys = approved if isinstance(approved, ApprovedKeys) else approved_keys(approved)
    if not keys:
        raise ConfigurationError("no approved key: name at least one key ARN or alias pattern")
    if not 1 <= max_policies <= MAX_SCPS_PER_TARGET:
        raise ConfigurationError(f"max_policies must be 1..{MAX_SCPS_PER_TARGET}")
    exempt = check_break_glass(break_glass)
    statements = _rds_statements(null_safe, exempt) + _secret_statements(
        keys, block_aws_managed_secret_writes, exempt
    )
    groups = _pack(statements)
    if len(groups) > max_policies:
        raise ConfigurationError(
            f"the guardrails need {len(groups)} SCPs but the target can take {max_policies}: "
            "approve keys by alias pattern to shorten the key list"
        )
    policies = tuple(
        ServiceControlPolicy(
            f"{name_prefix}-cmk-guardrails" + (f"-{i}" if len(groups) > 1 else ""),
            "cmkguard: new RDS and Secrets Manager resources on approved KMS keys only "
            f"(statements {', '.join(s['Sid'] for s in group)})",
            {"Version": "2012-10-17", "Statement": group},
        )
        for i, group in enumerate(groups, start=1)
    )
    notes = SCP_NOTES + ((_WRITES_NOTE,) if block_aws_managed_secret_writes else ())
    return ScpSet(policies, keys, notes)


_ENVELOPE = len(minified({"Version": "2012-10-17", "Statement": []}))


def _pack(statements: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """First-fit, in order, into documents of at most `SCP_MAX_CHARS` characters.

    Statements are never cut: a Deny with a negated key list (`ArnNotLike`) split in two would
    deny every key of the other half.
    """
    groups: list[list[dict[str, Any]]] = []
    sizes: list[int] = []
    for st in statements:
        size = len(minified(st))
        if _ENVELOPE + size > SCP_MAX_CHARS:
            raise ConfigurationError(
                f"statement {st['Sid']} alone is {_ENVELOPE + size} characters (an SCP holds "
                f"{SCP_MAX_CHARS}): approve keys by alias pattern to shorten the key list"
            )
        for i, used in enumerate(sizes):
            if used + 1 + size <= SCP_MAX_CHARS:
                groups[i].append(st)
                sizes[i] = used + 1 + size
                break
        else:
            groups.append([st])
            sizes.append(_ENVELOPE + size)
    return groups
