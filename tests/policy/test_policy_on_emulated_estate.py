"""The analyser on real scans of the emulated AWS account (moto on 127.0.0.1, cmkguard.testing).

The seeded estate carries keys with known policy problems (public, shared with the peer account,
kms:* to an admin role); a scan reads their policies back from KMS and ``KmsKey.policy_analysis``
must find exactly those problems. A grant made through the KMS API must show up in
``KmsKey.grant_analysis``.
"""

from __future__ import annotations

from typing import Any

import cmkguard
from cmkguard.aws.session import kms_client


def test_seeded_key_policies_are_analysed_as_seeded(cmkguard_seeded_estate_module: Any) -> None:
    truth = cmkguard_seeded_estate_module.truth
    inv = cmkguard.scan(
        cmkguard_seeded_estate_module.aws.session(truth.regions[0]), regions=truth.regions
    )
    scanned = {k.account for k in inv.keys.values()}
    customer = [k for k in truth.keys.values() if k.manager == "CUSTOMER" and k.account in scanned]
    assert len(customer) >= 5
    seen = set()
    for expected in customer:
        analysis = inv.keys[expected.arn].policy_analysis
        assert analysis is not None, expected.arn
        assert analysis.is_public is ("public-access" in expected.problems), expected.arn
        shared = bool(analysis.external_access - {"*"})
        assert shared is ("cross-account-access" in expected.problems), expected.arn
        wildcard = "wildcard-actions" in analysis.finding_ids
        assert wildcard is ("wildcard-actions" in expected.problems), expected.arn
        assert "lockout-risk" not in analysis.finding_ids
        seen |= {p for p in expected.problems if p in analysis.finding_ids}
    assert {"public-access", "cross-account-access", "wildcard-actions"} <= seen


def test_a_grant_to_another_account_is_found_after_a_scan(cmkguard_aws_session: Any) -> None:
    kms = kms_client(cmkguard_aws_session, "us-east-1")
    key_id = kms.create_key(Description="granted")["KeyMetadata"]["KeyId"]
    peer_role = "arn:aws:iam::444455556666:role/Reader"
    kms.create_grant(KeyId=key_id, GranteePrincipal=peer_role, Operations=["Decrypt"])
    inv = cmkguard.scan(cmkguard_aws_session, regions=["us-east-1"], resource_types=[])
    (key,) = [k for k in inv.keys.values() if k.key_id == key_id]
    grants = key.grant_analysis
    assert grants.external_grantees == {peer_role}
    assert {"grant-cross-account", "grant-decrypt-unconstrained"} <= grants.finding_ids
    policy = key.policy_analysis
    assert policy is not None
    assert not policy.is_public  # moto's default key policy: the root statement only
    assert "root-delegation" in policy.finding_ids
