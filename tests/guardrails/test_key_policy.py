"""The least-privilege key-policy builder, checked by cmkguard's own analyser and the emulator.

Every generated policy is analysed with `analyze_key_policy`: nothing public, no external
access beyond the accounts named, no wildcard action to anybody, administrators without
cryptographic actions, users only through the service, someone always keeps `PutKeyPolicy`.
Then the emulated account must accept it in `CreateKey` and `PutKeyPolicy`.
"""

from __future__ import annotations

import json

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from cmkguard.errors import ConfigurationError
from cmkguard.guardrails import (
    ADMIN_ACTIONS,
    MANDATORY_TAGS,
    USE_ACTIONS,
    build_key_policy,
    cross_account_read_statements,
    key_tags,
    parse_tag,
    via_service,
)
from cmkguard.policy import analyze_key_policy, parse_key_policy

from .conftest import ACCOUNT, OTHER

ADMIN = f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"
USER = f"arn:aws:iam::{ACCOUNT}:role/OrdersApp"
REGION = "eu-west-1"
ORG = "o-a1b2c3d4e5"
CRYPTO = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:CreateGrant",
)
TAGS = {
    "owner": "team-db",
    "application": "orders",
    "data-sensitivity": "high",
    "cost-centre": "cc-42",
}


def _policy(**kw: object) -> dict[str, object]:
    args: dict[str, object] = {
        "account": ACCOUNT,
        "region": REGION,
        "service": "rds",
        "admins": [ADMIN],
        "users": [USER],
    }
    args.update(kw)
    return build_key_policy(**args)  # type: ignore[arg-type]


def _assert_least_privilege(policy: dict[str, object], admins: set[str], users: set[str]) -> None:
    analysis = analyze_key_policy(policy, key_account=ACCOUNT)
    assert not analysis.is_public
    assert analysis.principals_allowed("kms:PutKeyPolicy") == admins  # never a lock-out
    for action in CRYPTO:
        allowed = analysis.principals_allowed(action)
        assert not allowed & admins, f"an administrator can {action}"
        assert allowed <= users | {f"arn:aws:iam::{a}:root" for a in analysis.external_access}
    for st in parse_key_policy(policy).statements:
        # No blanket wildcard to anybody; the only patterns are the two families.
        assert "kms:*" not in st.actions
        assert "*" not in st.actions
        assert {a for a in st.actions if "*" in a} <= {"kms:ReEncrypt*", "kms:GenerateDataKey*"}
        # Users' cryptographic actions always go through the service in the key's account.
        if set(st.actions) & {"kms:Decrypt", "kms:Encrypt"}:
            keys = {c.key_lower for c in st.conditions}
            assert "kms:viaservice" in keys


def test_rds_key_policy_is_least_privilege_by_our_analyser() -> None:
    policy = _policy()
    _assert_least_privilege(policy, {ADMIN}, {USER})
    analysis = analyze_key_policy(policy, key_account=ACCOUNT)
    assert analysis.external_access == frozenset()
    assert analysis.findings == ()
    (use,) = [s for s in policy["Statement"] if s["Sid"] == "KeyUseThroughService"]  # type: ignore[index,union-attr]
    assert use["Condition"] == {
        "StringEquals": {
            "kms:ViaService": "rds.eu-west-1.amazonaws.com",
            "kms:CallerAccount": ACCOUNT,
        }
    }
    (grants,) = [s for s in policy["Statement"] if s["Sid"] == "GrantsForAWSResources"]  # type: ignore[index,union-attr]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    (admin,) = [s for s in policy["Statement"] if s["Sid"] == "KeyAdministration"]  # type: ignore[index,union-attr]
    assert set(admin["Action"]) == set(ADMIN_ACTIONS)
    assert "kms:CreateGrant" not in admin["Action"]


def test_secrets_manager_key_policy_goes_through_secrets_manager() -> None:
    policy = _policy(service="secretsmanager", region="us-east-1")
    text = json.dumps(policy)
    assert "secretsmanager.us-east-1.amazonaws.com" in text
    assert "rds." not in text


def test_external_accounts_get_read_only_through_the_service() -> None:
    policy = _policy(external_accounts=[OTHER])
    _assert_least_privilege(policy, {ADMIN}, {USER})
    analysis = analyze_key_policy(policy, key_account=ACCOUNT)
    assert analysis.external_access == {OTHER}
    root = f"arn:aws:iam::{OTHER}:root"
    assert root in analysis.principals_allowed("kms:Decrypt")
    assert root not in analysis.principals_allowed("kms:Encrypt")
    assert root not in analysis.principals_allowed("kms:PutKeyPolicy")
    assert {f.id for f in analysis.findings} == {"cross-account-access"}
    trusted = analyze_key_policy(policy, key_account=ACCOUNT, trusted_accounts=[OTHER])
    assert all(f.downgraded for f in trusted.findings)


