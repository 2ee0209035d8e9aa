"""The runnable example of docs/testing.md runs and its bot agrees with the ground truth."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cmkguard.testing import EmulatedAWS

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def test_docs_example_runs(
    # moto's state is process-wide: start the example from empty
    cmkguard_emulated_aws: EmulatedAWS,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    example = next(b for b in blocks if "with EmulatedAWS() as aws:" in b)
    exec(compile(example, str(DOC), "exec"), {"__name__": "docs_example"})
    assert "the bot is right" in capsys.readouterr().out
