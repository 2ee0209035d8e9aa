"""Strict parsing: located errors, accepted unusual forms, normalisation and rendering."""

from __future__ import annotations

import pickle

import pytest

import cmkguard
from cmkguard.policy import Condition, Effect, PrincipalKind

K = "111122223333"


def _stmt(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"Effect": "Allow", "Principal": "*", "Action": "kms:*"}
    base["Resource"] = "*"
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {
                "Statement": [
                    _stmt(),
                    _stmt(),
                    _stmt(Condition={"StringEqual": {"kms:CallerAccount": K}}),
                ]
            },
            "Statement[2].Condition: unknown operator 'StringEqual'",
        ),
        (
            {"Statement": [_stmt(Principal={"AWS": ["*", "RoleName"]})]},
            "Statement[0].Principal.AWS[1]: invalid principal 'RoleName'",
        ),
        ({"Version": "2012-10-17"}, "missing Statement"),
        ({"Statement": [_stmt(Action=[])]}, "Statement[0].Action: empty list"),
        (
            {"Statement": [_stmt(Action=["kms:Decrypt", 3])]},
            "Statement[0].Action[1]: expected a string, got a number",
        ),
        ({"Statement": [_stmt(Sid=7)]}, "Statement[0].Sid: expected a string"),
        ({"Statement": [_stmt(Principal={"Aws": "*"})]}, "unknown principal type 'Aws'"),
        (
            {"Statement": [_stmt(Condition={"StringEquals": {"CallerAccount": K}})]},
            "has no service prefix",
        ),
        ({"Statement": [_stmt(Condition={"StringEquals": {}, "stringequals": {}})]}, "given twice"),
        ({"Id": 5, "Statement": []}, "Id: expected a string"),
        ({"Statement": [_stmt(NotResource="*")]}, "both Resource and NotResource"),
        ({"Statement": [_stmt(NotPrincipal="*")]}, "both Principal and NotPrincipal"),
        ({1: "x"}, "unknown top-level field '1'"),
        (
            {"Statement": [_stmt(Condition=[])]},
            "Statement[0].Condition: expected an object, got a list",
        ),
        (
            {"Statement": [_stmt(Principal={"Service": "Logs Service"})]},
            "invalid service principal",
        ),
        ({"Statement": [_stmt(Principal={"AWS": "arn:aws:s3:::bucket"})]}, "invalid principal"),
        ({"Statement": [_stmt(Principal={"AWS": f"{K}\n"})]}, "invalid principal"),
        ({"Statement": [_stmt(Principal={"AWS": f"arn:aws:iam::{K}:role/x\n"})]}, "invalid"),
        ({"Statement": [_stmt(Principal={"AWS": "١١١١٢٢٢٢٣٣٣٣"})]}, "character U+0661"),
        ({"Statement": [_stmt(Action="kms:Decrypt\n")]}, "invalid action"),
    ],
)
def test_malformed_policies_raise_located_errors(doc: object, message: str) -> None:
    with pytest.raises(cmkguard.PolicyParseError) as info:
        cmkguard.parse_key_policy(doc)  # type: ignore[arg-type]
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"Statement": [], "Statement": []}', "duplicate key 'Statement'"),
        ('{"Statement": [{"Effect": "Allow",}]}', "line 1 column 35: invalid JSON"),
        ("[" * 100_000, "nested too deeply"),
        ("x" * 1_048_577, "refusing more than"),
        (b"\xff\xfe", "not UTF-8"),
        ("Infinity", "Infinity is not valid JSON"),
        ("null", "expected an object, got null"),
    ],
)
def test_malformed_text_raises_located_errors(text: str | bytes, message: str) -> None:
    with pytest.raises(cmkguard.PolicyParseError) as info:
        cmkguard.parse_key_policy(text)
    assert message in str(info.value)


def test_policy_parse_error_is_a_value_error_that_pickles() -> None:
    with pytest.raises(ValueError, match="Version") as info:
        cmkguard.parse_key_policy({"Version": "2010-01-01", "Statement": []})
    error = info.value
    assert isinstance(error, cmkguard.PolicyParseError)
    assert error.location == "Version"
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.location, clone.reason) == (error.location, error.reason)


def test_normalisation_into_typed_objects() -> None:
    policy = cmkguard.parse_key_policy(
        {
            "Statement": {
                "Effect": "Deny",
                "NotPrincipal": {
                    "Service": "logs.amazonaws.com",
                    "AWS": [K, f"arn:aws:iam::{K}:root"],
                },
                "Action": "kms:Decrypt",
                "Resource": ["*"],
                "Condition": {
                    "forallvalues:stringlikeifexists": {"KMS:CALLERACCOUNT": ["1", 2, True]}
                },
            }
        }
    )
    assert policy.version is None
    assert policy.effective_version == "2008-10-17"
    (st,) = policy.statements
    assert st.effect is Effect.DENY
    assert st.not_principal
    # The bare id and the explicit aws root are kept apart (the bare id is the root in the
    # key's partition, which may be aws-cn); the analysis merges them when they coincide.
    root = f"arn:aws:iam::{K}:root"
    assert [p.value for p in st.principals] == [root, root, "logs.amazonaws.com"]
    assert [p.bare for p in st.principals] == [True, False, False]
    assert [p.kind for p in st.principals] == [PrincipalKind.ACCOUNT] * 2 + [PrincipalKind.SERVICE]
    assert st.actions == ("kms:Decrypt",)
    assert st.resources == ("*",)
    assert st.conditions == (
        Condition(
            "ForAllValues:StringLikeIfExists",
            "kms:CallerAccount",
            ("1", "2", "true"),
            "StringLike",
            "ForAllValues",
            if_exists=True,
        ),
    )


def test_render_is_json_and_round_trips_with_canonical_forms() -> None:
    text = (
        '{"Version": "2012-10-17", "Id": "k", "Statement": [{"Sid": "s", "Effect": "Allow",'
        ' "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*",'
        ' "Condition": {"stringequals": {"aws:principalorgid": "o-a1b2c3d4e5"}}}]}'
    )
    policy = cmkguard.parse_key_policy(text)
    rendered = policy.render()
    assert rendered["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{K}:root"}
    assert rendered["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}
    }
    assert cmkguard.parse_key_policy(policy.to_json()) == policy
    assert cmkguard.parse_key_policy(policy) is policy


def test_valid_unusual_forms_are_accepted() -> None:
    policy = cmkguard.parse_key_policy(
        {
            "Version": "2008-10-17",
            "Statement": [
                _stmt(Sid="dup"),
                _stmt(Sid="dup", Principal={"AWS": ["*"]}, Condition={}),
                _stmt(Action="kms:Decrypt", Resource=["*"]),
            ],
        }
    )
    assert len(policy.statements) == 3
    assert all(s.has_wildcard_principal for s in policy.statements)
