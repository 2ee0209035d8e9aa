"""The runnable example of docs/migration.md runs, and ends with the instance on the CMK."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "migration.md"


def test_migration_guide_example_runs(
    cmkguard_emulated_aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # `cmkguard_emulated_aws` only to start from an empty account: every emulator in a process
    # shares moto's in-memory backends, so the example's own EmulatedAWS sees what other tests left.
    block = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block is not None
    exec(compile(block.group(1), str(DOC), "exec"), {"__name__": "docs_example"})
    out = capsys.readouterr().out
    assert "execution completed" in out
    assert out.rstrip().endswith("orders customer-managed True")
