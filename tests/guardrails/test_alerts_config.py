"""Alert rules and AWS Config rules: valid syntax, the right events, parameters AWS accepts.

Oracles: moto's EventBridge pattern matcher (a second implementation of the pattern language)
on sample CloudTrail events, `PutRule` and `PutConfigRule` on the emulated account (moto checks
managed-rule identifiers and parameter names against its copy of the AWS managed-rule list),
and the JSON Schema `CONFIG_RULE_SCHEMA` through jsonschema.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import moto
import pytest
from moto.events.models import EventPattern

from cmkguard.errors import ConfigurationError
from cmkguard.guardrails import (
    CONFIG_RULE_PARAMETERS,
    CONFIG_RULE_SCHEMA,
    HIGH_RISK_KMS_EVENTS,
    alert_rules,
    check_config_rule,
    config_rules,
    event_matches,
    validate_event_pattern,
)

from .conftest import ACCOUNT, key_arn

RULES = {r.name.removeprefix("cmkguard-"): r for r in alert_rules()}


def _event(
    source: str, name: str, params: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    service = source.removeprefix("aws.")
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS API Call via CloudTrail",
        "source": source,
        "account": ACCOUNT,
        "time": "2026-12-07T05:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "eventSource": f"{service}.amazonaws.com",
            "eventName": name,
            "userIdentity": extra.pop("identity", {"type": "AssumedRole"}),
            "requestParameters": params,
            **extra,
        },
    }


CASES = [
    ("kms-high-risk", _event("aws.kms", "ScheduleKeyDeletion", {"keyId": "k"}), True),
    ("kms-high-risk", _event("aws.kms", "Decrypt", {"keyId": "k"}), False),
    ("kms-grant-by-caller", _event("aws.kms", "CreateGrant", {"keyId": "k"}), True),
    (
        "kms-grant-by-caller",
        _event(
            "aws.kms",
            "CreateGrant",
            {"keyId": "k"},
            identity={"type": "AssumedRole", "invokedBy": "rds.amazonaws.com"},
        ),
        False,
    ),
    (
        "rds-default-key",
        _event("aws.rds", "CreateDBInstance", {"dBInstanceIdentifier": "db"}),
        True,
    ),
    ("rds-default-key", _event("aws.rds", "CreateDBCluster", {"kmsKeyId": "alias/aws/rds"}), True),
    (
        "rds-default-key",
        _event("aws.rds", "CopyDBSnapshot", {"kmsKeyId": key_arn("eu-west-1", ACCOUNT, 1)}),
        False,
    ),
    (
        "rds-default-key",
        _event("aws.rds", "DeleteDBInstance", {"dBInstanceIdentifier": "db"}),
        False,
    ),
    ("secret-default-key", _event("aws.secretsmanager", "CreateSecret", {"name": "s"}), True),
    (
        "secret-default-key",
        _event("aws.secretsmanager", "CreateSecret", {"name": "s", "kmsKeyId": "alias/cmk/app"}),
        False,
    ),
    ("secret-default-key", _event("aws.secretsmanager", "UpdateSecret", {"kmsKeyId": ""}), True),
    (
        "secret-default-key",
        _event("aws.secretsmanager", "UpdateSecret", {"description": "only the description"}),
        False,
    ),
    (
        "secret-default-key",
        _event("aws.secretsmanager", "ReplicateSecretToRegions", {"secretId": "s"}),
        True,
    ),
]


@pytest.mark.parametrize(("rule", "event", "expected"), CASES)
def test_alert_patterns_match_what_they_should(
    rule: str, event: dict[str, Any], expected: bool
) -> None:
    pattern = RULES[rule].pattern
    assert event_matches(pattern, event) is expected
    # moto's implementation of the pattern language agrees.
    assert EventPattern.load(json.dumps(pattern)).matches_event(event) is expected


def test_every_high_risk_kms_event_of_the_issue_is_watched() -> None:
    names = RULES["kms-high-risk"].pattern["detail"]["eventName"]
    assert (
        set(names)
        == set(HIGH_RISK_KMS_EVENTS)
        >= {
            "DisableKey",
            "ScheduleKeyDeletion",
            "PutKeyPolicy",
            "DeleteAlias",
            "UpdateAlias",
            "DisableKeyRotation",
            "DeleteImportedKeyMaterial",
        }
    )
    for name in HIGH_RISK_KMS_EVENTS:
        assert event_matches(RULES["kms-high-risk"].pattern, _event("aws.kms", name, {}))


def test_restore_caveat_is_said() -> None:
    assert "restores" in RULES["rds-default-key"].description


def test_the_emulated_account_accepts_every_rule(session: boto3.Session) -> None:
    events = session.client("events")
    for rule in alert_rules(name_prefix="t"):
        events.put_rule(**{**rule.to_dict(), "EventPattern": json.dumps(rule.pattern)})
    names = {r["Name"] for r in events.list_rules(NamePrefix="t-")["Rules"]}
    assert names == {r.name for r in alert_rules(name_prefix="t")}


@pytest.mark.parametrize(
    ("pattern", "where"),
    [
        ({"source": "aws.kms"}, "source"),
        ({"source": []}, "source"),
        ({"detail": {}}, "detail"),
        ({"source": [{"prefx": "aws."}]}, "source"),
        ({"detail": {"x": [{"numeric": [">", "a"]}]}}, "detail.x"),
        ({"$or": [{"source": ["a"]}]}, "$or"),
        ("{nope", "text"),
    ],
)
def test_malformed_patterns_are_refused_with_the_location(pattern: Any, where: str) -> None:
    with pytest.raises(ConfigurationError, match=f"event pattern {re.escape(where)}"):
        validate_event_pattern(pattern)


def _moto_managed_rules() -> dict[str, Any]:
    path = Path(moto.__file__).parent / "config" / "resources" / "aws_managed_rules.json.gz"
    with gzip.open(path) as f:
        rules: dict[str, Any] = json.load(f)["ManagedRules"]
    return rules


def test_config_rule_parameters_agree_with_the_aws_managed_rule_list() -> None:
    managed = _moto_managed_rules()
    for ident, params in CONFIG_RULE_PARAMETERS.items():
        assert {p["Name"]: p["Type"] for p in managed[ident]["Parameters"]} == dict(params)


APPROVED = [
    key_arn("eu-west-1", ACCOUNT, 1),
    key_arn("eu-west-1", ACCOUNT, 2),
    key_arn("us-east-1", ACCOUNT, 3),
]


def test_config_rules_take_the_region_s_approved_keys() -> None:
    rules = config_rules(APPROVED, regions=["eu-west-1", "us-east-1", "eu-central-1"])
    by = {(r.region, r.identifier): r for r in rules}
    assert len(rules) == 12
    assert by["eu-west-1", "SECRETSMANAGER_USING_CMK"].parameters == {
        "kmsKeyArns": ",".join(APPROVED[:2])
    }
    # rds-storage-encrypted takes one key: set only where the region has exactly one.
    assert by["us-east-1", "RDS_STORAGE_ENCRYPTED"].parameters == {"kmsKeyId": APPROVED[2]}
    assert by["eu-west-1", "RDS_STORAGE_ENCRYPTED"].parameters == {}
    assert by["eu-central-1", "SECRETSMANAGER_USING_CMK"].parameters == {}
    assert by["us-east-1", "KMS_CMK_NOT_SCHEDULED_FOR_DELETION"].parameters == {
        "kmsKeyIds": APPROVED[2].rsplit("/", 1)[1]
    }
    for r in rules:
        jsonschema.validate(r.to_dict(), dict(CONFIG_RULE_SCHEMA))


def test_the_emulated_account_accepts_every_config_rule(session: boto3.Session) -> None:
    region = session.region_name or "us-east-1"
    keys = [key_arn(region, ACCOUNT, 7)]
    config = session.client("config", region_name=region)
    for rule in config_rules(keys, regions=[region]):
        config.put_config_rule(ConfigRule=rule.to_dict())
    stored = config.describe_config_rules()["ConfigRules"]
    assert {r["Source"]["SourceIdentifier"] for r in stored} == set(CONFIG_RULE_PARAMETERS)
    (rds,) = [r for r in stored if r["Source"]["SourceIdentifier"] == "RDS_STORAGE_ENCRYPTED"]
    assert json.loads(rds["InputParameters"]) == {"kmsKeyId": keys[0]}


def test_bad_config_rules_are_refused() -> None:
    (rule,) = [
        r
        for r in config_rules(APPROVED, regions=["us-east-1"])
        if r.identifier == "RDS_STORAGE_ENCRYPTED"
    ]
    bad = copy.deepcopy(rule.to_dict())
    bad["InputParameters"] = json.dumps({"kmsKeyArn": "x"})
    with pytest.raises(ConfigurationError, match="no parameter 'kmsKeyArn'"):
        check_config_rule(bad)
    bad["Source"]["SourceIdentifier"] = "NOT_A_RULE"
    with pytest.raises(ConfigurationError, match="unknown managed rule"):
        check_config_rule(bad)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, dict(CONFIG_RULE_SCHEMA))
    with pytest.raises(ConfigurationError, match="no region"):
        config_rules(APPROVED, regions=[])
