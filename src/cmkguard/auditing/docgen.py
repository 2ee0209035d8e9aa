"""Generate `docs/findings.md` from the finding catalogue (the page is never edited by hand).

Regenerate with `python -m cmkguard.auditing.docgen docs/findings.md`; a test fails when the
committed page differs from what the catalogue produces.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from cmkguard.auditing.catalogue import FINDING_CATALOGUE, RuleSpec
from cmkguard.severity import Severity

__all__ = ["main", "render_findings_markdown"]

_SCOPES = {
    "resource": "resource",
    "key": "key",
    "key+resources": "key, and every resource it protects",
    "inventory": "account/region",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_findings_markdown(catalogue: Mapping[str, RuleSpec] = FINDING_CATALOGUE) -> str:
    """The catalogue as a Markdown page: a summary table, then one section per rule."""
    rules = sorted(catalogue.values(), key=lambda r: (-r.severity.rank, r.id))
    lines = [
        "# Finding catalogue",
        "",
        "<!-- Generated from cmkguard.auditing.FINDING_CATALOGUE by "
        "`python -m cmkguard.auditing.docgen docs/findings.md`. Do not edit by hand. -->",
        "",
        "Every finding `cmkguard.audit()` can report, with its stable id (use it in suppressions, "
        "severity overrides and dashboards), its default severity, what it is attached to, why "
        "it matters and how to fix it. Ids never change meaning; new ones are added. Key-policy "
        "and grant findings come from the policy analyser and are attached to the key *and* to "
        "every resource the key protects (their blast radius, from severity `low` up by "
        "default).",
        "",
        f"{len(rules)} rules.",
        "",
        "| id | severity | attached to | title |",
        "|----|----------|-------------|-------|",
    ]
    for r in rules:
        lines.append(
            f"| [`{r.id}`](#{r.id}) | {r.severity.value} | {_SCOPES.get(r.scope, r.scope)} "
            f"| {_cell(r.title)} |"
        )
    for sev in sorted(Severity, reverse=True):
        group = [r for r in rules if r.severity is sev]
        if not group:
            continue
        lines += ["", f"## {sev.value.capitalize()}"]
        for r in group:
            source = "policy analyser" if r.source == "policy" else "audit"
            lines += [
                "",
                f"### {r.id}",
                "",
                f"**{r.title}** - severity `{r.severity.value}`, attached to the "
                f"{_SCOPES.get(r.scope, r.scope)} ({source}).",
                "",
                f"*Why it matters:* {r.rationale}",
                "",
                f"*Fix:* {r.remediation}",
            ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the page to the path given (stdout without one)."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = render_findings_markdown()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
