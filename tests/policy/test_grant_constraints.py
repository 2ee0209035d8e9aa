"""Grant constraints, exactly: which encryption contexts a grant admits, validation as CreateGrant
would do it, who can decrypt through grants (with witnesses), CreateGrant re-delegation, the
key policy's Deny overriding a grant, and organization members.

The rules are AWS's, cited in docs/policy.md ("Grants"): Subset = the request's context contains
the pairs; Equals = it is that map; keys compare without case and values exactly (API Reference,
GrantConstraints); an empty map is not a constraint (Access Analyzer, KmsGrantConstraints).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cmkguard
from cmkguard import GrantConstraint
from cmkguard.severity import Severity

K = "111122223333"
X = "444455556666"
ROLE_X = f"arn:aws:iam::{X}:role/Reader"
ROLE_K = f"arn:aws:iam::{K}:role/App"


def _grant(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"GrantId": "g1", "GranteePrincipal": ROLE_K, "Operations": ["Decrypt"]}
    base.update(fields)
    return base


def _only(**fields: Any) -> cmkguard.GrantView:
    (view,) = cmkguard.analyze_grants([_grant(**fields)], key_account=K).grants
    return view


# -- which encryption contexts a constraint admits ---------------------------------------------


def test_subset_admits_any_context_containing_its_pairs() -> None:
    c = GrantConstraint(subset={"Department": "IT"})
    assert c.admits({"Department": "IT"})
    assert c.admits({"Department": "IT", "Purpose": "Test"})
    assert not c.admits({})
    assert not c.admits({"Department": "it"})  # values are case-sensitive
    assert not c.admits({"Purpose": "Test"})
    assert c.admits({"department": "IT"})  # keys are not (API Reference, GrantConstraints)


def test_equals_admits_only_that_map() -> None:
    c = GrantConstraint(equals={"Department": "IT"})
    assert c.admits({"Department": "IT"})
    assert c.admits({"DEPARTMENT": "IT"})
    assert not c.admits({"Department": "IT", "Purpose": "Test"})
    assert not c.admits({})
    assert not c.admits({"Department": "It"})


def test_empty_maps_are_no_constraint() -> None:
    for constraints in ({"EncryptionContextEquals": {}}, {"EncryptionContextSubset": {}}):
        view = _only(Constraints=constraints)
        assert not view.has_context_constraint
        assert view.admits({"anything": "goes"})
        assert view.constraint.describe() == "with any encryption context"


def test_equals_and_subset_together_must_both_hold() -> None:
    both = GrantConstraint(equals={"a": "1", "b": "2"}, subset={"a": "1"})
    assert both.admits({"a": "1", "b": "2"})
    assert both.example_context() == {"a": "1", "b": "2"}
    clash = GrantConstraint(equals={"a": "1"}, subset={"b": "2"})
    assert clash.example_context() is None
    assert "no request does" in clash.describe()


def test_a_grant_whose_constraint_admits_no_context_decrypts_nothing() -> None:
    result = cmkguard.analyze_grants(
        [
            _grant(
                GranteePrincipal=ROLE_X,
                Operations=["Decrypt", "DescribeKey"],
                Constraints={
                    "EncryptionContextEquals": {"a": "1"},
                    "EncryptionContextSubset": {"b": "2"},
                },
            )
        ],
        key_account=K,
    )
    assert result.decrypters() == frozenset()
    assert result.principals_for("DescribeKey") == {ROLE_X}  # the constraint does not apply


_keys = st.sampled_from(["app", "App", "APP", "env", "Env", "team"])
_values = st.sampled_from(["orders", "Orders", "prod", "x", ""])
_contexts = st.dictionaries(_keys, _values, max_size=4)


def _lowered(context: dict[str, str]) -> set[tuple[str, str]]:
    return {(k.casefold(), v) for k, v in context.items()}


@settings(max_examples=150, deadline=None)
@given(constraint=st.dictionaries(_keys, _values, min_size=1, max_size=3), context=_contexts)
def test_generated_contexts_are_admitted_iff_the_rule_says_so(
    constraint: dict[str, str], context: dict[str, str]
) -> None:
    # The rule restated independently: Subset = inclusion of (key without case, value) pairs,
    # Equals = equality of those sets.
    subset = GrantConstraint(subset=constraint)
    equals = GrantConstraint(equals=constraint)
    assert subset.admits(context) is (_lowered(constraint) <= _lowered(context))
    assert equals.admits(context) is (_lowered(constraint) == _lowered(context))
    # Every witness context is admitted, and adding pairs keeps a Subset witness admitted.
    for c in (subset, equals):
        example = c.example_context()
        assert example is not None
        assert c.admits(example)
    assert subset.admits({**constraint, "zz-extra": "1"})
    # A child may tighten a parent: Subset -> Equals of the same pairs, or more Subset pairs.
    assert equals.at_least_as_strict_as(subset)
    assert not subset.at_least_as_strict_as(equals)
    assert GrantConstraint(subset={**constraint, "zz": "1"}).at_least_as_strict_as(subset)


# -- validation as CreateGrant does it ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        (
            {"Operations": ["Sign"], "Constraints": {"EncryptionContextSubset": {"a": "b"}}},
            "Grants[0].Constraints.EncryptionContextSubset",
        ),
        (
            {
                "Operations": ["Decrypt", "GenerateMac"],
                "Constraints": {"EncryptionContextEquals": {"a": "b"}},
            },
            "Grants[0].Constraints.EncryptionContextEquals",
        ),
        ({"Constraints": {"EncryptionContextSubset": "a=b"}}, "Grants[0].Constraints."),
        (
            {"Constraints": {"EncryptionContextSubset": {str(i): "v" for i in range(9)}}},
            "Grants[0].Constraints.EncryptionContextSubset",
        ),
        ({"Constraints": {"SourceArn": "bucket"}}, "Grants[0].Constraints.SourceArn"),
        ({"Constraints": {"Other": {}}}, "Grants[0].Constraints"),
        ({"Constraints": []}, "Grants[0].Constraints"),
    ],
)
def test_constraints_are_validated_as_create_grant_would(
    fields: dict[str, Any], location: str
) -> None:
    with pytest.raises(cmkguard.PolicyParseError) as info:
        cmkguard.analyze_grants([_grant(**fields)], key_account=K)
    assert str(info.value).startswith(location)


def test_constraint_free_operations_may_ride_along() -> None:
    view = _only(
        Operations=["Decrypt", "DescribeKey", "RetireGrant", "CreateGrant"],
        Constraints={"EncryptionContextSubset": {"a": "b"}},
    )
    assert view.has_context_constraint
    # Sign with an empty map is fine: an empty map is no constraint.
    sign = _only(Operations=["Sign"], Constraints={"EncryptionContextSubset": {}})
    assert not sign.has_context_constraint


def test_member_accounts_must_be_account_ids() -> None:
    with pytest.raises(cmkguard.ConfigurationError):
        cmkguard.analyze_grants([], key_account=K, member_accounts=X)  # type: ignore[arg-type]
    with pytest.raises(cmkguard.ConfigurationError):
        cmkguard.analyze_grants([], key_account=K, member_accounts=["o-abc"])


# -- who can decrypt, with witnesses ------------------------------------------------------------


def test_decrypters_have_witnesses_built_from_the_constraint() -> None:
    result = cmkguard.analyze_grants(
        [
            _grant(
                GranteePrincipal=ROLE_X,
                Operations=["Decrypt", "ReEncryptFrom", "GenerateDataKey"],
                Constraints={"EncryptionContextSubset": {"app": "orders"}},
            )
        ],
        key_account=K,
    )
    assert result.decrypters() == {ROLE_X}
    assert result.principals_for("kms:GenerateDataKey") == {ROLE_X}
    (w,) = result.witnesses_for("Decrypt")
    assert (w.grant_id, w.principal, w.operation, w.via) == ("g1", ROLE_X, "Decrypt", "grant")
    assert w.encryption_context == {"app": "orders"}
    assert result.grants[0].admits(w.encryption_context)
    assert 'contains {"app": "orders"}' in w.constraint
    assert result.to_dict()["accesses"][0]["request"] == w.describe()
    assert "grant-decrypt-unconstrained" not in result.finding_ids
    (cross,) = [f for f in result.findings if f.id == "grant-cross-account"]
    assert cross.condition == 'only when the encryption context contains {"app": "orders"}'


def test_decrypt_with_create_grant_reaches_any_principal() -> None:
    result = cmkguard.analyze_grants(
        [_grant(GranteePrincipal=ROLE_X, Operations=["Decrypt", "CreateGrant"])], key_account=K
    )
    assert result.decrypters() == {ROLE_X, "*"}
    (handed,) = [w for w in result.witnesses_for("Decrypt") if w.principal == "*"]
    assert handed.via == "re-delegation"
    assert handed.delegated_by == ROLE_X
    (finding,) = [f for f in result.findings if f.id == "grant-create-grant"]
    assert finding.severity is Severity.HIGH
    assert "any principal, including outside the organization" in finding.explanation


def test_create_grant_alone_cannot_yield_decrypt() -> None:
    result = cmkguard.analyze_grants(
        [_grant(GranteePrincipal=ROLE_K, Operations=["CreateGrant"])], key_account=K
    )
    assert result.decrypters() == frozenset()
    assert result.principals_for("CreateGrant") == {ROLE_K}
    (finding,) = result.findings
    assert finding.id == "grant-create-grant"
    assert finding.severity is Severity.LOW
    assert "no grant it creates can give Decrypt" in finding.explanation


# -- the key policy's Deny overrides a grant ---------------------------------------------------

_ROOT = {
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{K}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def _policy(*denies: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [_ROOT, *denies]}


def test_an_account_perimeter_deny_removes_an_external_grant() -> None:
    perimeter = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalAccount": K}},
    }
    grants = [_grant(GranteePrincipal=ROLE_X, Operations=["Decrypt", "CreateGrant"])]
    result = cmkguard.analyze_grants(grants, key_account=K, key_policy=_policy(perimeter))
    assert result.key_policy_checked
    assert result.decrypters() == frozenset()
    assert result.external_grantees == frozenset()
    assert {(d.principal, d.operation, d.denied_by) for d in result.denials} >= {
        (ROLE_X, "Decrypt", (1,)),
        (ROLE_X, "CreateGrant", (1,)),
    }
    (cross,) = [f for f in result.findings if f.id == "grant-cross-account"]
    assert cross.severity is Severity.INFO
    # Without the policy the same grant is HIGH cross-account access.
    alone = cmkguard.analyze_grants(grants, key_account=K)
    assert alone.decrypters() == {ROLE_X, "*"}


def test_a_context_deny_is_escaped_with_a_context_the_grant_admits() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:EncryptionContext:env": "prod"}},
    }
    subset = _grant(Constraints={"EncryptionContextSubset": {"app": "orders"}})
    result = cmkguard.analyze_grants([subset], key_account=K, key_policy=_policy(deny))
    (w,) = result.witnesses_for("Decrypt")
    assert w.checked
    assert w.encryption_context == {"app": "orders", "env": "prod"}
    assert [e.statement_index for e in w.deny_escapes] == [1]
    # An Equals constraint without env cannot escape that Deny: Decrypt is removed.
    equals = _grant(Constraints={"EncryptionContextEquals": {"app": "orders"}})
    denied = cmkguard.analyze_grants([equals], key_account=K, key_policy=_policy(deny))
    assert denied.decrypters() == frozenset()
    (removed,) = denied.denials
    assert (removed.operation, removed.denied_by) == ("Decrypt", (1,))


def test_member_accounts_make_a_grantee_inside_the_organization() -> None:
    grants = [_grant(GranteePrincipal=ROLE_X, Constraints={"EncryptionContextSubset": {"a": "b"}})]
    inside = cmkguard.analyze_grants(grants, key_account=K, member_accounts=[K, X])
    assert inside.external_grantees == {ROLE_X}
    assert inside.outside_grantees == frozenset()
    (f,) = inside.findings
    assert f.severity is Severity.MEDIUM
    assert "organization" in f.explanation
    outside = cmkguard.analyze_grants(grants, key_account=K)
    assert outside.outside_grantees == {ROLE_X}
    assert outside.findings[0].severity is Severity.HIGH


def test_html_shows_the_constraint_in_words() -> None:
    result = cmkguard.analyze_grants(
        [_grant(Constraints={"EncryptionContextSubset": {"app": "orders"}})], key_account=K
    )
    page = result._repr_html_()
    assert "only when the encryption context contains {&quot;app&quot;: &quot;orders&quot;}" in page
    assert ROLE_K in page


def test_asymmetric_and_hmac_keys_take_no_encryption_context() -> None:
    constrained = _grant(
        Operations=["Decrypt"], Constraints={"EncryptionContextSubset": {"app": "orders"}}
    )
    for spec in ("RSA_2048", "HMAC_256", "ECC_NIST_P256"):
        with pytest.raises(cmkguard.PolicyParseError) as info:
            cmkguard.analyze_grants([constrained], key_account=K, key_spec=spec)
        assert str(info.value).startswith("Grants[0].Constraints.EncryptionContextSubset")
        assert spec in str(info.value)
    rsa = cmkguard.analyze_grants([_grant()], key_account=K, key_spec="RSA_2048")
    (w,) = rsa.witnesses_for("Decrypt")
    assert w.encryption_context is None  # RSA decryption takes no encryption context
    symmetric = cmkguard.analyze_grants([constrained], key_account=K, key_spec="SYMMETRIC_DEFAULT")
    assert symmetric.grants[0].has_context_constraint


def test_html_shows_witnesses_and_removals() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": ROLE_X},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    result = cmkguard.analyze_grants(
        [_grant(GranteePrincipal=ROLE_X, Operations=["Decrypt", "DescribeKey"])],
        key_account=K,
        key_policy=_policy(deny),
    )
    page = result._repr_html_()
    assert "Who gets in through the grants" in page
    assert f"{ROLE_X} calls DescribeKey" in page
    assert "Removed by the key policy" in page
    assert "<b>g1</b>" not in page
