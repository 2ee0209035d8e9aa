"""The reference evaluator itself, checked against the corpus's hand-labelled answers.

A few cases of the Revision-2 families run in the suite; `POLICY_REFERENCE_CORPUS=1` runs every
corpus case the reference models (IP ranges, wildcard principal ARNs and federated providers
are outside it and are skipped).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.policy.policy_corpus import OWN_CORPUS, PUBLIC_CORPUS, load_cases
from tests.policy.reference import Unsupported, reference_answers

_SAMPLE = {
    "action_star_is_kms_star",
    "cond_negated_operator_is_public",
    "cond_principalarn_wildcard_account_is_public",
    "deny_conditional_viaservice_does_not_remove",
    "rev2_partial_field_arn_pattern_still_matches",
}
_ALL = os.environ.get("POLICY_REFERENCE_CORPUS") == "1"
_OUTSIDE = {"principal_federated_provider_arn_own_account", "principal_own_account_role_wildcard"}


def _cases() -> list[Any]:
    out = []
    for param in [*load_cases(OWN_CORPUS), *load_cases(PUBLIC_CORPUS)]:
        if param.id is None or not (_ALL or param.id in _SAMPLE) or param.id in _OUTSIDE:
            continue
        case = param.values[0]
        expected = case["expected"]
        if expected.get("malformed") or "policy" not in case:
            continue
        if case.get("key_arn") or case.get("trusted_accounts"):
            continue
        out.append(param)
    return out


@pytest.mark.parametrize("case", _cases())
def test_reference_gives_the_contract_answers(case: dict[str, Any]) -> None:
    expected = case["expected"]
    try:
        got = reference_answers(
            case["policy"], key_account=case["key_account"], org_id=case.get("org_id")
        )
    except Unsupported as why:
        pytest.skip(f"outside the reference's model: {why}")
    if expected.get("public") is not None:
        assert got.public is expected["public"]
    if expected.get("grants_decrypt_to") is not None:
        assert sorted(got.principals["kms:Decrypt"]) == expected["grants_decrypt_to"]
