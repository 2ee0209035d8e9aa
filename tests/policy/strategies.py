"""Hypothesis strategies for key policies: arbitrary JSON, and valid policies built from the
fragments real policies are made of (every principal form, action glob, restricting and
non-restricting condition key, qualifier and IfExists form)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

KEY_ACCOUNT = "111122223333"
OTHER = "444455556666"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
"""Any JSON value."""

_PRINCIPAL_VALUES = st.sampled_from(
    [
        "*",
        KEY_ACCOUNT,
        OTHER,
        f"arn:aws:iam::{KEY_ACCOUNT}:root",
        f"arn:aws:iam::{OTHER}:root",
        f"arn:aws:iam::{KEY_ACCOUNT}:role/Admin",
        f"arn:aws:iam::{KEY_ACCOUNT}:role/app-*",
        f"arn:aws:iam::{OTHER}:user/alice",
        f"arn:aws:sts::{OTHER}:assumed-role/Deploy/s1",
        "AROAEXAMPLEID12345678",
    ]
)
_SERVICES = st.sampled_from(["logs.amazonaws.com", "cloudtrail.amazonaws.com"])
_ACTIONS = st.sampled_from(
    [
        "kms:*",
        "*",
        "kms:Decrypt",
        "KMS:decrypt",
        "kms:Encrypt",
        "kms:De*",
        "kms:Get*",
        "kms:PutKeyPolicy",
        "kms:CreateGrant",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
        "s3:GetObject",
    ]
)
_RESOURCES = st.sampled_from(
    [
        "*",
        "*",
        "*",
        "*",
        f"arn:aws:kms:us-east-1:{KEY_ACCOUNT}:key/*",
        f"arn:aws:kms:us-east-1:{OTHER}:key/1234",
        f"arn:aws:kms:us-east-1:{KEY_ACCOUNT}:alias/app",
    ]
)
_BASE_OPERATORS = st.sampled_from(
    [
        "StringEquals",
        "StringNotEquals",
        "StringLike",
        "StringNotLike",
        "StringEqualsIgnoreCase",
        "ArnLike",
        "ArnEquals",
        "ArnNotLike",
        "IpAddress",
        "NotIpAddress",
        "Bool",
        "NumericLessThan",
    ]
)
CONDITION_KEYS = [
    "kms:CallerAccount",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceVpce",
    "aws:SourceIp",
    "kms:ViaService",
    "kms:GrantIsForAWSResource",
    "aws:PrincipalIsAWSService",
    "kms:EncryptionContext:app",
]
_CONDITION_VALUES = st.sampled_from(
    [
        KEY_ACCOUNT,
        OTHER,
        "*",
        "o-a1b2c3d4e5",
        "o-*",
        "o-a1b2c3d4e5/r-ab12/*",
        "${aws:PrincipalAccount}",
        "${*}",
        f"arn:aws:iam::{OTHER}:role/x",
        f"arn:aws:iam::{KEY_ACCOUNT}:root",
        "arn:aws:iam::*:role/x",
        "vpce-1a2b3c4d",
        "203.0.113.0/24",
        "0.0.0.0/0",
        "true",
        "false",
        "ec2.us-east-1.amazonaws.com",
    ]
)


def one_or_list(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value, or a list of 1-3 of them (IAM accepts both)."""
    return values | st.lists(values, min_size=1, max_size=3)


@st.composite
def operators(draw: st.DrawFn) -> str:
    """An operator with an optional set qualifier and IfExists suffix."""
    base = draw(_BASE_OPERATORS)
    qualifier = draw(st.sampled_from(["", "", "", "ForAnyValue:", "ForAllValues:"]))
    suffix = draw(st.sampled_from(["", "", "IfExists"]))
    return f"{qualifier}{base}{suffix}"


conditions = st.dictionaries(
    operators(),
    st.dictionaries(st.sampled_from(CONDITION_KEYS), one_or_list(_CONDITION_VALUES), max_size=2),
    min_size=1,
    max_size=2,
)

principals = st.just("*") | st.fixed_dictionaries(
    {"AWS": one_or_list(_PRINCIPAL_VALUES)}, optional={"Service": one_or_list(_SERVICES)}
)


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    """One valid statement."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["Sid"] = draw(st.sampled_from(["A", "B", "Enable IAM policies"]))
    out["Effect"] = effect or draw(st.sampled_from(["Allow", "Allow", "Deny"]))
    principal_key = "NotPrincipal" if draw(st.integers(0, 7)) == 0 else "Principal"
    out[principal_key] = draw(principals)
    action_key = "NotAction" if draw(st.integers(0, 7)) == 0 else "Action"
    out[action_key] = draw(one_or_list(_ACTIONS))
    out["Resource"] = draw(one_or_list(_RESOURCES))
    if draw(st.booleans()):
        out["Condition"] = draw(conditions)
    return out


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid key policy (JSON value) of 1-4 statements."""
    doc: dict[str, Any] = {}
    version = draw(st.sampled_from(["2012-10-17", "2012-10-17", "2008-10-17", None]))
    if version:
        doc["Version"] = version
    stmts = draw(st.lists(statements(), min_size=1, max_size=4))
    doc["Statement"] = stmts[0] if len(stmts) == 1 and draw(st.booleans()) else stmts
    return doc


@st.composite
def mutated_policies(draw: st.DrawFn) -> Any:
    """A valid policy with one element replaced by an arbitrary JSON value."""
    doc = draw(policies())
    stmts = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    target = draw(st.sampled_from(stmts))
    field = draw(
        st.sampled_from(["Effect", "Principal", "Action", "Resource", "Condition", "Sid", "X"])
    )
    target[field] = draw(json_values)
    return doc


def policy_texts() -> st.SearchStrategy[str]:
    """JSON text of valid or mutated policies, with a chance of a truncated document."""
    return st.one_of(policies(), mutated_policies()).map(json.dumps) | st.text(max_size=40)
