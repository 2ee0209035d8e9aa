"""Identical policies share one analysis; time-bound ones only until their next time constant."""

from __future__ import annotations

import json
from typing import Any

import pytest

import cmkguard
from cmkguard.policy import analysis as analysis_module

K = "111122223333"
ROOT = {
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{K}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def _window(end: str) -> dict[str, Any]:
    public = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"DateLessThan": {"aws:CurrentTime": end}},
    }
    return {"Version": "2012-10-17", "Statement": [ROOT, public]}


def test_identical_policies_share_one_analysis() -> None:
    doc = {"Version": "2012-10-17", "Statement": [ROOT]}
    first = cmkguard.analyze_key_policy(doc, key_account=K)
    again = cmkguard.analyze_key_policy(json.loads(json.dumps(doc)), key_account=K)
    assert again is first
    assert cmkguard.analyze_key_policy(json.dumps(doc), key_account=K) == first
    other_account = cmkguard.analyze_key_policy(doc, key_account="444455556666")
    assert other_account is not first
    with_org = cmkguard.analyze_key_policy(doc, key_account=K, org_id="o-a1b2c3d4e5")
    assert with_org is not first
    # A policy mutated after its analysis is a new policy: the memo is keyed by content.
    doc["Statement"][0] = {**ROOT, "Principal": "*"}
    assert cmkguard.analyze_key_policy(doc, key_account=K).is_public


def test_a_time_window_is_seen_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    # 2030-01-01T00:00:00Z = 1893456000
    doc = _window("2030-01-01T00:00:00Z")
    monkeypatch.setattr(analysis_module.time, "time", lambda: 1893455000.0)
    before = cmkguard.analyze_key_policy(doc, key_account=K)
    assert cmkguard.analyze_key_policy(doc, key_account=K) is before  # shared inside the window
    monkeypatch.setattr(analysis_module.time, "time", lambda: 1893457000.0)
    after = cmkguard.analyze_key_policy(doc, key_account=K)
    assert after is not before  # the constant has passed: analysed again


def test_valid_until_is_the_next_time_constant() -> None:
    policy = cmkguard.parse_key_policy(_window("2030-01-01T00:00:00Z"))
    assert analysis_module._valid_until(policy, 1893455000.0) == 1893456000.0
    assert analysis_module._valid_until(policy, 1893457000.0) == float("inf")  # all passed
    odd = cmkguard.parse_key_policy(_window("${aws:CurrentTime}"))
    assert analysis_module._valid_until(odd, 100.0) == 100.0  # never remembered
    plain = cmkguard.parse_key_policy({"Statement": [ROOT]})
    assert analysis_module._valid_until(plain, 100.0) == float("inf")


def test_the_window_that_ended_is_not_public_and_a_future_one_is() -> None:
    assert not cmkguard.analyze_key_policy(_window("2020-01-01T00:00:00Z"), key_account=K).is_public
    assert cmkguard.analyze_key_policy(_window("2099-01-01T00:00:00Z"), key_account=K).is_public
