"""seed_estate arguments: validation, determinism, scale, several accounts."""

from __future__ import annotations

import re

import pytest

from cmkguard.errors import ConfigurationError, UnknownRegionError
from cmkguard.testing import EmulatedAWS, GroundTruth, seed_estate


def _names(truth: GroundTruth) -> list[tuple[str, str]]:
    # RDS names managed secrets with a random UUID and automated snapshots with the time.
    return sorted(
        (re.sub(r"^(rds!db-).*|^(rds:.*)-\d{4}(-\d\d){4}$", r"\1\2", r.name), r.key_class.value)
        for r in truth.resources.values()
    )


def test_bad_arguments_are_refused(cmkguard_emulated_aws: EmulatedAWS) -> None:
    with pytest.raises(UnknownRegionError):
        seed_estate(cmkguard_emulated_aws, regions=("mars-north-1",))
    with pytest.raises(ConfigurationError):
        seed_estate(cmkguard_emulated_aws, regions=())
    with pytest.raises(ConfigurationError):
        seed_estate(cmkguard_emulated_aws, scale=0)
    with pytest.raises(ConfigurationError):
        seed_estate(cmkguard_emulated_aws, accounts=("999999999999",))


def test_same_seed_same_estate_and_scale_multiplies(cmkguard_emulated_aws: EmulatedAWS) -> None:
    first = seed_estate(cmkguard_emulated_aws, regions=("eu-central-1",), seed=7)
    names_first = _names(first)
    cmkguard_emulated_aws.reset()
    second = seed_estate(cmkguard_emulated_aws, regions=("eu-central-1",), seed=7)
    names_second = _names(second)
    assert names_first == names_second
    cmkguard_emulated_aws.reset()
    bigger = seed_estate(cmkguard_emulated_aws, regions=("eu-central-1",), scale=2, seed=7)
    instances = len(bigger.resources_of_type("rds:db-instance"))
    assert instances > len(first.resources_of_type("rds:db-instance"))
    assert len(bigger.keys) == len(first.keys) + 1  # one more workhorse CMK per unit


def test_several_accounts_each_get_an_estate(cmkguard_emulated_aws: EmulatedAWS) -> None:
    truth = seed_estate(
        cmkguard_emulated_aws, regions=("us-west-2",), accounts=cmkguard_emulated_aws.accounts
    )
    accounts = {r.account for r in truth.resources.values()}
    assert accounts == set(cmkguard_emulated_aws.accounts)
    second = cmkguard_emulated_aws.accounts[1]
    instances = cmkguard_emulated_aws.client(
        "rds", region="us-west-2", account=second
    ).describe_db_instances()
    arns = {db["DBInstanceArn"] for db in instances["DBInstances"]}
    assert arns == {
        r.arn for r in truth.resources_of_type("rds:db-instance") if r.account == second
    }
    assert all(f":{second}:" in arn for arn in arns)


def test_writing_through_the_api_builds_the_same_estate(cmkguard_emulated_aws: EmulatedAWS) -> None:
    direct = seed_estate(cmkguard_emulated_aws, regions=("ca-central-1",), seed=3)
    cmkguard_emulated_aws.reset()
    cmkguard_emulated_aws.reset_request_counts()
    via_api = seed_estate(
        cmkguard_emulated_aws, regions=("ca-central-1",), seed=3, through_api=True
    )
    counts = cmkguard_emulated_aws.request_counts()
    assert counts[("rds", "CreateDBInstance")] == len(via_api.resources_of_type("rds:db-instance"))
    assert _names(direct) == _names(via_api)
    assert sorted(
        (sorted(k.problems), k.manager, k.state, k.rotation_enabled) for k in direct.keys.values()
    ) == sorted(
        (sorted(k.problems), k.manager, k.state, k.rotation_enabled) for k in via_api.keys.values()
    )


def test_a_single_account_emulator_gets_an_estate_without_a_peer() -> None:
    import json

    from cmkguard import KeyClass

    with EmulatedAWS(accounts=("123412341234",)) as aws:
        truth = seed_estate(aws, regions=("eu-north-1",))
        assert {r.account for r in truth.resources.values()} == {"123412341234"}
        assert KeyClass.CROSS_ACCOUNT not in truth.key_class_counts()
        (shared,) = truth.keys_with_problem("cross-account-access")
        kms = aws.client("kms", region="eu-north-1")
        policy = json.loads(kms.get_key_policy(KeyId=shared.arn, PolicyName="default")["Policy"])
        principals = {json.dumps(s["Principal"]) for s in policy["Statement"]}
        assert any("999988887777" in p for p in principals)
