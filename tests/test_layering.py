"""The house rules of docs/architecture.md: imports point one way, and only AWS edges touch AWS.

Every module of `src/cmkguard` gets a layer by the rule written in docs/architecture.md
("Layers"): its package's rank in `PACKAGE_ORDER`, then its tier inside the package (values <
core < AWS edge < orchestration < the package's `__init__`), the tier read from the module's
name (`aws_*.py` / `_aws.py` are edges, `values.py` / `model.py` / `finding.py` are values,
`__init__.py` is the front) or from `TIERS` for the few orchestration modules. An import - at
the top, inside a function (lazy) or under `TYPE_CHECKING` - may only go to the same or a lower
layer, the module graph has no cycle, and the facade (`cmkguard/__init__.py`) is imported by
nobody. The one exception is the
presentation seam: a value's `_repr_html_`, `to_dataframe`, `keys_dataframe` or `coverage_chart`
may import `cmkguard.report` lazily.

Everything is read from the source (ast, no execution), so an import hidden inside a function
counts as much as one at the top.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import attrs
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cmkguard"

LEAVES = "<leaves>"
"""The top-level leaf modules (errors, types, arn, severity, _html): rank 0."""
LEAF_MODULES = frozenset(
    {"errors", "types", "arn", "severity", "_html", "_version", "_convert", "_json"}
)

PACKAGE_ORDER: tuple[tuple[str, ...], ...] = (
    (LEAVES,),
    ("aws",),
    ("resources",),
    ("policy",),
    ("inventory",),
    ("org",),
    ("auditing",),
    ("guardrails",),
    ("migrate",),
    ("iac",),
    ("report",),
    ("testing",),
    ("cli",),
    ("__main__",),
    ("<facade>",),
)
"""Package ranks, lowest first: a module may import from its own rank or a lower one."""

COMING: frozenset[str] = frozenset()
"""Packages an open issue is adding: ranked already, a skipped test until they exist (none today:
org, guardrails and iac have landed)."""

PURE_PACKAGES = frozenset({"policy", "guardrails", "iac"})
"""Pure cores: no boto3/botocore even for type annotations, no import of cmkguard.aws."""

VALUES, CORE, EDGE, ORCHESTRATION, FRONT = range(5)
TIER_NAMES = ("values", "core", "AWS edge", "orchestration", "package front")

VALUE_MODULE_NAMES = frozenset({"values", "model", "finding"})
"""A module of one of these names holds a package's frozen values (`inventory/values.py`...)."""

TIERS = {
    "cmkguard.inventory.scanner": ORCHESTRATION,
    "cmkguard.org.scanner": ORCHESTRATION,
    "cmkguard.migrate.executor": ORCHESTRATION,
}
"""Tiers that the module name does not tell (every other module is `core`)."""

SEAM_FUNCTIONS = frozenset({"_repr_html_", "to_dataframe", "keys_dataframe", "coverage_chart"})
"""The notebook presentation seam: a value's Jupyter HTML, its pandas frames and its chart."""
SEAM_TARGET = "cmkguard.report"

PENDING: dict[tuple[str, str], str] = {}
"""Known upward imports being removed by another issue in flight (each must still exist: when
one is fixed, delete its line here so it cannot come back)."""

DEPRECATED_ALIASES = {  # old path -> new home; outside the layers, checked at the end
    "cmkguard.models": "cmkguard.inventory.values",
    "cmkguard.aws.spec": "cmkguard.aws.access",
    "cmkguard.aws.kms": "cmkguard.inventory.aws_kms",
    "cmkguard.aws.resolver": "cmkguard.inventory.resolve",
    "cmkguard.aws.units": "cmkguard.inventory.units",
    "cmkguard.aws.migration_ops": "cmkguard.migrate.aws_ops",
    "cmkguard.aws.rds_settings": "cmkguard.migrate.aws_settings",
}

AWS_SDK = frozenset({"boto3", "botocore", "mypy_boto3_kms", "mypy_boto3_rds", "mypy_boto3_sts"})
AWS_SDK_PREFIX = "mypy_boto3_"


@attrs.frozen
class Import:
    importer: str
    target: str
    line: int
    lazy: bool
    type_only: bool
    function: str | None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


ALL_MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}
MODULES = {m: p for m, p in ALL_MODULES.items() if m not in DEPRECATED_ALIASES}


def _resolve(base: str, name: str | None) -> str:
    """The module an import names: `base.name` when that is a module, else `base`."""
    if name is not None and f"{base}.{name}" in ALL_MODULES:
        return f"{base}.{name}"
    while base not in ALL_MODULES and "." in base:
        base = base.rsplit(".", 1)[0]
    return base


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


