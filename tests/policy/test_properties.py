"""Properties every key policy obeys (Hypothesis; the suite's bounded profile applies)."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import cmkguard
from cmkguard.policy import KMS_ACTIONS
from tests.policy.strategies import (
    KEY_ACCOUNT,
    json_values,
    mutated_policies,
    policies,
    policy_texts,
    statements,
)

_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:PutKeyPolicy", "kms:CreateGrant", "kms:DescribeKey")
# 80 examples keep this module within the area's test-time budget on the shared 2-core box
# (200 took 150-180 s there under load ~20); POLICY_EXAMPLES=3000 for a deeper local run (it
# passed at 3000 when written).
_PROFILE = settings(max_examples=int(os.environ.get("POLICY_EXAMPLES", "80")), deadline=None)


def _answers(policy: Any) -> dict[str, Any]:
    """The semantic answers of an analysis (not the wording)."""
    a = cmkguard.analyze_key_policy(policy, key_account=KEY_ACCOUNT)
    return {
        "public": a.is_public,
        "external": a.external_access,
        "allowed": {act: a.principals_allowed(act) for act in _ACTIONS},
        "findings": sorted(
            (f.id, f.severity.value, f.statement_index or -1, f.principal or "") for f in a.findings
        ),
        "verdicts": [s.verdict for s in a.statements],
    }


def _parse_or_error(value: Any) -> None:
    try:
        policy = cmkguard.parse_key_policy(value)
    except cmkguard.PolicyParseError as exc:
        message = str(exc)  # a message, with its location when there is one
    else:
        cmkguard.analyze_key_policy(policy, key_account=KEY_ACCOUNT)
        message = "parsed"
    assert message


@_PROFILE
@given(st.one_of(json_values, mutated_policies()))
def test_any_json_value_parses_or_raises_policy_parse_error(value: Any) -> None:
    _parse_or_error(value)


@_PROFILE
@given(policy_texts())
def test_any_text_parses_or_raises_policy_parse_error(text: str) -> None:
    _parse_or_error(text)


def _toggle_lists(value: Any) -> Any:
    """Swap every one-item list for its scalar and every scalar (not '*') for a one-item list."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in ("Statement", "Version", "Effect", "Sid", "Id"):
                out[k] = [_toggle_lists(s) for s in v] if isinstance(v, list) else _toggle_lists(v)
            elif k in ("Condition", "Principal", "NotPrincipal") or isinstance(v, dict):
                out[k] = _toggle_lists(v) if isinstance(v, dict) else v
            elif isinstance(v, list) and len(v) == 1:
                out[k] = v[0]
            elif isinstance(v, str | bool | int):
                out[k] = [v]
            else:
                out[k] = v
        return out
    return value


@_PROFILE
@given(policies())
def test_scalar_and_one_item_list_forms_analyse_identically(doc: dict[str, Any]) -> None:
    toggled = _toggle_lists(copy.deepcopy(doc))
    assert cmkguard.parse_key_policy(toggled) == cmkguard.parse_key_policy(doc)
    assert _answers(toggled) == _answers(doc)


def _account_root(principal: str) -> str | None:
    parts = principal.split(":")
    return f"arn:aws:iam::{parts[4]}:root" if len(parts) >= 6 and parts[4] else None


def _within(after: frozenset[str], before: frozenset[str]) -> bool:
    # "*" already stands for everyone, and an account root for every principal of the account:
    # a NotPrincipal Deny narrowing them to the exempt principals is not a widening.
    if "*" in before:
        return True
    return all(p in before or _account_root(p) in before for p in after)


@_PROFILE
@given(policies(), statements(effect="Deny"), st.sampled_from(KMS_ACTIONS))
def test_adding_a_deny_never_widens_access(
    doc: dict[str, Any], deny: dict[str, Any], action: str
) -> None:
    before = cmkguard.analyze_key_policy(doc, key_account=KEY_ACCOUNT)
    stmts = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    after = cmkguard.analyze_key_policy(
        dict(doc, Statement=[*stmts, deny]), key_account=KEY_ACCOUNT
    )
    for act in (*_ACTIONS, action):
        assert _within(after.principals_allowed(act), before.principals_allowed(act)), act
    assert _within(after.external_access, before.external_access)
    assert not (after.is_public and not before.is_public)


def _recase(value: Any, flips: list[bool]) -> Any:
    """Change the case of every condition operator and key (deterministically from ``flips``)."""
    counter = iter(flips * 50)

    def flip(text: str) -> str:
        return text.upper() if next(counter, False) else text.lower()

    def walk_statement(s: dict[str, Any]) -> dict[str, Any]:
        if "Condition" not in s:
            return s
        cond = {
            flip(op): {flip(k): v for k, v in keys.items()} for op, keys in s["Condition"].items()
        }
        return dict(s, Condition=cond)

    stmts = value["Statement"]
    if isinstance(stmts, list):
        return dict(value, Statement=[walk_statement(s) for s in stmts])
    return dict(value, Statement=walk_statement(stmts))


@_PROFILE
@given(policies(), st.lists(st.booleans(), min_size=1, max_size=8))
def test_condition_key_case_does_not_change_results(doc: dict[str, Any], flips: list[bool]) -> None:
    assert _answers(_recase(doc, flips)) == _answers(doc)


@_PROFILE
@given(policies())
def test_parse_render_parse_is_identity(doc: dict[str, Any]) -> None:
    policy = cmkguard.parse_key_policy(doc)
    rendered = policy.render()
    assert cmkguard.parse_key_policy(rendered) == policy
    assert cmkguard.parse_key_policy(json.dumps(rendered)) == policy
    assert cmkguard.parse_key_policy(policy.to_json()) == policy


@_PROFILE
@given(st.lists(json_values | st.fixed_dictionaries({"GrantId": json_values}), max_size=3))
def test_any_grant_list_analyses_or_raises_policy_parse_error(grants: list[Any]) -> None:
    try:
        analysed = len(cmkguard.analyze_grants(grants, key_account=KEY_ACCOUNT).grants)
        located = True
    except cmkguard.PolicyParseError as exc:
        analysed = len(grants)
        located = str(exc).startswith("Grants[")
    assert located
    assert analysed == len(grants)


def _analysis_or_error(value: Any) -> tuple[str, Any]:
    try:
        a = cmkguard.analyze_key_policy(value, key_account=KEY_ACCOUNT)
    except cmkguard.PolicyParseError as exc:
        return "error", str(exc)
    return "parsed", (a.is_public, a.external_access, a.policy)


@_PROFILE
@given(st.one_of(policies(), mutated_policies(), json_values))
def test_analysis_validates_exactly_as_parse_key_policy(value: Any) -> None:
    # analyze_key_policy validates on a fast path and builds the typed policy lazily: it must
    # refuse exactly what parse_key_policy refuses, with the same located message, and its
    # policy and verdicts must be those of the parsed KeyPolicy.
    try:
        policy = cmkguard.parse_key_policy(value)
    except cmkguard.PolicyParseError as exc:
        expected: tuple[str, Any] = ("error", str(exc))
    else:
        via_policy = cmkguard.analyze_key_policy(policy, key_account=KEY_ACCOUNT)
        expected = ("parsed", (via_policy.is_public, via_policy.external_access, policy))
    assert _analysis_or_error(value) == expected
