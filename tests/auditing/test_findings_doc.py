"""docs/findings.md is generated from the catalogue and must be up to date."""

from __future__ import annotations

import re
from pathlib import Path

from cmkguard.auditing import FINDING_CATALOGUE
from cmkguard.auditing.docgen import main, render_findings_markdown

PAGE = Path(__file__).parents[2] / "docs" / "findings.md"


def test_findings_page_is_up_to_date() -> None:
    assert PAGE.read_text(encoding="utf-8") == render_findings_markdown(), (
        "docs/findings.md is stale: run `python -m cmkguard.auditing.docgen docs/findings.md`"
    )


def test_every_rule_has_a_section_and_ids_are_slugs() -> None:
    text = render_findings_markdown()
    for rule_id, spec in FINDING_CATALOGUE.items():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule_id)
        assert f"\n### {rule_id}\n" in text
        assert spec.rationale in text
        assert spec.remediation.replace("|", "\\|") in text or spec.remediation in text


def test_main_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "findings.md"
    assert main([str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_findings_markdown()