Found = tuple[ast.Import | ast.ImportFrom, str | None, bool]
"""An import statement, the function it sits in (`None`: module level), whether type-only."""


def _walk(nodes: Iterable[ast.AST], function: str | None, type_only: bool) -> Iterator[Found]:
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, function, type_only
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _walk(node.body, node.name, type_only)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _walk(node.body, function, True)
            yield from _walk(node.orelse, function, type_only)
        else:
            yield from _walk(ast.iter_child_nodes(node), function, type_only)


def _package_of(module: str) -> str:
    """`cmkguard.x.y` -> `cmkguard.x` for a module, the module itself for a package."""
    path = ALL_MODULES[module]
    return module if path.name == "__init__.py" else module.rsplit(".", 1)[0]


def imports_of(module: str) -> list[Import]:
    """Every cmkguard import of `module`, resolved to the module it loads."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node, function, type_only in _walk([tree], None, False):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [_resolve(a.name, None) for a in node.names if a.name.startswith("cmkguard")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(module)
                for _ in range(node.level - 1):
                    base = base.rsplit(".", 1)[0]
                prefix = f"{base}.{node.module}" if node.module else base
            else:
                prefix = node.module or ""
            if prefix == "cmkguard" or prefix.startswith("cmkguard."):
                targets = [_resolve(prefix, a.name) for a in node.names]
        for target in dict.fromkeys(targets):
            found.append(
                Import(module, target, node.lineno, function is not None, type_only, function)
            )
    return found


def sdk_imports_of(module: str, *, include_type_only: bool) -> list[str]:
    """The AWS SDK modules `module` imports (lazily too; type-only ones on request)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node, _function, type_only in _walk([tree], None, False):
        if type_only and not include_type_only:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            names = [node.module] if node.module else []
        for name in names:
            root = name.split(".")[0]
            if root in AWS_SDK or root.startswith(AWS_SDK_PREFIX):
                found.append(f"{name} (line {node.lineno})")
    return found


def unit_of(module: str) -> str:
    """The package (`aws`, `inventory`...) or `<leaves>` a module belongs to."""
    parts = module.split(".")
    if len(parts) == 1:
        return "<facade>"
    if len(parts) == 2 and parts[1] in LEAF_MODULES:
        return LEAVES
    return parts[1]


def rank_of(module: str) -> int:
    unit = unit_of(module)
    for rank, names in enumerate(PACKAGE_ORDER):
        if unit in names:
            return rank
    raise AssertionError(
        f"{module} belongs to {unit!r}, which has no rank: add it to PACKAGE_ORDER in "
        "tests/test_layering.py and to the tree in docs/architecture.md"
    )


def tier_of(module: str) -> int:
    if module in TIERS:
        return TIERS[module]
    leaf = module.rsplit(".", 1)[-1]
    if module.count(".") == 1 and MODULES[module].name == "__init__.py":
        return FRONT
    if leaf.startswith("aws_") or leaf == "_aws":
        return EDGE
    if leaf in VALUE_MODULE_NAMES:
        return VALUES
    return CORE


def is_aws_edge(module: str) -> bool:
    """Modules allowed to import boto3/botocore: cmkguard.aws, aws_*.py / _aws.py, testing."""
    return unit_of(module) in ("aws", "testing") or tier_of(module) == EDGE


def layer_of(module: str) -> tuple[int, int]:
    return rank_of(module), tier_of(module)


def _describe(module: str) -> str:
    rank, tier = layer_of(module)
    return f"{module} [{PACKAGE_ORDER[rank][0]}, {TIER_NAMES[tier]}]"


def _is_seam(imp: Import) -> bool:
    return imp.function in SEAM_FUNCTIONS and (
        imp.target == SEAM_TARGET or imp.target.startswith(SEAM_TARGET + ".")
    )


def _allowed(imp: Import) -> bool:
    if imp.target == "cmkguard":
        return False  # the facade is imported by nobody inside the package
    if imp.target == imp.importer:
        return True
    source, target = layer_of(imp.importer), layer_of(imp.target)
    if source[0] != target[0]:
        return target[0] < source[0]
    if unit_of(imp.importer) != unit_of(imp.target):
        return False  # two packages of one rank stay apart
    return target[1] <= source[1]


ALL_IMPORTS = [imp for module in MODULES for imp in imports_of(module)]


