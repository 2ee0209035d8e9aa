"""Guardrails as users deploy them: JSON documents, a CloudFormation template, Terraform JSON.

Pure text builders over the generated values. CloudFormation and Terraform carry the notes and
unverified facts (a template `Description`/`Metadata`, Terraform `//` comments), so the limits of
the guardrails travel with them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cmkguard.errors import ConfigurationError
from cmkguard.guardrails.alerts import AlertRule
from cmkguard.guardrails.config_rule import ConfigRule
from cmkguard.guardrails.scp import ScpSet

__all__ = [
    "FORMATS",
    "render_alerts",
    "render_config_rules",
    "render_key",
    "render_scps",
]

FORMATS = ("json", "cloudformation", "terraform")
"""The output formats of every guardrail set."""

_CFN_VERSION = "2010-09-09"


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigurationError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")


def _dump(doc: Any) -> str:
    return json.dumps(doc, indent=2) + "\n"


def _logical_id(name: str) -> str:
    """A CloudFormation logical id (alphanumeric) from a resource name."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _tf_name(name: str) -> str:
    """A Terraform resource name from a resource name."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _description(lines: Iterable[str], limit: int = 1024) -> str:
    text = " ".join(lines)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_scps(scps: ScpSet, fmt: str = "json") -> str:
    """The SCPs: a JSON array of documents, a CloudFormation template or Terraform JSON.

    The templates attach every policy to the targets given at deploy time (`TargetIds` /
    `var.target_ids`: root, OU or account ids).
    """
    _check_format(fmt)
    if fmt == "json":
        return _dump(scps.documents)
    notes = [*scps.notes, *scps.unverified]
    if fmt == "cloudformation":
        resources = {
            _logical_id(p.name): {
                "Type": "AWS::Organizations::Policy",
                "Properties": {
                    "Name": p.name,
                    "Description": p.description,
                    "Type": "SERVICE_CONTROL_POLICY",
                    "Content": json.loads(p.text),
                    "TargetIds": {"Ref": "TargetIds"},
                },
            }
            for p in scps.policies
        }
        return _dump(
            {
                "AWSTemplateFormatVersion": _CFN_VERSION,
                "Description": _description(["cmkguard SCP guardrails.", scps.notes[0]]),
                "Metadata": {"cmkguard": {"notes": notes, "sizes": scps.sizes}},
                "Parameters": {
                    "TargetIds": {
                        "Type": "CommaDelimitedList",
                        "Description": "Root, OU or account ids to attach the SCPs to",
                    }
                },
                "Resources": resources,
            }
        )
    policies: dict[str, Any] = {}
    attachments: dict[str, Any] = {}
    for p in scps.policies:
        name = _tf_name(p.name)
        policies[name] = {
            "name": p.name,
            "description": p.description,
            "type": "SERVICE_CONTROL_POLICY",
            "content": p.text,
        }
        attachments[name] = {
            "for_each": "${toset(var.target_ids)}",
            "policy_id": f"${{aws_organizations_policy.{name}.id}}",
            "target_id": "${each.value}",
        }
    return _dump(
        {
            "//": notes,
            "variable": {
                "target_ids": {
                    "type": "list(string)",
                    "description": "Root, OU or account ids to attach the SCPs to",
                }
            },
            "resource": {
                "aws_organizations_policy": policies,
                "aws_organizations_policy_attachment": attachments,
            },
        }
    )


def render_key(
    policy: Mapping[str, Any],
    fmt: str = "json",
    *,
    tags: Sequence[Mapping[str, str]] = (),
    description: str = "Customer-managed key (cmkguard least-privilege policy)",
    alias: str | None = None,
) -> str:
    """A key policy document (json), or a key with that policy, its tags and rotation on.

    `tags` is the KMS list from `key_tags`; `alias` (`alias/...`) adds an alias resource.
    """
    _check_format(fmt)
    if fmt == "json":
        return _dump(policy)
    if alias is not None and not re.fullmatch(r"alias/(?!aws/)[A-Za-z0-9/_-]+", alias):
        raise ConfigurationError(f"alias {alias!r} is not alias/<name> (alias/aws/ is reserved)")
    if fmt == "cloudformation":
        resources: dict[str, Any] = {
            "Key": {
                "Type": "AWS::KMS::Key",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "Description": description,
                    "EnableKeyRotation": True,
                    "PendingWindowInDays": 30,
                    "KeyPolicy": policy,
                    "Tags": [{"Key": t["TagKey"], "Value": t["TagValue"]} for t in tags],
                },
            }
        }
        if alias:
            resources["KeyAlias"] = {
                "Type": "AWS::KMS::Alias",
                "Properties": {"AliasName": alias, "TargetKeyId": {"Ref": "Key"}},
            }
        return _dump(
            {
                "AWSTemplateFormatVersion": _CFN_VERSION,
                "Description": "cmkguard customer-managed key",
                "Resources": resources,
                "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}},
            }
        )
    resource: dict[str, Any] = {
        "aws_kms_key": {
            "cmk": {
                "description": description,
                "enable_key_rotation": True,
                "deletion_window_in_days": 30,
                "policy": json.dumps(policy),
                "tags": {t["TagKey"]: t["TagValue"] for t in tags},
            }
        }
    }
    if alias:
        resource["aws_kms_alias"] = {
            "cmk": {"name": alias, "target_key_id": "${aws_kms_key.cmk.key_id}"}
        }
    return _dump({"resource": resource, "output": {"key_arn": {"value": "${aws_kms_key.cmk.arn}"}}})


def render_alerts(rules: Sequence[AlertRule], fmt: str = "json") -> str:
    """The EventBridge rules: `PutRule` documents, or templates sending to one target.

    The templates take the target (an SNS topic, a Lambda...) as `AlertTargetArn` /
    `var.alert_target_arn`.
    """
    _check_format(fmt)
    if fmt == "json":
        return _dump([r.to_dict() for r in rules])
    if fmt == "cloudformation":
        return _dump(
            {
                "AWSTemplateFormatVersion": _CFN_VERSION,
                "Description": "cmkguard alert rules (deploy in every region you use)",
                "Parameters": {
                    "AlertTargetArn": {"Type": "String", "Description": "Where alerts go"}
                },
                "Resources": {
                    _logical_id(r.name): {
                        "Type": "AWS::Events::Rule",
                        "Properties": {
                            "Name": r.name,
                            "Description": r.description[:512],
                            "State": "ENABLED",
                            "EventPattern": dict(r.pattern),
                            "Targets": [{"Arn": {"Ref": "AlertTargetArn"}, "Id": "alert"}],
                        },
                    }
                    for r in rules
                },
            }
        )
    return _dump(
        {
            "//": "cmkguard alert rules: apply with a provider per region you use",
            "variable": {"alert_target_arn": {"type": "string", "description": "Where alerts go"}},
            "resource": {
                "aws_cloudwatch_event_rule": {
                    _tf_name(r.name): {
                        "name": r.name,
                        "description": r.description[:512],
                        "event_pattern": json.dumps(dict(r.pattern)),
                    }
                    for r in rules
                },
                "aws_cloudwatch_event_target": {
                    _tf_name(r.name): {
                        "rule": f"${{aws_cloudwatch_event_rule.{_tf_name(r.name)}.name}}",
                        "arn": "${var.alert_target_arn}",
                    }
                    for r in rules
                },
            },
        }
    )


def render_config_rules(rules: Sequence[ConfigRule], fmt: str = "json") -> str:
    """The Config rules: `PutConfigRule` documents with their region, or templates.

    CloudFormation is regional: the output is an object with one template per region.
    Terraform gets one aliased provider per region.
    """
    _check_format(fmt)
    if fmt == "json":
        return _dump([{"Region": r.region, "ConfigRule": r.to_dict()} for r in rules])
    regions = list(dict.fromkeys(r.region for r in rules))
    if fmt == "cloudformation":
        return _dump(
            {
                region: _config_template([r for r in rules if r.region == region])
                for region in regions
            }
        )
    resources: dict[str, Any] = {}
    for r in rules:
        rule = r.to_dict()
        body: dict[str, Any] = {
            "provider": f"aws.{_tf_name(r.region)}",
            "name": r.name,
            "description": r.description,
            "source": {"owner": "AWS", "source_identifier": r.identifier},
        }
        if "InputParameters" in rule:
            body["input_parameters"] = rule["InputParameters"]
        if "Scope" in rule:
            body["scope"] = {"compliance_resource_types": rule["Scope"]["ComplianceResourceTypes"]}
        if "MaximumExecutionFrequency" in rule:
            body["maximum_execution_frequency"] = rule["MaximumExecutionFrequency"]
        resources[_tf_name(f"{r.name}-{r.region}")] = body
    return _dump(
        {
            "//": "AWS Config must be recording in each region (a configuration recorder)",
            "provider": {"aws": [{"alias": _tf_name(g), "region": g} for g in regions]},
            "resource": {"aws_config_config_rule": resources},
        }
    )


def _config_template(rules: Sequence[ConfigRule]) -> dict[str, Any]:
    resources = {}
    for r in rules:
        rule = r.to_dict()
        props: dict[str, Any] = {
            "ConfigRuleName": r.name,
            "Description": r.description,
            "Source": rule["Source"],
        }
        if "InputParameters" in rule:
            props["InputParameters"] = json.loads(rule["InputParameters"])
        for field in ("Scope", "MaximumExecutionFrequency"):
            if field in rule:
                props[field] = rule[field]
        resources[_logical_id(r.name)] = {"Type": "AWS::Config::ConfigRule", "Properties": props}
    return {
        "AWSTemplateFormatVersion": _CFN_VERSION,
        "Description": "cmkguard AWS Config rules (AWS Config must be recording)",
        "Resources": resources,
    }
