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
    "audit",
    "migrate/plan.py",
    "migrate/model.py",
    "migrate/preflight.py",
    "migrate/_base.py",
    "migrate/_rds_paths.py",
    "migrate/_snapshot_paths.py",
    "migrate/_secret_paths.py",
    "migrate/_settings.py",
    "migrate/_rds_recipe.py",
    "migrate/_convert.py",
    "inventory/values.py",
    "inventory/resolve.py",
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


DEPRECATED_ALIASES = {
    "cmkguard.models": "cmkguard.inventory.values",
    "cmkguard.aws.spec": "cmkguard.aws.access",
    "cmkguard.aws.kms": "cmkguard.inventory.aws_kms",
    "cmkguard.aws.resolver": "cmkguard.inventory.resolve",
    "cmkguard.aws.units": "cmkguard.inventory.units",
    "cmkguard.aws.migration_ops": "cmkguard.migrate.aws_ops",
    "cmkguard.aws.rds_settings": "cmkguard.migrate.aws_settings",
}


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_deprecated_aliases_are_imported_by_nobody_inside_the_package() -> None:
    alias_files = {SRC.parent / (name.replace(".", "/") + ".py") for name in DEPRECATED_ALIASES}
    users = {
        str(path.relative_to(SRC)): sorted(_imported_modules(path) & set(DEPRECATED_ALIASES))
        for path in SRC.rglob("*.py")
        if path not in alias_files
    }
    assert {p: m for p, m in users.items() if m} == {}


@pytest.mark.parametrize(("old", "new"), sorted(DEPRECATED_ALIASES.items()))
def test_deprecated_alias_warns_and_still_gives_the_same_objects(old: str, new: str) -> None:
    import importlib
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    target = importlib.import_module(new)
    assert module.__all__
    for name in module.__all__:
        source = (
            target
            if hasattr(target, name)
            else importlib.import_module("cmkguard.inventory.aws_units")
        )
        assert getattr(module, name) is getattr(source, name), name
