"""The analysis API: shapes, catalogue consistency, HTML, KmsKey integration."""

from __future__ import annotations

import json
import pickle

import pytest

import cmkguard
from cmkguard import KmsKey
from cmkguard.policy import FindingSpec
from cmkguard.policy.findings import _POLICY_FINDINGS as POLICY_FINDINGS
from cmkguard.severity import Severity
from cmkguard.types import AccountId, KeyArn, Region

K = "111122223333"
X = "444455556666"
ROOT = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{K}:root"}, "Action": "kms:*"}
ROOT["Resource"] = "*"
PUBLIC = {
    "Version": "2012-10-17",
    "Statement": [
        ROOT,
        {
            "Sid": "<script>alert(1)</script>",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
        },
    ],
}


def test_kms_key_exposes_its_policy_analysis_lazily() -> None:
    key = KmsKey(
        arn=KeyArn(f"arn:aws:kms:us-east-1:{K}:key/k1"),
        key_id="k1",
        account=AccountId(K),
        region=Region("us-east-1"),
        manager="CUSTOMER",
        state="Enabled",
        policy=json.dumps(PUBLIC),
    )
    analysis = key.policy_analysis
    assert analysis is not None
    assert analysis.is_public
    assert key.policy_analysis is analysis  # cached
    assert key.grant_analysis.findings == ()


def test_findings_come_from_the_catalogue_and_explain_themselves() -> None:
    analysis = cmkguard.analyze_key_policy(PUBLIC, key_account=K)
    (public,) = [f for f in analysis.findings if f.id == "public-access"]
    assert public.severity is Severity.CRITICAL
    assert public.statement_index == 1
    assert public.sid == "<script>alert(1)</script>"
    assert public.principal == "*"
    assert public.action == "kms:Decrypt"
    assert public.explanation.endswith(".")
    assert public.spec is POLICY_FINDINGS["public-access"]
    assert analysis.findings[0] is public  # most severe first


def test_catalogue_has_the_required_ids_with_full_specs() -> None:
    required = {
        "public-access",
        "cross-account-access",
        "wildcard-actions",
        "separation-of-duties",
        "create-grant-unconstrained",
        "service-principal-unconditioned",
        "source-ip-condition",
        "lockout-risk",
        "root-delegation",
        "principal-wildcard",
        "grant-cross-account",
        "grant-decrypt-unconstrained",
        "grant-create-grant",
        "grant-retiring-external",
    }
    assert required <= set(POLICY_FINDINGS)
    assert POLICY_FINDINGS["root-delegation"].severity is Severity.INFO
    assert POLICY_FINDINGS["principal-wildcard"].severity is Severity.INFO
    for fid, spec in POLICY_FINDINGS.items():
        assert isinstance(spec, FindingSpec)
        assert spec.id == fid
        assert all((spec.title, spec.rationale, spec.remediation))
        assert spec.to_dict()["severity"] == spec.severity.value


def test_to_dict_is_json_and_complete() -> None:
    analysis = cmkguard.analyze_key_policy(PUBLIC, key_account=K)
    data = json.loads(json.dumps(analysis.to_dict()))
    assert data["is_public"] is True
    assert data["external_access"] == ["*"]
    assert data["principals_allowed"]["kms:Decrypt"] == ["*", f"arn:aws:iam::{K}:root"]
    assert [s["verdict"] for s in data["statements"]] == ["same-account", "public"]
    assert {f["id"] for f in data["findings"]} == set(analysis.finding_ids)


def test_html_repr_escapes_everything() -> None:
    page = cmkguard.analyze_key_policy(PUBLIC, key_account=K)._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "public-access" in page
    assert "<table>" in page
    # The shared scoped stylesheet, so Jupyter's CSS does not right-align the text.
    assert page.startswith('<div class="cmkguard cmkguard-policy"><style>')


def test_principals_allowed_outside_the_action_model() -> None:
    analysis = cmkguard.analyze_key_policy(
        {
            "Statement": [
                ROOT,
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": X},
                    "Action": ["kms:Encrypt", "kms:Future*"],
                    "Resource": "*",
                },
                {"Effect": "Deny", "Principal": "*", "Action": "kms:FutureDanger", "Resource": "*"},
            ]
        },
        key_account=K,
    )
    assert analysis.principals_allowed("kms:FutureThing") == {
        f"arn:aws:iam::{K}:root",
        f"arn:aws:iam::{X}:root",
    }
    assert analysis.principals_allowed("kms:FutureDanger") == frozenset()
    assert analysis.principals_allowed("KMS:DECRYPT") == {f"arn:aws:iam::{K}:root"}


def test_trusted_accounts_are_listed_but_downgraded() -> None:
    policy = {"Statement": [ROOT, dict(ROOT, Principal={"AWS": X}, Action="kms:Decrypt")]}
    plain = cmkguard.analyze_key_policy(policy, key_account=K)
    trusted = cmkguard.analyze_key_policy(policy, key_account=K, trusted_accounts=[X])
    assert plain.external_access == trusted.external_access == {X}
    (a,) = [f for f in plain.findings if f.id == "cross-account-access"]
    (b,) = [f for f in trusted.findings if f.id == "cross-account-access"]
    assert (a.severity, a.downgraded) == (Severity.HIGH, False)
    assert (b.severity, b.downgraded) == (Severity.INFO, True)


def test_every_statement_gets_one_explanation_sentence() -> None:
    analysis = cmkguard.analyze_key_policy(PUBLIC, key_account=K)
    assert [s.index for s in analysis.statements] == [0, 1]
    assert analysis.statements[1].sid == "<script>alert(1)</script>"
    assert analysis.statements[1].principals == ("*",)
    assert analysis.statements[1].actions == ("kms:Decrypt",)
    assert "every AWS principal" in analysis.statements[1].reason


def test_bad_key_account_is_a_configuration_error() -> None:
    with pytest.raises(cmkguard.ConfigurationError, match="'1111' is not a 12-digit account id"):
        cmkguard.analyze_key_policy(PUBLIC, key_account="1111")
    with pytest.raises(cmkguard.ConfigurationError, match="12-digit"):
        cmkguard.analyze_grants([], key_account="acct")


def test_analyses_pickle_with_their_answers() -> None:
    analysis = cmkguard.analyze_key_policy(json.dumps(PUBLIC), key_account=K)
    clone = pickle.loads(pickle.dumps(analysis))
    assert clone == analysis
    assert clone.findings == analysis.findings
    assert clone.principals_allowed("kms:Decrypt") == analysis.principals_allowed("kms:Decrypt")


def test_a_hand_built_analysis_reads_its_policy_and_explains_itself() -> None:
    policy = cmkguard.parse_key_policy(PUBLIC)
    made = cmkguard.PolicyAnalysis(
        key_account=K, is_public=True, external_access=frozenset({"*"}), policy=policy
    )
    analysed = cmkguard.analyze_key_policy(PUBLIC, key_account=K)
    assert made.policy == policy
    assert made == analysed
    assert hash(made) == hash(analysed)
    assert made.finding_ids == analysed.finding_ids
