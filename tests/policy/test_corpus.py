"""Every case of the shared public corpus and of our own corpus gives its expected answers."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.policy.policy_corpus import OWN_CORPUS, PUBLIC_CORPUS, check_case, load_cases


@pytest.mark.parametrize("case", load_cases(PUBLIC_CORPUS))
def test_public_corpus_case(case: dict[str, Any]) -> None:
    check_case(case)


@pytest.mark.parametrize("case", load_cases(OWN_CORPUS))
def test_own_corpus_case(case: dict[str, Any]) -> None:
    check_case(case)


def test_public_corpus_is_complete() -> None:
    if not PUBLIC_CORPUS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"corpus directory {PUBLIC_CORPUS} not found on CI")
        pytest.skip(f"corpus directory {PUBLIC_CORPUS} not found")
    assert len(list(PUBLIC_CORPUS.glob("*.json"))) >= 32


def test_own_corpus_has_cases_with_provenance() -> None:
    cases = [c.values[0] for c in load_cases(OWN_CORPUS)]
    assert len(cases) >= 40
    for case in cases:
        assert case["source"], case
        assert case["expected"], case
