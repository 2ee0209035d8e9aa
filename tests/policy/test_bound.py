"""The analysis-wide work bound: an adversarial policy ends inexact, and an inexact analysis
only ever over-reports access (docs/policy.md, "The bound")."""

from __future__ import annotations

from typing import Any

import pytest

import cmkguard
from cmkguard.policy import _exact
from cmkguard.policy.analysis import clear_memos

KEY_ACCOUNT = "111122223333"
_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:CreateGrant", "kms:DescribeKey")


def _wildcard_heavy(n: int) -> dict[str, Any]:
    """Allows to "*" pinned by ARN patterns and kms:CallerAccount, a conditional Deny (org,
    ArnLike, userid) every third statement (the family of benchmarks/policy.py)."""
    denies = (
        lambda i: {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": f"o-abcdefgh{i:04d}"}},
        lambda i: {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/*adm*{i}*"}},
        lambda i: {"StringNotLike": {"aws:userid": [f"AROA*{i}*:*", "AIDA*"]}},
    )
    statements: list[dict[str, Any]] = []
    for i in range(n):
        if i % 3 == 2:
            statements.append(
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": [f"kms:*{'crypt' if i % 2 else 'Key'}*", "kms:Re*"],
                    "Resource": "*",
                    "Condition": denies[i % 3](i),
                }
            )
            continue
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{(i * 7919) % 10**12:012d}:role/*ops*", "*"]},
                "Action": ["kms:*crypt*", "kms:Generate*", "kms:*Grant*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {
                    "StringLike": {
                        "aws:PrincipalArn": [
                            f"arn:aws:iam::*:role/*team{i}*",
                            f"arn:aws:iam::{KEY_ACCOUNT}:*",
                        ]
                    },
                    "StringEquals": {"kms:CallerAccount": [KEY_ACCOUNT, f"{i * 31:012d}"]},
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _answers(doc: dict[str, Any]) -> tuple[cmkguard.PolicyAnalysis, dict[str, frozenset[str]]]:
    clear_memos()
    a = cmkguard.analyze_key_policy(doc, key_account=KEY_ACCOUNT)
    return a, {act: a.principals_allowed(act) for act in _ACTIONS}


def test_a_plain_policy_is_exact() -> None:
    a = cmkguard.analyze_key_policy(_wildcard_heavy(2), key_account=KEY_ACCOUNT)
    assert a.exact
    assert a.to_dict()["exact"] is True


def test_an_inexact_analysis_never_under_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _wildcard_heavy(8)
    monkeypatch.setattr(_exact, "ANALYSIS_BUDGET", 2_000)
    bounded, bounded_allowed = _answers(doc)
    monkeypatch.setattr(_exact, "ANALYSIS_BUDGET", 10**9)
    full, full_allowed = _answers(doc)
    assert not bounded.exact
    assert bounded.to_dict()["exact"] is False
    assert full.exact
    assert bounded.is_public >= full.is_public
    assert bounded.external_access >= full.external_access
    for act in _ACTIONS:
        assert bounded_allowed[act] >= full_allowed[act], act


_SAME_EVERYWHERE = """
import hashlib, json, sys
import cmkguard
from cmkguard.policy import _exact
from tests.policy.test_bound import KEY_ACCOUNT, _wildcard_heavy
_exact.ANALYSIS_BUDGET = int(sys.argv[1])
a = cmkguard.analyze_key_policy(_wildcard_heavy(8), key_account=KEY_ACCOUNT)
out = a.to_dict()
out["witnesses"] = [repr(w) for w in a.witnesses]
print(a.exact, hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest())
"""


@pytest.mark.parametrize("budget", [3_000, 40_000])
def test_where_the_bound_is_reached_does_not_depend_on_hash_order(budget: int) -> None:
    # String hashing differs between processes (PYTHONHASHSEED): an analysis cut short must
    # still give the same answers, witnesses and `exact` in every process.
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    answers = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _SAME_EVERYWHERE, str(budget)],
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
            env=env,
        )
        answers.add(done.stdout.strip())
    assert len(answers) == 1, answers
    assert next(iter(answers)).startswith("False ")
