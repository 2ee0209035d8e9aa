"""Load corpus cases (the shared public corpus and ours) and check one against the analyser.

Case format (the public corpus README's, extended): ``key_account``, optional ``org_id``,
``trusted_accounts`` and ``key_arn``; ``policy`` (a JSON value) or ``policy_text`` (raw text);
``expected`` with any of ``public``, ``cross_account_principals``, ``grants_decrypt_to``,
``wildcard_kms_actions_to_non_admin``, ``malformed`` (the public labels; ``null`` = not checked)
and our extensions ``error`` (a substring of the PolicyParseError message), ``findings`` (ids that
must be present), ``no_findings`` (ids that must be absent), ``principals_allowed``
(``{action: sorted principals}``) and ``verdicts`` (one per statement, in order).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import cmkguard

# The shared corpus sits beside the repository (../shared), as on CI; CMKGUARD_POLICY_CORPUS
# points elsewhere. On CI a missing corpus fails test_public_corpus_is_complete, never skips.
PUBLIC_CORPUS = Path(
    os.environ.get("CMKGUARD_POLICY_CORPUS")
    or Path(__file__).resolve().parents[2].parent / "shared" / "policy-corpus-public"
)
OWN_CORPUS = Path(__file__).resolve().parent / "corpus"


def load_cases(directory: Path) -> list[Any]:
    """One ``pytest.param`` per JSON case (id = file stem); a skip marker if the dir is missing."""
    if not directory.is_dir():
        return [
            pytest.param(
                None, marks=pytest.mark.skip(reason=f"corpus directory {directory} not found")
            )
        ]
    return [
        pytest.param(json.loads(path.read_text(encoding="utf-8")), id=path.stem)
        for path in sorted(directory.glob("*.json"))
    ]


def case_policy(case: dict[str, Any]) -> Any:
    """The policy input of a case: raw text when given, else the JSON value."""
    return case["policy_text"] if "policy_text" in case else case["policy"]


def analyse(case: dict[str, Any]) -> cmkguard.PolicyAnalysis:
    """Run the analyser with the case's inputs."""
    return cmkguard.analyze_key_policy(
        case_policy(case),
        key_account=case["key_account"],
        org_id=case.get("org_id"),
        trusted_accounts=case.get("trusted_accounts", ()),
        key_arn=case.get("key_arn"),
    )


def check_case(case: dict[str, Any]) -> None:
    """Assert every expected answer the case states."""
    expected = case["expected"]
    if expected.get("malformed"):
        with pytest.raises(cmkguard.PolicyParseError) as info:
            analyse(case)
        assert isinstance(info.value, ValueError)
        if "error" in expected:
            assert expected["error"] in str(info.value)
        return
    analysis = analyse(case)
    if expected.get("public") is not None:
        assert analysis.is_public is expected["public"]
    if expected.get("cross_account_principals") is not None:
        assert sorted(analysis.external_access) == expected["cross_account_principals"]
    if expected.get("grants_decrypt_to") is not None:
        assert sorted(analysis.principals_allowed("kms:Decrypt")) == expected["grants_decrypt_to"]
    if expected.get("wildcard_kms_actions_to_non_admin") is not None:
        flagged = "wildcard-actions" in analysis.finding_ids
        assert flagged is expected["wildcard_kms_actions_to_non_admin"]
    for action, principals in expected.get("principals_allowed", {}).items():
        assert sorted(analysis.principals_allowed(action)) == principals, action
    missing = set(expected.get("findings", ())) - analysis.finding_ids
    assert not missing, f"missing findings {missing}; got {sorted(analysis.finding_ids)}"
    unwanted = set(expected.get("no_findings", ())) & analysis.finding_ids
    assert not unwanted, f"unexpected findings {unwanted}"
    if "verdicts" in expected:
        assert [s.verdict for s in analysis.statements] == expected["verdicts"]