def test_the_walk_sees_the_package() -> None:
    assert len(MODULES) >= 80
    assert len(ALL_IMPORTS) >= 300
    assert any(imp.lazy for imp in ALL_IMPORTS)
    assert any(imp.type_only for imp in ALL_IMPORTS)


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        if module != "cmkguard":
            layer_of(module)


@pytest.mark.parametrize("names", PACKAGE_ORDER[1:-1], ids=lambda names: names[0])
def test_every_listed_package_exists(names: tuple[str, ...]) -> None:
    present = [n for n in names if f"cmkguard.{n}" in MODULES]
    if present:
        return
    if names[0] in COMING:
        pytest.skip(f"cmkguard.{names[0]} is ranked but not in the tree yet (coming: issue 11/14)")
    raise AssertionError(f"cmkguard.{names[0]} is listed in PACKAGE_ORDER but does not exist")


def test_imports_point_down_only() -> None:
    wrong = [
        f"{_describe(imp.importer)} line {imp.line} imports {_describe(imp.target)}"
        + (" (lazily)" if imp.lazy else "")
        + (" (for types)" if imp.type_only else "")
        for imp in ALL_IMPORTS
        if not _allowed(imp) and not _is_seam(imp) and (imp.importer, imp.target) not in PENDING
    ]
    assert wrong == []


def test_pending_exceptions_are_still_needed() -> None:
    edges = {(imp.importer, imp.target) for imp in ALL_IMPORTS if not _allowed(imp)}
    fixed = sorted(set(PENDING) - edges)
    assert fixed == [], "fixed: delete these from PENDING so they cannot come back"


def test_the_facade_is_imported_by_nobody() -> None:
    users = [
        f"{imp.importer} line {imp.line}"
        for imp in ALL_IMPORTS
        if imp.target == "cmkguard" and (imp.importer, imp.target) not in PENDING
    ]
    assert users == []


