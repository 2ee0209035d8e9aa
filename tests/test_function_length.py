"""Functions over ~60 lines are the exception, each with a reason (issue 8).

Length is counted from the first statement after the docstring to the last line, so a long
docstring (a public function's documentation) does not count against its code. `LONG` lists
the known exceptions with their reason; it is strict both ways: a new long function fails (split
it, or add it with a reason), and an entry whose function got short must be deleted.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "cmkguard"
LIMIT = 60

_DECLARATIVE = "one declarative literal (a document or table written out), nothing to branch on"
_ARGPARSE = "argparse declarations, one option after another (no logic)"

LONG = {
    "cli/demo.py:_demo_migrate": "to split: the demo's seven stages read in order (issue 12)",
    "auditing/rules/policies.py:check_policies": "to split: issue 13 (reports/audit)",
    "cli/_org_options.py:add_org_arguments": _ARGPARSE,
    "cli/guardrails.py:register": _ARGPARSE,
    "guardrails/alerts.py:alert_rules": _DECLARATIVE,
    "guardrails/key_policy.py:build_key_policy": "to split: issue 14 (guardrails)",
    "guardrails/render.py:render_scps": "to split: issue 14 (guardrails)",
    "migrate/_rds_paths.py:_plan_cluster": "to split: issue 12 (migration recipe)",
    "migrate/_rds_paths.py:_plan_instance": "to split: issue 12 (migration recipe)",
    "migrate/_rds_paths.py:_plan_replicas": "to split: issue 12 (migration recipe)",
    "migrate/_secret_paths.py:_plan_rds_managed_secret": "to split: issue 12 (migration)",
    "migrate/_secret_paths.py:_plan_secret": "to split: issue 12 (migration)",
    "migrate/guardrail_plan.py:_key_policy_checks": "to split: issue 14 (guardrails)",
    "policy/_access.py:_wildcard": "to split: issue 9 (policy); the hot path, measure first",
    "policy/_explain.py:_statement_findings": "to split: issue 9 (policy)",
    "policy/_solver.py:_bfs": "to split: issue 9 (policy): the reference search loop",
    "report/ocsf.py:finding_to_ocsf": _DECLARATIVE + " (one OCSF event)",
    "testing/_moto.py:aws_managed_key_policy": _DECLARATIVE + " (AWS's key policy)",
    "testing/_org.py:seed_organization": "to split: issue 11 (org seeding)",
    "testing/_seed.py:run": "to split: the estate seeder (testing)",
    "testing/_seed.py:seed_estate": "to split: the estate seeder (testing)",
}
"""`module path:function` -> why it is long (strict: delete an entry when it is fixed)."""


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    first = body[0]
    if (
        len(body) > 1
        and isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        first = body[1]
    return (node.end_lineno or node.lineno) - first.lineno + 1


def _long_functions() -> dict[str, int]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = _code_lines(node)
                if lines > LIMIT:
                    found[f"{path.relative_to(SRC).as_posix()}:{node.name}"] = lines
    return found


def test_no_new_function_is_over_the_limit() -> None:
    new = {name: lines for name, lines in _long_functions().items() if name not in LONG}
    assert new == {}, f"over {LIMIT} lines of code: split them, or add each to LONG with a reason"


def test_every_listed_exception_is_still_long() -> None:
    fixed = sorted(set(LONG) - set(_long_functions()))
    assert fixed == [], "no longer over the limit: delete these entries from LONG"


def test_the_measure_counts_code_not_the_docstring() -> None:
    source = 'def f():\n    """Doc.\n\n    More.\n    """\n    a = 1\n    return a\n'
    (node,) = ast.parse(source).body
    assert isinstance(node, ast.FunctionDef)
    assert _code_lines(node) == 2
