"""docs/policy.md's finding table is the catalogue, and the page covers every finding id."""

from __future__ import annotations

from pathlib import Path

from cmkguard.policy.findings import _POLICY_FINDINGS as POLICY_FINDINGS
from cmkguard.policy.findings import catalogue_markdown

PAGE = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
_START = "<!-- catalogue: generated from cmkguard.policy.findings.catalogue_markdown()"


def test_catalogue_table_matches_policy_findings() -> None:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index("\n", text.index(_START)) + 1
    end = text.index("<!-- /catalogue -->")
    assert text[start:end] == catalogue_markdown(), "regenerate the table in docs/policy.md"


def test_every_finding_id_is_in_the_table() -> None:
    table = catalogue_markdown()
    for fid in POLICY_FINDINGS:
        assert f"| `{fid}` |" in table
