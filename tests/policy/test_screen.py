"""The pre-screen (`policy/_screen.py`) agrees with the exact engine whenever it decides.

The screen answers `is_public` and `external_access` without the engine for common shapes and
returns `None` otherwise. Here it is checked against the engine's own answers (the pieces of
`_engine.build`, which never consults the screen) on both corpora and on generated policies,
including policies drawn to hit the screened shapes (named principals, pinning conditions).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cmkguard
from cmkguard.policy._engine import build
from cmkguard.policy._screen import screen_external, screen_public
from cmkguard.policy.analysis import clear_memos
from cmkguard.policy.document import KeyPolicy, parse_key_policy
from tests.policy import differential_strategies as diff
from tests.policy import strategies as plain
from tests.policy.policy_corpus import OWN_CORPUS, PUBLIC_CORPUS, case_policy, load_cases

_PROFILE = settings(
    max_examples=int(os.environ.get("POLICY_SCREEN_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _engine(policy: KeyPolicy, key: str, org: str | None, trusted: frozenset[str], arn: Any):
    b = build(policy, key, org, trusted, arn)
    public = any(p.verdict == "public" for p in b.pieces)
    external: set[str] = set()
    for p in b.pieces:
        if p.verdict in ("public", "cross-account"):
            external |= p.entities
    return public, frozenset(external)


def _agree(
    policy: KeyPolicy,
    key: str,
    org: str | None = None,
    trusted: frozenset[str] = frozenset(),
    arn: str | None = None,
) -> tuple[bool, bool]:
    """Assert agreement; return which of the two questions the screen decided."""
    public, external = _engine(policy, key, org, trusted, arn)
    screened = screen_public(policy, key, arn)
    if screened is not None:
        assert screened == public, policy.to_json()
    ext = screen_external(policy, key, org, trusted, arn)
    if ext is not None:
        assert ext == external, policy.to_json()
    return screened is not None, ext is not None


def _corpus_cases() -> list[Any]:
    return load_cases(PUBLIC_CORPUS) + load_cases(OWN_CORPUS)


_DECIDED: dict[str, tuple[bool, bool]] = {}


@pytest.mark.parametrize("case", _corpus_cases())
def test_screen_agrees_with_the_engine_on_every_corpus_case(case: dict[str, Any]) -> None:
    try:
        policy = parse_key_policy(case_policy(case))
    except cmkguard.PolicyParseError:
        return  # malformed: nothing to screen
    key = case["key_account"]
    decided = _agree(
        policy,
        key,
        case.get("org_id"),
        frozenset(case.get("trusted_accounts", ())),
        case.get("key_arn"),
    )
    _DECIDED[case.get("source", "") + repr(case_policy(case))[:80]] = decided
    expected = case["expected"].get("public")
    analysis = cmkguard.analyze_key_policy(
        policy,
        key_account=key,
        org_id=case.get("org_id"),
        trusted_accounts=case.get("trusted_accounts", ()),
        key_arn=case.get("key_arn"),
    )
    if expected is not None:
        assert analysis.is_public is expected  # through the lazy, screened path


def test_the_screen_decides_the_common_shapes() -> None:
    """The shapes the screen exists for are decided without the engine (not all left to it)."""
    key, other = "111122223333", "444455556666"
    root = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{key}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    managed = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "kms:CallerAccount": key,
                "kms:ViaService": "ec2.us-east-1.amazonaws.com",
            }
        },
    }
    shared = {
        "Effect": "Allow",
        "Principal": {"AWS": other},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    service = {
        "Effect": "Allow",
        "Principal": {"Service": "logs.amazonaws.com"},
        "Action": "kms:Encrypt",
        "Resource": "*",
    }
    public = {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
    shapes = {
        "default": ([root], False, frozenset()),
        "aws-managed": ([managed], False, frozenset()),
        "cross-account": ([root, shared, service], False, frozenset({other})),
        "public": ([root, public], True, None),
    }
    for name, (stmts, is_public, external) in shapes.items():
        policy = parse_key_policy({"Version": "2012-10-17", "Statement": stmts})
        assert screen_public(policy, key, None) is is_public, name
        assert screen_external(policy, key, None, frozenset(), None) == external, name
        assert _agree(policy, key)[0], name
    # Perimeter Denies, Denies a plain request escapes, conditions it meets: decided too.
    deny = {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}
    via = {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    outside = {"StringNotEquals": {"kms:CallerAccount": key}}
    for stmts, is_public in (
        ([public, deny], False),
        ([public, {**deny, "Condition": outside}], False),
        ([public, {**deny, "Condition": via}], True),
        ([public, {**deny, "Action": "kms:Encrypt"}], True),
        ([{**public, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}], True),
        ([{**public, "Condition": outside}], True),
    ):
        policy = parse_key_policy({"Version": "2012-10-17", "Statement": stmts})
        assert screen_public(policy, key, None) is is_public, stmts
        assert _agree(policy, key)[0], stmts
    # What it cannot tell cheaply (a channel the caller must use, a partial cap): the engine.
    for stmts in (
        [{**public, "Condition": via}],
        [
            public,
            {
                **deny,
                "Action": "kms:Decrypt",
                "Condition": {"StringNotEquals": via["StringEquals"]},
            },
        ],
    ):
        policy = parse_key_policy({"Version": "2012-10-17", "Statement": stmts})
        assert screen_public(policy, key, None) is None, stmts
    # And an analysis answers from the screen without building the engine (a fresh one: an
    # identical policy analysed earlier in the session would be shared, with what it built).
    clear_memos()
    analysis = cmkguard.analyze_key_policy(
        {"Version": "2012-10-17", "Statement": [root, shared]}, key_account=key
    )
    assert not analysis.is_public
    assert analysis.external_access == {other}
    assert analysis._builder is None


def test_the_screen_decides_a_good_share_of_the_corpus() -> None:
    """On both corpora (hard cases on purpose) the screen still decides many policies."""
    decided = 0
    for param in _corpus_cases():
        case = param.values[0]
        if case is None:
            continue
        try:
            policy = parse_key_policy(case_policy(case))
        except cmkguard.PolicyParseError:
            continue
        decided += screen_public(policy, case["key_account"], case.get("key_arn")) is not None
    assert decided >= 60


_NAMED = [p for p in diff._PRINCIPALS if p != "*"]
_PIN_VALUES = [diff.KEY, diff.OTHER, "O-A1B2C3D4E5", diff.ORG, f"arn:aws:iam::{diff.OTHER}:role/x"]


@st.composite
def _screened_statement(draw: st.DrawFn) -> dict[str, Any]:
    """A statement drawn towards the screened shapes: named principals, pinning conditions."""
    out = draw(diff.statements())
    shape = draw(st.integers(0, 3))
    if shape == 0:
        out.pop("NotPrincipal", None)
        out["Principal"] = {"AWS": draw(st.lists(st.sampled_from(_NAMED), min_size=1, max_size=2))}
    elif shape == 1:
        op = draw(
            st.sampled_from(["StringEquals", "StringLike", "ArnEquals", "StringEqualsIgnoreCase"])
        )
        key = draw(
            st.sampled_from(
                [
                    "kms:CallerAccount",
                    "aws:PrincipalAccount",
                    "aws:PrincipalOrgID",
                    "aws:PrincipalArn",
                ]
            )
        )
        cond = out.setdefault("Condition", {})
        cond.setdefault(op, {})[key] = draw(st.sampled_from(_PIN_VALUES))
    elif shape == 2:
        out.pop("Condition", None)
    return out


@st.composite
def _screened_policies(draw: st.DrawFn) -> dict[str, Any]:
    stmts = draw(st.lists(_screened_statement(), min_size=1, max_size=3))
    if draw(st.booleans()):
        stmts = [{**s, "Effect": "Allow"} for s in stmts]
    version = draw(st.sampled_from(["2012-10-17", "2008-10-17"]))
    return {"Version": version, "Statement": stmts}


_OPEN_ACTIONS = ["kms:*", "*", "kms:Decrypt", "kms:Encrypt", "kms:De*", "kms:Future", "s3:Get*"]


@st.composite
def _open_statement(draw: st.DrawFn, effect: str) -> dict[str, Any]:
    """A statement open to every caller (`"*"`, or a NotPrincipal of named principals) with
    the conditions the screen's plain-request and perimeter rules read."""
    out: dict[str, Any] = {"Effect": effect, "Resource": "*"}
    if draw(st.integers(0, 3)) == 0:
        out["NotPrincipal"] = {"AWS": draw(st.lists(st.sampled_from(_NAMED), min_size=1))}
    else:
        out["Principal"] = "*"
    out["Action"] = draw(st.lists(st.sampled_from(_OPEN_ACTIONS), min_size=1, max_size=2))
    if draw(st.booleans()):
        out["Condition"] = draw(diff.conditions())
    return out


@st.composite
def _open_policies(draw: st.DrawFn) -> dict[str, Any]:
    """An open Allow, maybe with conditions, next to 0-2 open Denies (perimeters, caps)."""
    stmts = [draw(_open_statement("Allow"))]
    stmts += draw(st.lists(_open_statement("Deny"), max_size=2))
    version = draw(st.sampled_from(["2012-10-17", "2008-10-17"]))
    return {"Version": version, "Statement": stmts}


@_PROFILE
@given(_open_policies(), st.sampled_from([None, diff.ORG]))
def test_screen_agrees_on_open_policies(doc: dict[str, Any], org: str | None) -> None:
    _agree(parse_key_policy(doc), diff.KEY, org)


@_PROFILE
@given(st.one_of(_screened_policies(), diff.policies()), st.sampled_from([None, diff.ORG]))
def test_screen_agrees_on_generated_policies(doc: dict[str, Any], org: str | None) -> None:
    _agree(parse_key_policy(doc), diff.KEY, org)


@_PROFILE
@given(plain.policies())
def test_screen_agrees_on_the_plain_strategies(doc: dict[str, Any]) -> None:
    _agree(parse_key_policy(doc), plain.KEY_ACCOUNT)
