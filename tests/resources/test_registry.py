"""Meta-test over the resource-type registry (c7n's PolicyMetaLint, for cmkguard)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import botocore.session
import pytest

from cmkguard import ResourceType, UnknownResourceTypeError, get_resource_type
from cmkguard.resources import registry, resolve_resource_types

POLICY = Path(__file__).resolve().parents[2] / "docs" / "scan-iam-policy.json"
TYPES = list(registry().values())


def allowed_actions() -> tuple[list[str], list[str]]:
    """(allowed, denied) action patterns of the shipped scan policy."""
    allowed: list[str] = []
    denied: list[str] = []
    for statement in json.loads(POLICY.read_text())["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        (allowed if statement["Effect"] == "Allow" else denied).extend(actions)
    return allowed, denied


def is_allowed(action: str) -> bool:
    """Whether the shipped policy allows ``action`` (IAM matching is case-insensitive)."""
    allowed, denied = allowed_actions()
    hit = lambda patterns: any(fnmatch.fnmatch(action.lower(), p.lower()) for p in patterns)  # noqa: E731
    return hit(allowed) and not hit(denied)


def test_the_registry_has_the_issue_types() -> None:
    assert set(registry()) == {
        "rds:db-instance",
        "rds:db-cluster",
        "rds:db-snapshot",
        "rds:db-cluster-snapshot",
        "secretsmanager:secret",
    }


@pytest.mark.parametrize("rtype", TYPES, ids=lambda t: t.name)
def test_spec_is_complete_and_consistent(rtype: ResourceType) -> None:
    assert rtype.name.startswith(f"{rtype.service}:")
    assert rtype.description
    assert rtype.iam_actions
    model = botocore.session.get_session().get_service_model(rtype.service)
    for operation in rtype.operations:
        assert operation in model.operation_names
        assert f"{rtype.service}:{operation}" in rtype.iam_actions
    output = model.operation_model(rtype.operation).output_shape
    assert rtype.result_key in output.members
    paginators = botocore.session.get_session().get_paginator_model(rtype.service)
    assert paginators.get_paginator(rtype.operation)["result_key"] == rtype.result_key


@pytest.mark.parametrize("rtype", TYPES, ids=lambda t: t.name)
def test_every_action_a_spec_needs_is_in_the_shipped_policy(rtype: ResourceType) -> None:
    for action in rtype.iam_actions:
        assert is_allowed(action), action


def test_the_policy_never_allows_reading_secret_values_or_decrypting() -> None:
    for action in ("secretsmanager:GetSecretValue", "kms:Decrypt", "kms:GenerateDataKey"):
        assert not is_allowed(action)


def test_unknown_types_list_the_known_ones() -> None:
    with pytest.raises(UnknownResourceTypeError) as info:
        get_resource_type("rds:db-proxy")
    assert "rds:db-instance" in str(info.value)
    assert info.value.known == tuple(sorted(registry()))


def test_a_service_prefix_selects_its_types_once() -> None:
    names = [t.name for t in resolve_resource_types(["rds", "rds:db-instance", "secretsmanager"])]
    assert names == [
        "rds:db-instance",
        "rds:db-cluster",
        "rds:db-snapshot",
        "rds:db-cluster-snapshot",
        "secretsmanager:secret",
    ]


@pytest.mark.parametrize("rtype", [t for t in TYPES if t.linked], ids=lambda t: t.name)
def test_linked_key_sources_name_real_operations_and_their_actions(rtype: ResourceType) -> None:
    for source in rtype.linked:
        model = botocore.session.get_session().get_service_model(source.service)
        operation = model.operation_model(source.operation)
        assert source.request_param in operation.input_shape.members
        assert source.key_field in operation.output_shape.members
        assert source.iam_action in rtype.iam_actions
        assert is_allowed(source.iam_action)
        assert rtype.linked_source(source.purpose) is source
