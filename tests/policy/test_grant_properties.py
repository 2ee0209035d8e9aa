"""Generated grants under generated key-policy Denies, against a small independent reference.

The reference is written from the rules (docs/policy.md, "Grants"), not from the code: a grant
request (grantee, operation, encryption context) is allowed iff the grant carries the operation,
the context meets the constraint (keys without case, values exactly), and no Deny of the key
policy applies to it; a Deny from the pool below is a predicate over that request. The contexts
worth trying are few: the constraint's own pairs, plus the values the Denies mention.

Properties: the analyser keeps a grant request iff the reference finds one that no Deny stops;
every kept witness is itself admitted by its grant and escapes every Deny; adding a Deny never
adds access (monotonicity); with no Deny the key policy changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import cmkguard

K = "111122223333"
X = "444455556666"
PRINCIPALS = (
    f"arn:aws:iam::{K}:role/App",
    f"arn:aws:iam::{X}:role/Reader",
    f"arn:aws:iam::{X}:root",
)
OPERATIONS = ("Decrypt", "ReEncryptFrom", "GenerateDataKey", "DescribeKey", "CreateGrant")
ROOT = {
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{K}:root"},
    "Action": "kms:*",
    "Resource": "*",
}

Request = tuple[str, str, dict[str, str]]  # (principal, operation, encryption context)


def _account(principal: str) -> str:
    return principal.split(":")[4]


def _ctx(context: dict[str, str], key: str) -> str | None:
    return next((v for k, v in context.items() if k.lower() == key), None)


# (statement, reference predicate: does this Deny apply to the request?)
DENIES: dict[str, tuple[dict[str, Any], Callable[[Request], bool]]] = {
    "perimeter": (
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": K}},
        },
        lambda r: _account(r[0]) != K,
    ),
    "only-prod": (
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"kms:EncryptionContext:env": "prod"}},
        },
        lambda r: r[1] == "Decrypt" and _ctx(r[2], "env") != "prod",
    ),
    "no-orders": (
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["kms:Decrypt", "kms:ReEncrypt*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:app": "orders"}},
        },
        lambda r: r[1] in ("Decrypt", "ReEncryptFrom") and _ctx(r[2], "app") == "orders",
    ),
    "reader-no-decrypt": (
        {
            "Effect": "Deny",
            "Principal": {"AWS": f"arn:aws:iam::{X}:role/Reader"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        },
        lambda r: r[0] == f"arn:aws:iam::{X}:role/Reader" and r[1] == "Decrypt",
    ),
    "no-create-grant": (
        {"Effect": "Deny", "Principal": "*", "Action": "kms:CreateGrant", "Resource": "*"},
        lambda r: r[1] == "CreateGrant",
    ),
}
_TAKES_CONTEXT = {"Decrypt", "ReEncryptFrom", "GenerateDataKey"}

_pairs = st.dictionaries(
    st.sampled_from(["app", "App", "env"]),
    st.sampled_from(["orders", "billing", "prod"]),
    max_size=2,
)
_constraints = st.one_of(
    st.none(),
    _pairs.map(lambda p: {"EncryptionContextSubset": p}),
    _pairs.map(lambda p: {"EncryptionContextEquals": p}),
)


@st.composite
def _grants(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(1, 3))):
        grant: dict[str, Any] = {
            "GrantId": f"g{i}",
            "GranteePrincipal": draw(st.sampled_from(PRINCIPALS)),
            "Operations": draw(
                st.lists(st.sampled_from(OPERATIONS), min_size=1, max_size=3, unique=True)
            ),
        }
        constraints = draw(_constraints)
        if constraints is not None:
            grant["Constraints"] = constraints
        out.append(grant)
    return out


def _contexts(constraint: cmkguard.GrantConstraint) -> list[dict[str, str]]:
    """The contexts worth trying: the constraint's own, with the Denies' values added."""
    base = constraint.example_context()
    if base is None:
        return []
    if constraint.equals:
        return [base]
    extra = [{}, {"env": "prod"}, {"app": "billing"}, {"env": "prod", "app": "billing"}]
    # Added keys never differ from the constraint's only by case: how a condition reads a
    # context holding both "app" and "App" is not documented (AWS advises against it).
    own = {k.lower() for k in base}
    tries = ({**{k: v for k, v in e.items() if k not in own}, **base} for e in extra)
    return [c for c in tries if constraint.admits(c)]


def _reference_allows(request: Request, denies: list[str]) -> bool:
    return not any(DENIES[d][1](request) for d in denies)


def _triples(analysis: cmkguard.GrantAnalysis) -> set[tuple[str, str, str]]:
    return {(a.grant_id, a.principal, a.operation) for a in analysis.accesses}


# GRANT_PROPERTY_EXAMPLES=2000 runs it deeply (the suite keeps it to a fraction of a second).
@settings(max_examples=int(os.environ.get("GRANT_PROPERTY_EXAMPLES", "60")), deadline=None)
@given(grants=_grants(), denies=st.lists(st.sampled_from(sorted(DENIES)), max_size=3, unique=True))
def test_grant_access_matches_the_reference(
    grants: list[dict[str, Any]], denies: list[str]
) -> None:
    policy = {"Version": "2012-10-17", "Statement": [ROOT, *(DENIES[d][0] for d in denies)]}
    result = cmkguard.analyze_grants(grants, key_account=K, key_policy=policy)
    alone = cmkguard.analyze_grants(grants, key_account=K)
    assert _triples(result) <= _triples(alone)  # a Deny never adds access
    if not denies:
        assert _triples(result) == _triples(alone)
        assert result.denials == ()
    views = {g.grant_id: g for g in result.grants}
    kept = {(a.grant_id, a.operation): a for a in result.accesses if a.via == "grant"}
    for g in result.grants:
        for op in g.operations:
            contexts = _contexts(g.constraint) if op in _TAKES_CONTEXT else [{}]
            expected = any(_reference_allows((g.grantee, op, c), denies) for c in contexts)
            assert ((g.grant_id, op) in kept) is expected, (g.grant_id, op, denies)
    for a in result.accesses:
        if a.via != "grant":
            continue
        context = dict(a.encryption_context or {})
        if not a.checked:
            # Only keys differing by case (one condition key to a policy) leave it undecided.
            assert len({k.lower() for k in context}) < len(context), a
            continue
        if a.operation in _TAKES_CONTEXT:
            assert views[a.grant_id].admits(context)
        assert _reference_allows((a.principal, a.operation, context), denies), a
