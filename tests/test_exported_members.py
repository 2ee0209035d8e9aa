"""The public API is true: `__all__` is exactly what each public package exposes (httpx style).

Public means: the facade `cmkguard` and the documented public subpackages (`PUBLIC`, listed in
docs/api.md). Each one's `__all__` is complete and sorted, every name resolves and has a
docstring, no exported name hides a submodule of the same name, every cmkguard type a public
signature mentions is itself public, and every import the docs make is of a public name.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import attrs
import pytest

import cmkguard

ROOT = Path(__file__).resolve().parents[1]

PUBLIC = (
    "cmkguard",
    "cmkguard.aws",
    "cmkguard.guardrails",
    "cmkguard.iac",
    "cmkguard.inventory",
    "cmkguard.org",
    "cmkguard.report",
    "cmkguard.resources",
    "cmkguard.testing",
)
"""The facade and the documented public subpackages (docs/api.md, docs/architecture.md)."""

PUBLIC_MODULES = {
    "cmkguard.types": "the id types (also exported by the facade)",
    "cmkguard.resources.base": "writing a resource type inside the package (resource-types.md)",
}
"""Modules the docs may import from besides `PUBLIC`, and why."""

INCLUDED_PRIVATE_MEMBERS = frozenset({"__version__"})

PENDING_SHADOWS: dict[tuple[str, str], str] = {}
"""Names that still hide a submodule, fixed by an issue in flight (strict: delete when fixed)."""

PENDING_UNEXPORTED: dict[str, str] = {}
"""Types public signatures mention that are not exported yet (strict: delete when fixed)."""

PENDING_DOC_IMPORTS = {}


def _fresh_members(package: str) -> list[str]:
    """The public attributes of `package` in a fresh interpreter that imported only it.

    Python binds each imported submodule of a package as an attribute of it: those are the
    package's own modules (public or not by their own name), not members it exports.
    """
    code = (
        "import importlib, json, types\n"
        f"module = importlib.import_module({package!r})\n"
        "print(json.dumps(sorted(n for n, v in vars(module).items() if not (\n"
        "    isinstance(v, types.ModuleType) and v.__name__ == f'{module.__name__}.{n}'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    names: list[str] = json.loads(out)
    return [n for n in names if not n.startswith("_") or n in INCLUDED_PRIVATE_MEMBERS]


@pytest.mark.parametrize("package", PUBLIC)
def test_all_is_sorted_and_unique(package: str) -> None:
    names = list(importlib.import_module(package).__all__)
    assert names == sorted(names)  # plain code-point order, the order ruff's RUF022 accepts
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("package", PUBLIC)
def test_all_is_exactly_what_the_package_exposes(package: str) -> None:
    """Every public attribute is exported and every export exists (subpackages included)."""
    exposed = _fresh_members(package)
    exported = sorted(importlib.import_module(package).__all__)
    assert exposed == exported, (
        f"in {package}: not in __all__: {sorted(set(exposed) - set(exported))}; "
        f"in __all__ but not exposed: {sorted(set(exported) - set(exposed))} "
        "(export a public name, or make it private with a leading underscore)"
    )


@pytest.mark.parametrize("package", PUBLIC)
def test_every_exported_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize("package", PUBLIC)
def test_every_public_name_has_a_docstring(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        if callable(value) and getattr(value, "__module__", "").startswith("cmkguard"):
            assert (value.__doc__ or "").strip(), f"{package}.{name} has no docstring"


def _packages() -> list[str]:
    found = ["cmkguard"]
    for info in pkgutil.walk_packages(cmkguard.__path__, "cmkguard."):
        if info.ispkg:
            found.append(info.name)
    return found


def _shadows() -> set[tuple[str, str]]:
    shadows = set()
    for package in _packages():
        module = importlib.import_module(package)
        submodules = {m.name for m in pkgutil.iter_modules(module.__path__)}
        for name in getattr(module, "__all__", ()):
            if name in submodules and not isinstance(getattr(module, name), types.ModuleType):
                shadows.add((package, name))
    return shadows


def test_no_exported_name_hides_a_submodule() -> None:
    """`import cmkguard.x.y as m` must give the module, never a function of the same name."""
    assert sorted(_shadows() - set(PENDING_SHADOWS)) == []


def test_pending_shadows_are_still_there() -> None:
    assert sorted(set(PENDING_SHADOWS) - _shadows()) == [], "fixed: delete from PENDING_SHADOWS"


def _public_objects() -> dict[int, str]:
    objects: dict[int, str] = {}
    for package in PUBLIC:
        module = importlib.import_module(package)
        for name in module.__all__:
            objects[id(getattr(module, name))] = f"{package}.{name}"
    return objects


def _cmkguard_types(hint: Any) -> set[type]:
    """The cmkguard classes `hint` mentions (through unions, generics, aliases)."""
    found: set[type] = set()
    if isinstance(hint, type) and hint.__module__.startswith("cmkguard"):
        found.add(hint)
    for arg in typing.get_args(hint):
        found |= _cmkguard_types(arg)
    return found


def _public_hints(target: Any) -> list[Any]:
    try:
        hints = typing.get_type_hints(target)
    except (NameError, TypeError):
        return []  # a name only importable under TYPE_CHECKING: not resolvable here
    return [hint for name, hint in hints.items() if not name.startswith("_")]


def _hints(obj: Any) -> list[Any]:
    targets: list[Any] = []
    if isinstance(obj, type):
        if attrs.has(obj):
            targets.append(obj)
        targets.extend(
            v.fget if isinstance(v, property) else v
            for n, v in vars(obj).items()
            if not n.startswith("_") and (callable(v) or isinstance(v, property))
        )
    elif callable(obj):
        targets.append(obj)
    return [hint for target in targets for hint in _public_hints(target)]


def _unexported_types() -> dict[str, str]:
    public = _public_objects()
    missing: dict[str, str] = {}
    for where in public.values():
        package, _, name = where.rpartition(".")
        for hint in _hints(getattr(importlib.import_module(package), name)):
            for cls in _cmkguard_types(hint):
                if id(cls) not in public:
                    missing[f"{cls.__module__}.{cls.__qualname__}"] = where
    return missing


def test_every_type_a_public_signature_mentions_is_public() -> None:
    missing = _unexported_types()
    assert {k: v for k, v in missing.items() if k not in PENDING_UNEXPORTED} == {}


def test_pending_unexported_types_are_still_unexported() -> None:
    missing = _unexported_types()
    assert sorted(set(PENDING_UNEXPORTED) - set(missing)) == [], "fixed: delete the entry"


_FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _doc_imports() -> list[tuple[str, str, str]]:
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for block in _FENCE.findall(page.read_text(encoding="utf-8")):
            for node in ast.walk(ast.parse(block)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cmkguard"):
                    found.extend((page.name, node.module or "", a.name) for a in node.names)
                elif isinstance(node, ast.Import):
                    found.extend(
                        (page.name, a.name, "") for a in node.names if a.name.startswith("cmkguard")
                    )
    return found


def test_the_docs_import_only_public_names() -> None:
    imports = _doc_imports()
    assert len(imports) >= 10
    wrong = []
    for page, module, name in imports:
        if module in PENDING_DOC_IMPORTS:
            continue
        if module not in PUBLIC and module not in PUBLIC_MODULES:
            wrong.append(f"{page}: {module} is not a public module")
        elif name and name not in importlib.import_module(module).__all__:
            wrong.append(f"{page}: {module}.{name} is not in {module}.__all__")
    assert wrong == []


def test_pending_doc_imports_are_still_made() -> None:
    modules = {module for _, module, _ in _doc_imports()}
    assert sorted(set(PENDING_DOC_IMPORTS) - modules) == [], "fixed: delete the entry"


def test_the_api_reference_documents_every_facade_name_once() -> None:
    # docs/api.md groups the facade's names by capability, one `::: cmkguard.NAME` block each, so
    # a name added to `__all__` without a place on the page (or listed twice) fails here.
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    documented = re.findall(r"^::: cmkguard\.(\w+)$", page, flags=re.MULTILINE)
    facade = [name for name in documented if name not in PUBLIC_SUBPACKAGE_NAMES]
    assert sorted(facade) == sorted(set(cmkguard.__all__) - {"__version__"})
    assert len(facade) == len(set(facade)), "a name is documented twice"


PUBLIC_SUBPACKAGE_NAMES = frozenset(p.removeprefix("cmkguard.") for p in PUBLIC if p != "cmkguard")
