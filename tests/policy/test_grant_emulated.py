"""Grant constraints end to end on the emulated account (moto on 127.0.0.1, cmkguard.testing).

Grants are created through the KMS API with constraints, under a key policy whose Deny
overrides some of them; a scan reads them back (moto returns `Constraints` as given), and
`KmsKey.grant_analysis` and the audit's grant findings must say exactly who can decrypt, with
witnesses. `CreateGrant` refuses a constraint on an operation that takes no encryption context,
as AWS does (the emulator's server-side fix).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

import cmkguard
from cmkguard.aws.session import kms_client
from cmkguard.report import to_asff, to_csv, to_ocsf, to_sarif

PEER = "444455556666"
READER = f"arn:aws:iam::{PEER}:role/Reader"


def _policy(account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Root",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "OnlyProd",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"kms:EncryptionContext:env": "prod"}},
                },
            ],
        }
    )


def test_constrained_grants_are_analysed_exactly_after_a_scan(cmkguard_aws_session: Any) -> None:
    kms = kms_client(cmkguard_aws_session, "us-east-1")
    meta = kms.create_key(Description="orders")["KeyMetadata"]
    account = meta["AWSAccountId"]
    kms.put_key_policy(KeyId=meta["KeyId"], PolicyName="default", Policy=_policy(account))
    batch = f"arn:aws:iam::{account}:role/Batch"
    orders = kms.create_grant(
        KeyId=meta["KeyId"],
        GranteePrincipal=READER,
        Operations=["Decrypt", "CreateGrant"],
        Constraints={"EncryptionContextSubset": {"app": "orders"}},
    )["GrantId"]
    fixed = kms.create_grant(
        KeyId=meta["KeyId"],
        GranteePrincipal=batch,
        Operations=["Decrypt", "DescribeKey"],
        Constraints={"EncryptionContextEquals": {"app": "batch"}},
    )["GrantId"]
    with pytest.raises(ClientError) as refused:
        kms.create_grant(
            KeyId=meta["KeyId"],
            GranteePrincipal=batch,
            Operations=["Sign"],
            Constraints={"EncryptionContextSubset": {"app": "batch"}},
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    signing = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    with pytest.raises(ClientError) as asymmetric:
        kms.create_grant(
            KeyId=signing["KeyId"],
            GranteePrincipal=batch,
            Operations=["DescribeKey"],
            Constraints={"EncryptionContextSubset": {"app": "batch"}},
        )
    assert asymmetric.value.response["Error"]["Code"] == "ValidationException"

    inv = cmkguard.scan(cmkguard_aws_session, regions=["us-east-1"], resource_types=[])
    key = inv.keys[meta["Arn"]]
    by_id = {g.grant_id: g for g in key.grants}
    assert set(by_id) == {orders, fixed}  # the refused grant was not stored
    assert by_id[orders].constraints == {"EncryptionContextSubset": {"app": "orders"}}

    grants = key.grant_analysis
    assert grants.key_policy_checked
    assert grants.decrypters() == {READER, "*"}  # the Equals grant cannot escape OnlyProd
    (removed,) = grants.denials
    assert (removed.grant_id, removed.operation, removed.denied_by) == (fixed, "Decrypt", (1,))
    assert grants.principals_for("DescribeKey") == {batch}
    (own,) = [w for w in grants.witnesses_for("Decrypt") if w.principal == READER]
    assert own.encryption_context == {"app": "orders", "env": "prod"}
    assert own.checked

    report = cmkguard.audit(inv)
    on_key = [f for f in report.findings if f.resource_arn == key.arn or f.key_arn == key.arn]
    redelegation = [f for f in on_key if f.rule_id == "grant-create-grant"]
    assert redelegation
    evidence = redelegation[0].evidence["grant"]
    assert evidence["constraint"] == 'only when the encryption context contains {"app": "orders"}'
    handed = [w for w in evidence["witnesses"] if w["via"] == "re-delegation"]
    assert handed[0]["principal"] == "*"
    assert handed[0]["encryption_context"] == {"app": "orders", "env": "prod"}
    assert not [f for f in on_key if f.rule_id == "grant-decrypt-unconstrained"]
    # Every export carries (or at least survives) the nested grant evidence.
    assert json.loads(report.to_json())  # JSON round trip with the witnesses inside
    for export in (to_csv, to_sarif, to_ocsf, to_asff):
        assert export(report)
    assert "re-delegation" in report.to_json()
