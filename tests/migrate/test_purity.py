"""Every module plan_migration is built from is pure (tests/test_layering.py checks plan.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MIGRATE = Path(__file__).resolve().parents[2] / "src" / "cmkguard" / "migrate"
PURE = ["plan.py", "model.py", "preflight.py", "_settings.py", "_base.py"]
PURE += [p.name for p in sorted(MIGRATE.glob("_*_paths.py"))]


@pytest.mark.parametrize("name", PURE)
def test_planner_module_imports_no_aws_and_no_io(name: str) -> None:
    tree = ast.parse((MIGRATE / name).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    roots = {m.split(".")[0] for m in imported}
    assert not roots & {"boto3", "botocore", "os", "pathlib", "socket", "urllib", "subprocess"}
    assert not any(
        m.startswith(("cmkguard.aws", "cmkguard.testing", "cmkguard.migrate.executor"))
        for m in imported
    )
    calls = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert "open" not in calls
    assert "print" not in calls


def test_there_are_path_modules() -> None:
    assert len(PURE) >= 8