def test_the_seam_is_only_repr_html() -> None:
    """Every lazy upward import is a notebook presentation method, never a shortcut."""
    seams = [imp for imp in ALL_IMPORTS if _is_seam(imp) and not _allowed(imp)]
    assert seams, "the documented _repr_html_ seam is not used any more: update the docs"
    assert all(imp.lazy and not imp.type_only for imp in seams)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _graph(keep: Callable[[Import], bool]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for imp in ALL_IMPORTS:
        if imp.target != imp.importer and keep(imp):
            graph.setdefault(imp.importer, set()).add(imp.target)
    return graph


def test_no_import_cycle_between_modules() -> None:
    graph = _graph(lambda imp: not _is_seam(imp) and (imp.importer, imp.target) not in PENDING)
    assert _cycle(graph) is None


def test_no_import_cycle_between_packages() -> None:
    graph = _graph(lambda imp: not _is_seam(imp) and (imp.importer, imp.target) not in PENDING)
    packages: dict[str, set[str]] = {}
    for importer, targets in graph.items():
        for target in targets:
            if unit_of(importer) != unit_of(target):
                packages.setdefault(unit_of(importer), set()).add(unit_of(target))
    assert _cycle(packages) is None


def test_the_checks_can_fail() -> None:
    """The rule catches an upward lazy import, a facade import and a cycle (made up here)."""
    up = Import("cmkguard.policy.document", "cmkguard.inventory.scanner", 1, True, False, "f")
    facade = Import("cmkguard.report.csv", "cmkguard", 1, True, False, "f")
    edge_from_core = Import(
        "cmkguard.inventory.resolve", "cmkguard.inventory.aws_kms", 1, False, False, None
    )
    down = Import("cmkguard.inventory.scanner", "cmkguard.policy.document", 1, False, False, None)
    assert not _allowed(up)
    assert not _allowed(facade)
    assert not _allowed(edge_from_core)
    assert _allowed(down)
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


# Only AWS-edge modules import the AWS SDK (ruff's TID251 says the same, file by file).


@pytest.mark.parametrize("module", sorted(MODULES), ids=str)
def test_only_aws_edges_import_the_aws_sdk(module: str) -> None:
    if is_aws_edge(module):
        return
    # Type annotations of orchestration (a boto3.Session parameter) are not a use of AWS...
    runtime = sdk_imports_of(module, include_type_only=unit_of(module) in PURE_PACKAGES)
    assert runtime == [], f"{module} is not an AWS edge (name it aws_*.py) but imports {runtime}"


ACCESS_TYPE = "cmkguard.aws.access"
NOT_PURE_UNITS = frozenset({"aws", "testing", "cli", "__main__", "<facade>"})
"""Where `core` does not mean pure: the AWS plumbing, the emulator, the CLI shell."""


def _pure_modules() -> list[str]:
    """Values and cores: every module that is not an AWS edge, orchestration or a front."""
    return sorted(
        m for m in MODULES if unit_of(m) not in NOT_PURE_UNITS and tier_of(m) in (VALUES, CORE)
    )


def test_there_are_pure_modules_to_check() -> None:
    pure = _pure_modules()
    assert len(pure) >= 50
    assert {"cmkguard.inventory.resolve", "cmkguard.migrate.plan", "cmkguard.arn"} <= set(pure)


@pytest.mark.parametrize("module", _pure_modules(), ids=str)
def test_pure_module_does_not_import_aws(module: str) -> None:
    # ...but a pure module does not even name the SDK for types, nor reach AWS through us
    # (a unit may name, for types only, the access object it carries: ACCESS_TYPE).
    assert sdk_imports_of(module, include_type_only=True) == []
    assert [
        imp.target
        for imp in imports_of(module)
        if (
            unit_of(imp.target) in ("aws", "testing")
            or tier_of(imp.target) in (EDGE, ORCHESTRATION)
        )
        and not (
            imp.type_only and imp.target == ACCESS_TYPE and unit_of(module) not in PURE_PACKAGES
        )
    ] == []


# Deprecated aliases of moved modules: they warn, and nothing inside the package uses them.


def test_deprecated_aliases_are_imported_by_nobody_inside_the_package() -> None:
    users = [
        f"{imp.importer} line {imp.line} imports {imp.target}"
        for imp in ALL_IMPORTS
        if imp.target in DEPRECATED_ALIASES and imp.importer not in DEPRECATED_ALIASES
    ]
    assert users == []


@pytest.mark.parametrize(("old", "new"), sorted(DEPRECATED_ALIASES.items()))
def test_deprecated_alias_warns_and_still_gives_the_same_objects(old: str, new: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    homes = [importlib.import_module(new), importlib.import_module("cmkguard.inventory.aws_units")]
    assert module.__all__
    for name in module.__all__:
        home = next(h for h in homes if hasattr(h, name))
        assert getattr(module, name) is getattr(home, name), name


# docs/architecture.md draws the tree: it stays true as packages land.

ARCHITECTURE = SRC.parents[1] / "docs" / "architecture.md"


def _drawn_tree() -> dict[str, set[str]]:
    """The tree block of docs/architecture.md: top-level name -> the module files drawn under it."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    block = text.split("```\nsrc/cmkguard/\n", 1)[1].split("```", 1)[0]
    tree: dict[str, set[str]] = {}
    current = ""
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        # The names come first, then two spaces or more, then what they are.
        head = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        names = [w for w in head.split() if w.endswith((".py", "/"))]
        if indent == 2:
            for name in names:
                tree.setdefault(name, set())
            current = names[0] if names and names[0].endswith("/") else ""
        elif indent == 4 and current:
            tree[current].update(n for n in names if n.endswith(".py"))
    return tree


def test_the_drawn_tree_names_every_top_level_module_and_package() -> None:
    drawn = _drawn_tree()
    present = {
        p.name + ("/" if p.is_dir() else "")
        for p in SRC.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"
    }
    missing = sorted(present - set(drawn))
    gone = sorted(set(drawn) - present - {f"{n}/" for n in COMING})
    assert not missing, f"add to the tree in docs/architecture.md: {missing}"
    assert not gone, f"the tree in docs/architecture.md draws what does not exist: {gone}"


def test_a_package_drawn_with_its_modules_is_drawn_with_all_of_them() -> None:
    for package, modules in _drawn_tree().items():
        if not modules:
            continue  # drawn as one line: its owner describes its insides
        present = {p.name for p in (SRC / package).glob("*.py") if p.name != "__init__.py"}
        assert modules == present, (
            f"docs/architecture.md draws {package} with {sorted(modules)}, "
            f"it holds {sorted(present)}"
        )


def test_the_drawn_ranks_are_the_tested_ranks() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    rows = [
        line.split("|")[1:3]
        for line in text.splitlines()
        if line.startswith("| ") and line.split("|")[1].strip().isdigit()
    ]
    drawn = [(int(rank), cell) for rank, cell in rows]
    assert [rank for rank, _ in drawn] == list(range(len(PACKAGE_ORDER)))
    for (rank, cell), names in zip(drawn, PACKAGE_ORDER, strict=True):
        wanted = [n for n in names if n not in (LEAVES, "<facade>")]
        assert all(f"`{n}`" in cell for n in wanted), f"rank {rank} should name {wanted}: {cell}"
