"""AWS Config managed rules for CMK coverage, with parameters filled from the approved keys.

Pure. Config rules are regional: `config_rules` builds one set per region, naming the approved
keys of that region. `CONFIG_RULE_PARAMETERS` is the parameter schema of each managed rule (from
the AWS Config developer guide's managed-rule list); every generated rule is checked against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from cmkguard.errors import ConfigurationError
from cmkguard.guardrails._ids import check_region
from cmkguard.guardrails.scp import ApprovedKeys, approved_keys

__all__ = [
    "CONFIG_RULE_PARAMETERS",
    "CONFIG_RULE_SCHEMA",
    "ConfigRule",
    "check_config_rule",
    "config_rules",
]

CONFIG_RULE_PARAMETERS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "RDS_STORAGE_ENCRYPTED": MappingProxyType({"kmsKeyId": "String"}),
        "SECRETSMANAGER_USING_CMK": MappingProxyType({"kmsKeyArns": "CSV"}),
        "KMS_CMK_NOT_SCHEDULED_FOR_DELETION": MappingProxyType({"kmsKeyIds": "String"}),
        "CMK_BACKING_KEY_ROTATION_ENABLED": MappingProxyType({}),
    }
)
"""Managed rule identifier -> its (optional) parameters and their types."""

_RESOURCE_TYPES = {
    "RDS_STORAGE_ENCRYPTED": ["AWS::RDS::DBInstance"],
    "SECRETSMANAGER_USING_CMK": ["AWS::SecretsManager::Secret"],
    "KMS_CMK_NOT_SCHEDULED_FOR_DELETION": ["AWS::KMS::Key"],
    "CMK_BACKING_KEY_ROTATION_ENABLED": ["AWS::KMS::Key"],
}
_PERIODIC = {"KMS_CMK_NOT_SCHEDULED_FOR_DELETION", "CMK_BACKING_KEY_ROTATION_ENABLED"}

CONFIG_RULE_SCHEMA: Mapping[str, Any] = MappingProxyType(
    {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["ConfigRuleName", "Source"],
        "additionalProperties": False,
        "properties": {
            "ConfigRuleName": {"type": "string", "minLength": 1, "maxLength": 128},
            "Description": {"type": "string", "maxLength": 256},
            "Source": {
                "type": "object",
                "required": ["Owner", "SourceIdentifier"],
                "additionalProperties": False,
                "properties": {
                    "Owner": {"const": "AWS"},
                    "SourceIdentifier": {"enum": sorted(CONFIG_RULE_PARAMETERS)},
                },
            },
            "InputParameters": {"type": "string", "minLength": 1, "maxLength": 1024},
            "Scope": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "ComplianceResourceTypes": {
                        "type": "array",
                        "items": {"type": "string", "pattern": "^AWS::[A-Za-z0-9]+::[A-Za-z]+$"},
                    }
                },
            },
            "MaximumExecutionFrequency": {
                "enum": ["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"]
            },
        },
    }
)
"""JSON Schema of a `PutConfigRule` `ConfigRule` as this module writes it (botocore's limits)."""


@attrs.frozen
class ConfigRule:
    """One managed rule in one region: `PutConfigRule`'s `ConfigRule` via `to_dict`."""

    name: str
    identifier: str
    region: str
    description: str
    parameters: Mapping[str, str] = attrs.field(factory=dict, hash=False)

    def __attrs_post_init__(self) -> None:
        check_config_rule(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """The `ConfigRule` argument of `PutConfigRule`."""
        rule: dict[str, Any] = {
            "ConfigRuleName": self.name,
            "Description": self.description,
            "Source": {"Owner": "AWS", "SourceIdentifier": self.identifier},
            "Scope": {"ComplianceResourceTypes": list(_RESOURCE_TYPES[self.identifier])},
        }
        if self.parameters:
            rule["InputParameters"] = json.dumps(dict(self.parameters), sort_keys=True)
        if self.identifier in _PERIODIC:
            rule["MaximumExecutionFrequency"] = "TwentyFour_Hours"
            del rule["Scope"]  # periodic rules evaluate the account, not changed resources
        return rule


def check_config_rule(rule: Mapping[str, Any]) -> None:
    """Check a `ConfigRule` mapping: its shape, its identifier, its parameters' names and types.

    Raises `ConfigurationError` naming the rule and the problem. (The shape is also available
    as `CONFIG_RULE_SCHEMA` for a JSON Schema validator.)
    """
    name = rule.get("ConfigRuleName", "?")
    source = rule.get("Source") or {}
    ident = source.get("SourceIdentifier")
    if source.get("Owner") != "AWS" or ident not in CONFIG_RULE_PARAMETERS:
        raise ConfigurationError(f"config rule {name}: unknown managed rule {ident!r}")
    if not 1 <= len(str(name)) <= 128:
        raise ConfigurationError(f"config rule {name}: name must be 1-128 characters")
    text = rule.get("InputParameters")
    if text is None:
        return
    if len(text) > 1024:
        raise ConfigurationError(f"config rule {name}: InputParameters over 1,024 characters")
    params = json.loads(text)
    allowed = CONFIG_RULE_PARAMETERS[str(ident)]
    for key, value in params.items():
        if key not in allowed:
            raise ConfigurationError(f"config rule {name}: {ident} has no parameter {key!r}")
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"config rule {name}: {key} must be a non-empty string")
        if allowed[key] == "String" and "," in value and ident == "RDS_STORAGE_ENCRYPTED":
            raise ConfigurationError(f"config rule {name}: {key} takes one key, not a list")


def config_rules(
    approved: Iterable[str] | ApprovedKeys,
    *,
    regions: Iterable[str],
    name_prefix: str = "cmkguard",
) -> tuple[ConfigRule, ...]:
    """The managed rules for each of `regions`, parameters from that region's approved keys.

    `rds-storage-encrypted` takes one `kmsKeyId`: it is set when the region has exactly one
    approved key ARN, otherwise left out (the rule then checks encryption only; the audit
    checks the key). `secretsmanager-using-cmk` lists the region's approved key ARNs;
    `kms-cmk-not-scheduled-for-deletion` watches them.
    """
    keys = approved if isinstance(approved, ApprovedKeys) else approved_keys(approved)
    region_list = [check_region(r) for r in dict.fromkeys(regions)]
    if not region_list:
        raise ConfigurationError("no region: Config rules are regional, name at least one")
    out: list[ConfigRule] = []
    for region in region_list:
        arns = keys.in_region(region)
        rds = {"kmsKeyId": arns[0]} if len(arns) == 1 else {}
        csv = {"kmsKeyArns": ",".join(arns)} if arns else {}
        ids = {"kmsKeyIds": ",".join(a.rsplit("/", 1)[1] for a in arns)} if arns else {}
        out += [
            ConfigRule(
                f"{name_prefix}-rds-storage-encrypted",
                "RDS_STORAGE_ENCRYPTED",
                region,
                "RDS instances are encrypted"
                + (" with the approved key" if rds else " (key checked by cmkguard audit)"),
                rds,
            ),
            ConfigRule(
                f"{name_prefix}-secretsmanager-using-cmk",
                "SECRETSMANAGER_USING_CMK",
                region,
                "Secrets use a customer-managed key" + (" (approved keys)" if csv else ""),
                csv,
            ),
            ConfigRule(
                f"{name_prefix}-kms-cmk-not-scheduled-for-deletion",
                "KMS_CMK_NOT_SCHEDULED_FOR_DELETION",
                region,
                "Customer-managed keys are not pending deletion",
                ids,
            ),
            ConfigRule(
                f"{name_prefix}-cmk-backing-key-rotation-enabled",
                "CMK_BACKING_KEY_ROTATION_ENABLED",
                region,
                "Automatic rotation is on for customer-managed keys",
            ),
        ]
    return tuple(out)
