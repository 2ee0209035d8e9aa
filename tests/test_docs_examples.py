"""Every Python example in README.md and docs/ runs, against the emulated AWS account.

Examples are written for a real account (``boto3.Session()``); here ``AWS_ENDPOINT_URL`` points
every client at the seeded emulator on 127.0.0.1, so the same text runs unchanged and nothing
can reach AWS. The blocks of one page run in order in one namespace, as a reader would run them.
A block preceded by the line ``<!-- example: not-run -->`` is skipped (say why next to it).

A page whose examples start their own emulator (``EmulatedAWS(``/``seed_estate(``) gets a reset,
empty one instead: moto's state is process-wide, so two seeded estates would collide.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cmkguard.testing.pytest_plugin import EstateFixture

ROOT = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SKIP_MARK = "<!-- example: not-run -->"


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _examples(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip().splitlines()
        if before and before[-1].strip() == _SKIP_MARK:
            continue
        blocks.append(match.group(1))
    return blocks


_PAGES_WITH_EXAMPLES = [p for p in _pages() if _examples(p)]


def test_the_docs_have_examples() -> None:
    assert len(_PAGES_WITH_EXAMPLES) >= 2


@pytest.mark.parametrize("page", _PAGES_WITH_EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(
    page: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    examples = _examples(page)
    if any("EmulatedAWS(" in source or "seed_estate(" in source for source in examples):
        request.getfixturevalue("cmkguard_emulated_aws")  # reset and empty: the page seeds itself
    else:
        estate: EstateFixture = request.getfixturevalue("cmkguard_seeded_estate")
        monkeypatch.setenv("AWS_ENDPOINT_URL", estate.aws.endpoint_url)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs_example__"}
    for number, source in enumerate(examples, start=1):
        code = compile(source, f"{page.name}[example {number}]", "exec")
        exec(code, namespace)
