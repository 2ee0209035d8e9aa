"""The layers of docs/design.md: pure packages never import boto3 or botocore.

This walks the import statements of each pure module's source (ast, no execution), so it also
catches an import hidden inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cmkguard"
PURE = [
    "policy",
    "guardrails",
    "auditing",
    "migrate/plan.py",
    "migrate/model.py",
    "migrate/preflight.py",
    "migrate/_base.py",
    "migrate/_rds_paths.py",
    "migrate/_snapshot_paths.py",
    "migrate/_secret_paths.py",
    "migrate/_settings.py",
    "models.py",
    "arn.py",
    "types.py",
    "errors.py",
    "severity.py",
    "_html.py",
]
AWS_PACKAGES = {"boto3", "botocore", "moto", "mypy_boto3_kms", "mypy_boto3_rds"}


def _pure_files() -> list[Path]:
    files: list[Path] = []
    for entry in PURE:
        path = SRC / entry
        if path.is_dir():
            files.extend(sorted(path.rglob("*.py")))
        elif path.exists():
            files.append(path)
    return files


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_there_are_pure_files_to_check() -> None:
    assert len(_pure_files()) >= 20


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_module_does_not_import_aws_sdk(path: Path) -> None:
    assert not (_imported_roots(path) & AWS_PACKAGES)


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_module_does_not_import_the_aws_layer(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any(m.startswith(("cmkguard.aws", "cmkguard.testing")) for m in modules)
