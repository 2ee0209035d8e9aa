"""The fuzz invariants of issue 9 as properties, on the differential families.

- an unconditional `Deny * kms:*` removes every grant, actions outside the analyser's action
  list included;
- the order of statements never changes an answer (NotPrincipal Denies included);
- account ids are compared with their partition: the key account's id in `aws-cn` is another
  account;
- a bare account id in a principal is that account's root in the key's partition.

`POLICY_INVARIANT_EXAMPLES` sets the number of examples (30 in the suite).
"""

from __future__ import annotations

import copy
import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import cmkguard
from tests.policy.differential_strategies import KEY, policies

_PROFILE = settings(
    max_examples=int(os.environ.get("POLICY_INVARIANT_EXAMPLES", "30")), deadline=None
)
_ACTIONS = ("kms:Decrypt", "kms:PutKeyPolicy", "kms:SomeFutureAction", "kms:CreateGrant")
_DENY_ALL = {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}


def _answers(policy: Any) -> tuple[Any, ...] | None:
    try:
        a = cmkguard.analyze_key_policy(policy, key_account=KEY)
    except cmkguard.PolicyParseError:
        return None
    return (
        a.exact,
        a.is_public,
        a.external_access,
        tuple(a.principals_allowed(x) for x in _ACTIONS),
    )


@_PROFILE
@given(policies())
def test_deny_everything_kms_removes_every_grant(policy: dict[str, Any]) -> None:
    policy = copy.deepcopy(policy)
    policy["Statement"].append(dict(_DENY_ALL))
    got = _answers(policy)
    if got is None:
        return
    _, public, external, allowed = got
    assert not public
    assert external == frozenset()
    assert all(p == frozenset() for p in allowed)


@_PROFILE
@given(policies(), st.randoms(use_true_random=False))
def test_statement_order_never_changes_an_answer(policy: dict[str, Any], rnd: Any) -> None:
    shuffled = copy.deepcopy(policy)
    rnd.shuffle(shuffled["Statement"])
    before, after = _answers(policy), _answers(shuffled)
    if before is None or after is None:
        assert before is None
        assert after is None
        return
    if before[0] and after[0]:  # both exact (an inexact one may over-report differently)
        assert before == after


@_PROFILE
@given(policies())
def test_the_key_account_id_in_another_partition_is_external(policy: dict[str, Any]) -> None:
    """Adding an unconditional grant to `arn:aws-cn:iam::<key account>:root` lists it as
    external access, never as the key's own account, unless a Deny removes it."""
    twin = f"arn:aws-cn:iam::{KEY}:root"
    policy = copy.deepcopy(policy)
    policy["Statement"] = [
        s for s in policy["Statement"] if s["Effect"] == "Allow"
    ]  # no Deny can remove the twin's grant
    policy["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": twin}, "Action": "kms:Decrypt", "Resource": "*"}
    )
    try:
        # Without `key_arn` the analyser takes the key's partition from the policy's ARNs of
        # the key account (docs/policy.md): say it, so `aws-cn` is the other partition.
        a = cmkguard.analyze_key_policy(
            policy, key_account=KEY, key_arn=f"arn:aws:kms:us-east-1:{KEY}:key/1"
        )
    except cmkguard.PolicyParseError:
        return
    assert twin in a.principals_allowed("kms:Decrypt")
    assert a.is_public or twin in a.external_access


def _with_bare_ids_as_roots(policy: dict[str, Any], partition: str) -> dict[str, Any]:
    """`policy` with every bare 12-digit account id in a principal written as that account's
    root ARN in `partition`."""

    def root(value: str) -> str:
        bare = len(value) == 12 and value.isdigit()
        return f"arn:{partition}:iam::{value}:root" if bare else value

    out = copy.deepcopy(policy)
    for statement in out["Statement"]:
        for field in ("Principal", "NotPrincipal"):
            who = statement.get(field)
            if isinstance(who, dict) and "AWS" in who:
                aws = who["AWS"]
                who["AWS"] = [root(v) for v in aws] if isinstance(aws, list) else root(aws)
    return out


@_PROFILE
@given(policies(), st.sampled_from(["aws", "aws-cn"]))
def test_a_bare_account_id_is_that_accounts_root_in_the_keys_partition(
    policy: dict[str, Any], partition: str
) -> None:
    """IAM expands a bare account id in the key's partition: writing it as the root ARN of that
    partition never changes an answer (the key's ARN given, so its partition is known)."""
    key_arn = f"arn:{partition}:kms:us-east-1:{KEY}:key/1"
    rooted = _with_bare_ids_as_roots(policy, partition)

    def answers(p: dict[str, Any]) -> tuple[Any, ...] | None:
        try:
            a = cmkguard.analyze_key_policy(p, key_account=KEY, key_arn=key_arn)
        except cmkguard.PolicyParseError:
            return None
        return (a.exact, a.is_public, a.external_access, *map(a.principals_allowed, _ACTIONS))

    before, after = answers(policy), answers(rooted)
    if before is None or after is None:
        assert before is None
        assert after is None
        return
    if before[0] and after[0]:
        assert before == after
