"""SCP generation: the documents deny what the facts say, allow the rest, and fit the limits.

Every document goes through cmkguard's own parser (`scp_denies` parses before evaluating) and
is then evaluated on concrete requests.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from cmkguard.errors import ConfigurationError, PolicyParseError
from cmkguard.guardrails import (
    MAX_SCPS_PER_TARGET,
    RDS_STORAGE_ENCRYPTED_ACTIONS,
    SCP_MAX_CHARS,
    approved_keys,
    generate_scps,
    minified,
    scp_denies,
)

from .conftest import ACCOUNT, AWS_MANAGED_SECRETS, REALISTIC_KEYS, key_arn

BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/BreakGlass"
CALLER = f"arn:aws:iam::{ACCOUNT}:role/Deployer"


@pytest.fixture(name="docs", scope="module")
def _docs() -> list[dict[str, object]]:
    return generate_scps([*REALISTIC_KEYS, "alias/cmk/*"], break_glass=[BREAK_GLASS]).documents


def _denied(docs: list[dict[str, object]], action: str, **context: object) -> str | None:
    ctx = {"aws:PrincipalArn": CALLER, **{k.replace("__", ":"): v for k, v in context.items()}}
    return scp_denies(docs, action, ctx)  # type: ignore[arg-type]


def test_realistic_key_set_fits_one_scp_and_reports_its_size() -> None:
    scps = generate_scps([*REALISTIC_KEYS, "alias/cmk/*"], break_glass=[BREAK_GLASS])
    assert len(scps.policies) == 1
    (policy,) = scps.policies
    assert policy.size == len(minified(policy.document)) <= SCP_MAX_CHARS
    assert scps.sizes == {policy.name: policy.size}
    assert json.loads(policy.text) == scps.documents[0]


def test_rds_storage_encrypted_statement_has_exactly_the_documented_actions(docs) -> None:
    (st,) = [s for s in docs[0]["Statement"] if s["Sid"] == "DenyUnencryptedRds"]
    assert tuple(st["Action"]) == RDS_STORAGE_ENCRYPTED_ACTIONS
    assert "rds:RestoreDBClusterFromSnapshot" not in st["Action"]
    assert not any("Copy" in a or "Modify" in a for a in st["Action"])


@pytest.mark.parametrize(
    ("action", "context", "expected"),
    [
        ("rds:CreateDBInstance", {"rds:StorageEncrypted": "false"}, "DenyUnencryptedRds"),
        ("rds:RestoreDBInstanceFromS3", {"rds:StorageEncrypted": False}, "DenyUnencryptedRds"),
        ("rds:CreateDBInstance", {"rds:StorageEncrypted": "true"}, None),
        (
            "rds:CreateDBInstance",
            {"rds:DatabaseEngine": "postgres"},
            "DenyRdsWithoutEncryptionFlag",
        ),
        ("rds:CreateDBInstance", {"rds:DatabaseEngine": "aurora-postgresql"}, None),
        # An Aurora cluster without the flag lands on an AWS owned key: denied.
        (
            "rds:CreateDBCluster",
            {"rds:DatabaseEngine": "aurora-postgresql"},
            "DenyRdsClusterWithoutEncryptionFlag",
        ),
        ("rds:CreateDBCluster", {"rds:StorageEncrypted": "true"}, None),
        ("rds:CreateDBInstanceReadReplica", {}, None),  # no StorageEncrypted parameter
        ("rds:RestoreDBClusterFromSnapshot", {"rds:StorageEncrypted": "false"}, None),
    ],
)
def test_rds_encryption_statements(docs, action, context, expected) -> None:
    assert _denied(docs, action, **{k.replace(":", "__"): v for k, v in context.items()}) == (
        expected
    )


def test_kms_pivot_denies_rds_grants_on_aws_rds_only(docs) -> None:
    via_rds = {"kms__ViaService": "rds.eu-west-1.amazonaws.com"}
    assert (
        _denied(docs, "kms:CreateGrant", **via_rds, kms__ResourceAliases=["alias/aws/rds"])
        == "DenyRdsOnAwsManagedKey"
    )
    assert (
        _denied(docs, "kms:CreateGrant", **via_rds, kms__ResourceAliases=["alias/cmk/orders"])
        is None
    )
    # A key with no alias at all (a CMK): ForAnyValue on an absent key is false.
    assert _denied(docs, "kms:CreateGrant", **via_rds) is None
    # Not through RDS: not this statement's business.
    assert _denied(docs, "kms:CreateGrant", kms__ResourceAliases=["alias/aws/rds"]) is None
    # The break-glass role passes.
    assert (
        scp_denies(
            docs,
            "kms:CreateGrant",
            {
                "aws:PrincipalArn": BREAK_GLASS,
                "kms:ViaService": "rds.eu-west-1.amazonaws.com",
                "kms:ResourceAliases": ["alias/aws/rds"],
            },
        )
        is None
    )


def test_create_secret_only_on_approved_keys(docs) -> None:
    approved = REALISTIC_KEYS[3]
    assert _denied(docs, "secretsmanager:CreateSecret", secretsmanager__KmsKeyArn=approved) is None
    assert (
        _denied(
            docs,
            "secretsmanager:CreateSecret",
            secretsmanager__KmsKeyArn=f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/cmk/payments",
        )
        is None
    )
    # No key in the request: the default key, denied (negated operator on an absent key).
    assert _denied(docs, "secretsmanager:CreateSecret") == "DenySecretOnUnapprovedKey"
    assert (
        _denied(docs, "secretsmanager:CreateSecret", secretsmanager__KmsKeyArn=AWS_MANAGED_SECRETS)
        == "DenySecretOnUnapprovedKey"
    )


def test_update_secret_of_description_passes_key_changes_are_checked(docs) -> None:
    assert _denied(docs, "secretsmanager:UpdateSecret") is None
    assert (
        _denied(docs, "secretsmanager:UpdateSecret", secretsmanager__KmsKeyArn="")
        == "DenySecretKeyChangeToUnapproved"
    )
    assert (
        _denied(docs, "secretsmanager:UpdateSecret", secretsmanager__KmsKeyArn=REALISTIC_KEYS[0])
        is None
    )


def test_aws_managed_secret_key_cannot_encrypt_but_still_decrypts(docs) -> None:
    ctx = {
        "kms__ViaService": "secretsmanager.eu-west-1.amazonaws.com",
        "kms__ResourceAliases": ["alias/aws/secretsmanager"],
    }
    for action in ("kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:Encrypt"):
        assert _denied(docs, action, **ctx) == "DenySecretsOnAwsManagedKey"
    assert _denied(docs, "kms:Decrypt", **ctx) is None


def test_no_exemption_that_never_blocks_and_no_key_wildcard(docs) -> None:
    text = json.dumps(docs)
    assert "aws:ViaAWSService" not in text
    assert "aws:PrincipalIsAWSService" not in text
    assert "key/*" not in text


def test_options_leave_out_statements() -> None:
    scps = generate_scps(REALISTIC_KEYS[:1], null_safe=False, block_aws_managed_secret_writes=False)
    sids = {s["Sid"] for s in scps.statements}
    assert "DenyRdsWithoutEncryptionFlag" not in sids
    assert "DenyRdsClusterWithoutEncryptionFlag" not in sids
    assert "DenySecretsOnAwsManagedKey" not in sids
    assert not any("PutSecretValue" in n for n in scps.notes)


def test_notes_say_what_scps_cannot_do_and_what_is_unverified() -> None:
    scps = generate_scps(REALISTIC_KEYS[:1])
    notes = " ".join(scps.notes)
    assert "management account" in notes
    assert "service-linked roles" in notes
    assert "RCP" in notes
    assert "AWS-managed keys" in notes
    assert all(u.startswith("to verify:") for u in scps.unverified)
    assert any("CopyDBSnapshot" in u for u in scps.unverified)


def test_long_key_lists_split_into_several_scps_without_cutting_a_statement() -> None:
    keys = [key_arn("eu-west-1", ACCOUNT, i) for i in range(40)]
    scps = generate_scps(keys)
    assert len(scps.policies) > 1
    assert all(p.size <= SCP_MAX_CHARS for p in scps.policies)
    sids = [s["Sid"] for s in scps.statements]
    assert len(sids) == len(set(sids)) == 7
    for key in keys:
        assert (
            scp_denies(
                scps.documents, "secretsmanager:CreateSecret", {"secretsmanager:KmsKeyArn": key}
            )
            is None
        )


def test_a_key_list_too_long_for_one_statement_is_refused() -> None:
    keys = [key_arn("eu-west-1", ACCOUNT, i) for i in range(80)]
    with pytest.raises(ConfigurationError, match=r"alone is .* characters"):
        generate_scps(keys)


def test_more_scps_than_the_target_takes_is_refused() -> None:
    keys = [key_arn("eu-west-1", ACCOUNT, i) for i in range(40)]
    with pytest.raises(ConfigurationError, match="target can take 1"):
        generate_scps(keys, max_policies=1)
    with pytest.raises(ConfigurationError, match="max_policies"):
        generate_scps(keys, max_policies=MAX_SCPS_PER_TARGET + 1)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/*", "wildcard"),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", "not a KMS key ARN"),
        ("alias/aws/rds", "AWS-managed alias"),
        ("alias/*", "AWS-managed alias"),
        ("alias/a*", "AWS-managed alias"),
        (f"arn:aws:kms:*:{ACCOUNT}:alias/aws/*", "AWS-managed alias"),
        ("alias/", "not an alias name"),
    ],
)
def test_unsafe_approved_keys_are_refused(key: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        approved_keys([key])


def test_alias_patterns_that_cannot_reach_aws_managed_aliases_are_kept() -> None:
    keys = approved_keys(["alias/cmk/*", "alias/awsx", "alias/aws", f"{REALISTIC_KEYS[0]}"])
    assert keys.alias_patterns == ("alias/cmk/*", "alias/awsx", "alias/aws")
    assert keys.key_arns == (REALISTIC_KEYS[0],)


@pytest.mark.parametrize(
    ("break_glass", "message"),
    [("arn:aws:iam::*:role/BreakGlass", "12-digit account"), ("BreakGlass", "role ARN pattern")],
)
def test_break_glass_must_pin_an_account(break_glass: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        generate_scps(REALISTIC_KEYS[:1], break_glass=[break_glass])


def test_no_approved_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="no approved key"):
        generate_scps([])


def test_the_simulator_refuses_malformed_policies_with_the_parser_message() -> None:
    bad = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "kms:*",
                "Resource": "*",
                "Condition": {"StringEqual": {"kms:ViaService": "x"}},
            }
        ],
    }
    with pytest.raises(PolicyParseError, match="StringEqual"):
        scp_denies([bad], "kms:Decrypt")


_KEY_IDS = hs.integers(min_value=0, max_value=2**32 - 1)
_REGIONS = hs.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2", "cn-north-1"])


@settings(max_examples=60, deadline=None)
@given(
    approved=hs.lists(hs.tuples(_REGIONS, _KEY_IDS), min_size=1, max_size=30, unique=True),
    other=hs.tuples(_REGIONS, _KEY_IDS),
)
def test_every_approved_key_and_only_those_may_hold_new_secrets(approved, other) -> None:
    def arn(r: str, n: int) -> str:
        part = "aws-cn" if r.startswith("cn-") else "aws"
        return f"arn:{part}:kms:{r}:{ACCOUNT}:key/{n:08x}-12ab-34cd-56ef-1234567890ab"

    keys = [arn(*k) for k in approved]
    # Up to 30 keys always fit in the 5 SCPs of a target (larger sets: the refusal tests).
    scps = generate_scps(keys)
    assert all(p.size <= SCP_MAX_CHARS for p in scps.policies)
    assert len(scps.policies) <= MAX_SCPS_PER_TARGET
    docs = scps.documents
    for k in keys:
        assert (
            scp_denies(docs, "secretsmanager:CreateSecret", {"secretsmanager:KmsKeyArn": k}) is None
        )
    if other not in approved:
        assert (
            scp_denies(
                docs, "secretsmanager:CreateSecret", {"secretsmanager:KmsKeyArn": arn(*other)}
            )
            == "DenySecretOnUnapprovedKey"
        )
