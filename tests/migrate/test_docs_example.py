"""The runnable example of docs/migration.md runs, and ends with the instance on the CMK."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "migration.md"


def test_migration_guide_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    block = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block is not None
    exec(compile(block.group(1), str(DOC), "exec"), {"__name__": "docs_example"})
    out = capsys.readouterr().out
    assert "execution completed" in out
    assert out.rstrip().endswith("orders customer-managed True")
