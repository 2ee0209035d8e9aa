"""Hypothesis strategies for the differential property: key policies from the families of issue 9.

Conditional Deny (positive, negated, `IfExists`, several caps), wildcards over ARNs (`*` spanning
`:`, patterns with fewer fields), impossible values (upper-case org ids, session ARNs in
`aws:PrincipalArn`, another `aws:ResourceAccount`, `Null` on always-present keys, windows that
ended), pinning values (`${aws:ResourceAccount}`, unique ids, service names), `NotPrincipal`,
partitions (`aws-cn` roots of the key's own account id), policy variables under both versions.

Only what the reference models is generated: no IP ranges, no wildcard principal ARNs, no
federated providers, numbers only as plain integers.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

KEY = "111122223333"
OTHER = "444455556666"
THIRD = "777788889999"
ORG = "o-a1b2c3d4e5"

_PRINCIPALS = [
    "*",
    KEY,
    OTHER,
    f"arn:aws:iam::{KEY}:root",
    f"arn:aws:iam::{OTHER}:root",
    f"arn:aws-cn:iam::{KEY}:root",
    f"arn:aws-cn:iam::{OTHER}:root",
    f"arn:aws:iam::{KEY}:role/Admin",
    f"arn:aws:iam::{KEY}:role/team/Deploy",
    f"arn:aws:iam::{OTHER}:role/Deploy",
    f"arn:aws:iam::{OTHER}:user/alice",
    f"arn:aws:sts::{OTHER}:assumed-role/Deploy/s1",
    f"arn:aws:sts::{KEY}:assumed-role/Deploy/s1",
    "AROAEXAMPLEID12345678",
]
_SERVICES = ["logs.amazonaws.com", "cloudtrail.amazonaws.com"]
_ACTIONS = [
    "kms:*",
    "*",
    "kms:Decrypt",
    "KMS:decrypt",
    "kms:De*",
    "kms:*crypt",
    "kms:Get*",
    "kms:PutKeyPolicy",
    "kms:CreateGrant",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
    "kms:Decrypt?",
    "kms:Future*",
    "s3:GetObject",
]
_RESOURCES = [
    "*",
    "*",
    "*",
    f"arn:aws:kms:*:{KEY}:key/*",
    f"arn:aws:kms:us-east-1:{KEY}:key/*",
    f"arn:aws:kms:us-east-1:{OTHER}:key/1234",
    f"arn:aws:kms:us-east-1:{KEY}:alias/app",
]
_ACCOUNT_VALUES = [KEY, OTHER, THIRD, "*", "4444*", "${aws:PrincipalAccount}"]
_ACCOUNT_VALUES += ["${aws:ResourceAccount}", "${*}"]
# key -> the values that make sense for it (impossible ones included on purpose)
_VALUES: dict[str, list[str]] = {
    "kms:CallerAccount": _ACCOUNT_VALUES,
    "aws:PrincipalAccount": _ACCOUNT_VALUES,
    "aws:ResourceAccount": [KEY, OTHER, "${aws:PrincipalAccount}"],
    "aws:PrincipalArn": [
        f"arn:aws:iam::{OTHER}:role/Deploy",
        f"arn:aws:iam::{OTHER}:role/*",
        f"arn:aws:iam::{KEY}:role/*",
        "arn:aws:iam::*:role/Deploy",
        f"*:{OTHER}:*",
        f"arn:aws:iam::{OTHER}*",
        f"arn:aws:sts::{OTHER}:assumed-role/Deploy/s1",
        f"arn:aws-cn:iam::{OTHER}:root",
        f"arn:aws:iam::{KEY}:root",
        "arn:aws:iam::${aws:PrincipalAccount}:role/Deploy",
    ],
    "aws:PrincipalOrgID": [ORG, "O-A1B2C3D4E5", "o-*", "o-zz99"],
    "aws:PrincipalOrgPaths": [f"{ORG}/*", f"{ORG}/r-ab12/ou-ab12-11111111/*", "o-*/*"],
    "aws:SourceAccount": [KEY, OTHER, "*"],
    "aws:SourceArn": [f"arn:aws:cloudtrail:us-east-1:{OTHER}:trail/*", "arn:aws:s3:::bucket"],
    "aws:SourceVpce": ["vpce-1a2b3c4d"],
    "kms:ViaService": ["ec2.us-east-1.amazonaws.com", "*"],
    "kms:GrantIsForAWSResource": ["true", "false"],
    "aws:PrincipalIsAWSService": ["true", "false"],
    "aws:PrincipalServiceName": ["logs.amazonaws.com", "*"],
    "aws:PrincipalType": ["AssumedRole", "Account", "User"],
    "aws:userid": ["AROAEXAMPLEID12345678:*", "AROAEXAMPLEID12345678", "*"],
    "aws:SecureTransport": ["true", "false"],
    "kms:EncryptionContext:app": ["billing", "*"],
}
_STRING_OPERATORS = [
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "StringEqualsIgnoreCase",
    "ArnLike",
    "ArnNotLike",
    "ArnEquals",
]
_DATES = ["2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z"]


@st.composite
def condition_entry(draw: st.DrawFn) -> tuple[str, str, Any]:
    """`(operator, key, value(s))` for one condition entry."""
    family = draw(st.sampled_from(["string"] * 8 + ["bool", "null", "date"]))
    if family == "date":
        op = draw(st.sampled_from(["DateLessThan", "DateGreaterThan"]))
        return op, "aws:CurrentTime", draw(st.sampled_from(_DATES))
    key = draw(st.sampled_from(sorted(_VALUES)))
    if family == "null":
        return "Null", key, draw(st.sampled_from(["true", "false"]))
    if family == "bool":
        return (
            draw(st.sampled_from(["Bool", "BoolIfExists"])),
            key,
            draw(st.sampled_from(["true", "false"])),
        )
    base = draw(st.sampled_from(_STRING_OPERATORS))
    qualifier = draw(st.sampled_from(["", "", "", "ForAnyValue:", "ForAllValues:"]))
    suffix = draw(st.sampled_from(["", "", "IfExists"]))
    values = draw(st.lists(st.sampled_from(_VALUES[key]), min_size=1, max_size=2, unique=True))
    return f"{qualifier}{base}{suffix}", key, values[0] if len(values) == 1 else values


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    """A `Condition` block of 1-2 entries (distinct keys per operator)."""
    out: dict[str, dict[str, Any]] = {}
    for op, key, value in draw(st.lists(condition_entry(), min_size=1, max_size=2)):
        out.setdefault(op, {})[key] = value
    return out


def _one_or_list(values: list[str]) -> st.SearchStrategy[Any]:
    item = st.sampled_from(values)
    return item | st.lists(item, min_size=2, max_size=3, unique=True)


principals = st.just("*") | st.fixed_dictionaries(
    {"AWS": _one_or_list(_PRINCIPALS)}, optional={"Service": _one_or_list(_SERVICES)}
)


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    """One statement of the families above."""
    out: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    principal_key = "NotPrincipal" if draw(st.integers(0, 5)) == 0 else "Principal"
    out[principal_key] = draw(principals)
    action_key = "NotAction" if draw(st.integers(0, 7)) == 0 else "Action"
    out[action_key] = draw(_one_or_list(_ACTIONS))
    out["Resource"] = draw(_one_or_list(_RESOURCES))
    if draw(st.integers(0, 3)) > 0:
        out["Condition"] = draw(conditions())
    return out


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    """A key policy of 1-4 statements, at least one Allow."""
    version = draw(st.sampled_from(["2012-10-17", "2012-10-17", "2008-10-17"]))
    allow = draw(statements("Allow"))
    rest = draw(st.lists(statements(), max_size=3))
    stmts = [allow, *rest]
    order = draw(st.permutations(range(len(stmts))))
    return {"Version": version, "Statement": [stmts[i] for i in order]}