def test_cross_account_read_statements_are_reusable_on_their_own() -> None:
    assert cross_account_read_statements([], service="rds", region=REGION) == []
    sts = cross_account_read_statements(
        [OTHER, OTHER], service="rds", region=REGION, sid_prefix="Share"
    )
    assert [s["Sid"] for s in sts] == ["ShareRead", "ShareGrantsForAWSResources"]
    assert sts[0]["Principal"] == {"AWS": f"arn:aws:iam::{OTHER}:root"}
    assert sts[1]["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    with pytest.raises(ConfigurationError, match="external account"):
        cross_account_read_statements(["12345"], service="rds", region=REGION)


def test_organization_use_is_through_the_service_and_pinned_to_the_org() -> None:
    policy = _policy(org_id=ORG)
    analysis = analyze_key_policy(policy, key_account=ACCOUNT, org_id=ORG)
    assert not analysis.is_public
    assert analysis.external_access == {ORG}
    (st,) = [s for s in policy["Statement"] if s["Sid"] == "OrganizationUseThroughService"]  # type: ignore[index,union-attr]
    assert st["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == ORG
    assert "kms:CreateGrant" not in st["Action"]


def test_administrators_only_when_no_users() -> None:
    policy = _policy(users=[])
    assert [s["Sid"] for s in policy["Statement"]] == ["KeyAdministration"]  # type: ignore[index,union-attr]
    analysis = analyze_key_policy(policy, key_account=ACCOUNT)
    assert analysis.principals_allowed("kms:Decrypt") == frozenset()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"admins": []}, "locked out"),
        ({"users": [ADMIN]}, "separate the duties"),
        ({"admins": [f"arn:aws:iam::{OTHER}:role/KeyAdmin"]}, "not in the key account"),
        ({"users": [f"arn:aws:iam::{ACCOUNT}:role/*"]}, "not an IAM role or user ARN"),
        ({"users": ["*"]}, "not an IAM role or user ARN"),
        ({"account": "1111"}, "12-digit"),
        ({"region": "Europe"}, "region name"),
        ({"service": "s3"}, "not one of rds, secretsmanager"),
        ({"org_id": "org-1"}, "organization id"),
        ({"external_accounts": ["abc"]}, "external account"),
    ],
)
def test_bad_input_is_refused_with_a_named_reason(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        _policy(**kw)


def test_via_service_names_the_partition_suffix() -> None:
    assert via_service("rds", "eu-west-1") == "rds.eu-west-1.amazonaws.com"
    assert via_service("secretsmanager", "cn-north-1") == (
        "secretsmanager.cn-north-1.amazonaws.com.cn"
    )


def test_mandatory_tags_are_required_and_checked() -> None:
    tags = key_tags({**TAGS, "extra": "kept"})
    assert {t["TagKey"] for t in tags} == {*MANDATORY_TAGS, "extra"}
    with pytest.raises(ConfigurationError, match=r"missing mandatory tag.*cost-centre"):
        key_tags({k: v for k, v in TAGS.items() if k != "cost-centre"})
    with pytest.raises(ConfigurationError, match=r"missing mandatory tag.*owner"):
        key_tags({**TAGS, "owner": "  "})
    with pytest.raises(ConfigurationError, match="reserved"):
        key_tags({**TAGS, "aws:createdBy": "me"})
    assert key_tags({"team": "db"}, required=["team"]) == [{"TagKey": "team", "TagValue": "db"}]
    assert parse_tag("owner=a=b") == ("owner", "a=b")
    with pytest.raises(ConfigurationError, match="KEY=VALUE"):
        parse_tag("owner")


def _roles(session: boto3.Session, *names: str) -> None:
    iam = session.client("iam")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    for name in names:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)


def test_the_emulated_account_accepts_the_policy_and_tags(session: boto3.Session) -> None:
    account = session.client("sts").get_caller_identity()["Account"]
    _roles(session, "KeyAdmin", "OrdersApp")
    admin, user = (f"arn:aws:iam::{account}:role/{n}" for n in ("KeyAdmin", "OrdersApp"))
    region = session.region_name or "us-east-1"
    policy = build_key_policy(
        account=account,
        region=region,
        service="rds",
        admins=[admin],
        users=[user],
        external_accounts=[OTHER],
    )
    kms = session.client("kms", region_name=region)
    key = kms.create_key(
        Policy=json.dumps(policy), Tags=key_tags(TAGS), Description="orders database"
    )["KeyMetadata"]
    stored = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert stored == policy
    tags = kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]
    assert {t["TagKey"] for t in tags} >= set(MANDATORY_TAGS)
    secrets = build_key_policy(
        account=account, region=region, service="secretsmanager", admins=[admin], users=[user]
    )
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(secrets))
    stored = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert stored == secrets
    _assert_least_privilege(stored, {admin}, {user})


_NAMES = hs.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(
    admins=hs.lists(_NAMES, min_size=1, max_size=4, unique=True),
    users=hs.lists(_NAMES, max_size=4, unique=True),
    externals=hs.lists(hs.from_regex(r"[0-9]{12}", fullmatch=True), max_size=3, unique=True),
    service=hs.sampled_from(["rds", "secretsmanager"]),
)
def test_any_builder_output_keeps_separation_of_duties(
    admins: list[str], users: list[str], externals: list[str], service: str
) -> None:
    users = [u for u in users if u not in admins]
    externals = [e for e in externals if e != ACCOUNT]
    a = {f"arn:aws:iam::{ACCOUNT}:role/admin-{n}" for n in admins}
    u = {f"arn:aws:iam::{ACCOUNT}:role/{n}" for n in users}
    policy = build_key_policy(
        account=ACCOUNT,
        region=REGION,
        service=service,
        admins=sorted(a),
        users=sorted(u),
        external_accounts=externals,
    )
    _assert_least_privilege(policy, a, u)
    assert analyze_key_policy(policy, key_account=ACCOUNT).external_access == set(externals)
    assert set(USE_ACTIONS) >= {
        act
        for st in parse_key_policy(policy).statements
        for act in st.actions
        if st.sid == "KeyUseThroughService"
    }
