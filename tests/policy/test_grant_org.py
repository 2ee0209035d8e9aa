"""The organisation view's outside access through grants is exact: members are inside, a
key-policy Deny removes a grant, and Decrypt + CreateGrant to a member reaches outsiders."""

from __future__ import annotations

import json
from typing import Any

import attrs

import cmkguard
from cmkguard.inventory.values import Grant, KmsKey, OrgScope

ORG = "o-a1b2c3d4e5"
K = "111122223333"
MEMBER = "222233334444"
OUTSIDER = "999988887777"


def _key(n: int, policy: dict[str, Any], *grants: Grant) -> KmsKey:
    return KmsKey(
        arn=f"arn:aws:kms:us-east-1:{K}:key/00000000-0000-0000-0000-00000000000{n}",
        key_id=f"00000000-0000-0000-0000-00000000000{n}",
        account=K,
        region="us-east-1",
        manager="CUSTOMER",
        state="Enabled",
        policy=json.dumps(policy),
        grants=grants,
    )


ROOT = {
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{K}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
PERIMETER = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "kms:*",
    "Resource": "*",
    "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG}},
}


def _grant(grantee: str, *ops: str) -> Grant:
    return Grant(grant_id=f"g-{grantee[-4:]}-{len(ops)}", grantee_principal=grantee, operations=ops)


def test_outside_access_through_grants_is_exact() -> None:
    member_role = f"arn:aws:iam::{MEMBER}:role/App"
    outsider_role = f"arn:aws:iam::{OUTSIDER}:role/Reader"
    plain = {"Version": "2012-10-17", "Statement": [ROOT]}
    fenced = {"Version": "2012-10-17", "Statement": [ROOT, PERIMETER]}
    keys = [
        _key(1, plain, _grant(member_role, "Decrypt")),  # a member: inside
        _key(2, plain, _grant(outsider_role, "Decrypt")),  # outside
        _key(3, fenced, _grant(outsider_role, "Decrypt")),  # the perimeter Deny removes it
        _key(4, plain, _grant(member_role, "Decrypt", "CreateGrant")),  # hands Decrypt to anyone
        _key(5, fenced, _grant(member_role, "Decrypt", "CreateGrant")),  # only inside the org
    ]
    inventory = cmkguard.Inventory(
        keys={k.arn: k for k in keys},
        accounts=(K, MEMBER),
        organization=OrgScope(
            org_id=ORG, management_account=K, account_ous={K: "r-root", MEMBER: "r-root"}
        ),
    )
    view = cmkguard.organization_view(inventory)
    outside = {o.key_arn[-1]: o.principals for o in view.outside_access if o.via == "grant"}
    assert outside == {"2": (outsider_role,), "4": ("*",)}


def test_member_accounts_decide_an_org_perimeter_deny() -> None:
    fenced = {"Version": "2012-10-17", "Statement": [ROOT, PERIMETER]}
    grants = [
        _grant(f"arn:aws:iam::{MEMBER}:role/App", "Decrypt").to_api(),
        _grant(f"arn:aws:iam::{OUTSIDER}:role/Reader", "Decrypt").to_api(),
    ]
    known = cmkguard.analyze_grants(
        grants, key_account=K, org_id=ORG, member_accounts=[K, MEMBER], key_policy=fenced
    )
    assert known.decrypters() == {f"arn:aws:iam::{MEMBER}:role/App"}
    (removed,) = known.denials
    assert removed.principal == f"arn:aws:iam::{OUTSIDER}:role/Reader"
    assert removed.denied_by == (1,)
    (kept,) = known.witnesses_for("Decrypt")
    assert kept.checked
    # Without the member list, the outsider's account might be in the organization: kept.
    unknown = cmkguard.analyze_grants(grants, key_account=K, org_id=ORG, key_policy=fenced)
    assert f"arn:aws:iam::{OUTSIDER}:role/Reader" in unknown.decrypters()


def test_a_scanned_key_analyses_its_grants_for_an_organization() -> None:
    member_role = f"arn:aws:iam::{MEMBER}:role/App"
    outsider_role = f"arn:aws:iam::{OUTSIDER}:role/Reader"
    fenced = {"Version": "2012-10-17", "Statement": [ROOT, PERIMETER]}
    key = _key(6, fenced, _grant(member_role, "Decrypt"), _grant(outsider_role, "Decrypt"))
    known = key.analyze_grants(org_id=ORG, member_accounts=[K, MEMBER])
    # The key's own policy is used: its perimeter Deny removes the outsider's grant.
    assert known.decrypters() == {member_role}
    assert [d.principal for d in known.denials] == [outsider_role]
    # Without a context it is the key's cached grant_analysis' answer.
    assert key.analyze_grants().decrypters() == key.grant_analysis.decrypters()
    # A malformed key policy overrides nothing: the grants are analysed alone.
    broken = attrs.evolve(key, policy="{not json")
    alone = broken.analyze_grants(org_id=ORG, member_accounts=[K, MEMBER])
    assert alone.decrypters() == {member_role, outsider_role}
    assert not alone.denials
