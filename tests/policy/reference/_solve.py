"""Deciding one question: finite case splits in Python, z3's string solver only for what is left.

z3's sequence solver is quick on string variables constrained by regular expressions and
equalities with constants, and can take tens of seconds on word equations between variables
(`org + "/"` a prefix of an org path, an ARN built from the caller's partition and account),
even when the answer is plainly "sat". So before z3 sees a question:

- the caller's finite parts are split into cases (its kind, partition, whether it is in an
  organization, and which organization: each one the policy names, or any other), each case
  substituted into the formulas;
- every top-level `term == constant` (a principal that fixes the account, an action that fixes
  the action) is substituted too, and the formulas simplified, until nothing changes;
- a case that simplifies to false is dropped without a solver call, one that simplifies to true
  is answered without one.

Only the free strings that remain (unnamed accounts, paths, names, condition values) reach a
solver, with a timeout: a question z3 cannot decide in time raises `Unsupported` (the property
counts those examples as skipped, never as agreeing). This is the same question as before the
split (the cases cover every value of each split term), asked in pieces z3 answers quickly; the
split follows the request model's own finite types, not the analyser's classes of values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs
import z3

from tests.policy.reference._conditions import Unsupported
from tests.policy.reference._request import DECLARED

__all__ = ["Split", "decide", "names"]


@attrs.frozen
class Split:
    """One term split into cases: each case a value for it (or the term itself, kept free)
    and the constraints that case adds."""

    term: z3.ExprRef
    cases: tuple[tuple[z3.ExprRef, tuple[z3.BoolRef, ...]], ...]


def _is_literal(e: z3.ExprRef) -> bool:
    return z3.is_string_value(e) or z3.is_int_value(e) or z3.is_true(e) or z3.is_false(e)


def _is_variable(e: z3.ExprRef) -> bool:
    return e.num_args() == 0 and e.decl().kind() == z3.Z3_OP_UNINTERPRETED


def _binding(f: z3.BoolRef) -> tuple[z3.ExprRef, z3.ExprRef] | None:
    """`(variable, literal)` when the conjunct `f` fixes a variable to a literal."""
    kind = f.decl().kind()
    if kind == z3.Z3_OP_UNINTERPRETED and f.num_args() == 0:
        return f, z3.BoolVal(True)
    if kind == z3.Z3_OP_NOT and _is_variable(f.arg(0)):
        return f.arg(0), z3.BoolVal(False)
    if kind == z3.Z3_OP_EQ:
        left, right = f.arg(0), f.arg(1)
        if _is_variable(left) and _is_literal(right):
            return left, right
        if _is_variable(right) and _is_literal(left):
            return right, left
    return None


def _flatten(formulas: Sequence[z3.BoolRef], out: list[z3.BoolRef]) -> bool:
    """Append the simplified conjuncts of `formulas` to `out`; False when one is false."""
    for f in formulas:
        f = z3.simplify(f)
        if z3.is_false(f):
            return False
        if not z3.is_true(f):
            out.extend(f.children() if z3.is_and(f) else [f])
    return True


def _propagate(formulas: Sequence[z3.BoolRef]) -> list[z3.BoolRef] | None:
    """The conjuncts of `formulas` simplified, fixed variables substituted away (an
    equisatisfiable problem); `None` when they are unsatisfiable on their face. Only the
    conjuncts a substitution changed are simplified again."""
    flat: list[z3.BoolRef] = []
    if not _flatten(formulas, flat):
        return None
    while True:
        bound: dict[int, tuple[z3.ExprRef, z3.ExprRef]] = {}
        for f in flat:
            got = _binding(f)
            if got is not None:
                bound.setdefault(got[0].get_id(), got)
        if not bound:
            return flat
        pairs = list(bound.values())
        kept: list[z3.BoolRef] = []
        changed: list[z3.BoolRef] = []
        for f in flat:
            g = z3.substitute(f, *pairs)
            (kept if g.eq(f) else changed).append(g)
        if not _flatten(changed, kept):
            return None
        flat = kept


_STRING_LITERAL = re.compile(r'"(?:[^"]|"")*"')
_TOKEN = re.compile(r"\|[^|]*\||[^\s()]+")
_NAMES: dict[int, tuple[z3.ExprRef, frozenset[str]]] = {}


def names(f: z3.ExprRef) -> frozenset[str]:
    """The variables (request terms) `f` mentions, read from its text: z3 prints it in C, while
    walking the term through the Python API costs more than most solver calls."""
    got = _NAMES.get(f.get_id())
    if got is None or not got[0].eq(f):
        text = _STRING_LITERAL.sub("", f.sexpr())
        found = frozenset(t.strip("|") for t in _TOKEN.findall(text)) & DECLARED
        if len(_NAMES) > 200_000:
            _NAMES.clear()
        got = _NAMES[f.get_id()] = (f, found)
    return got[1]


def decide(formulas: Sequence[z3.BoolRef], splits: Sequence[Split], timeout_ms: int) -> bool:
    """Whether `formulas` are satisfiable (raises `Unsupported` when z3 runs out of time)."""
    problem = _propagate(formulas)
    if problem is None:
        return False
    if not problem:
        return True
    mentioned = frozenset().union(*(names(f) for f in problem))
    for i, split in enumerate(splits):
        if split.term.decl().name() not in mentioned:
            continue
        rest = splits[i + 1 :]
        for value, extra in split.cases:
            case = [z3.substitute(f, (split.term, value)) for f in problem]
            if decide([*case, *extra], rest, timeout_ms):
                return True
        return False
    return all(_component(c, timeout_ms) for c in _components(problem))


def _components(problem: Sequence[z3.BoolRef]) -> list[list[z3.BoolRef]]:
    """The conjuncts grouped by shared variables: independent sub-problems, each smaller for
    z3 and, being the same text across policies, often already answered (`_ANSWERS`)."""
    groups: list[tuple[set[str], list[z3.BoolRef]]] = []
    for f in problem:
        mentioned = set(names(f))
        merged: list[z3.BoolRef] = [f]
        keep = []
        for group_names, members in groups:
            if group_names & mentioned:
                mentioned |= group_names
                merged.extend(members)
            else:
                keep.append((group_names, members))
        groups = [*keep, (mentioned, merged)]
    return [members for _, members in groups]


# The answers of sub-problems already decided, by their text (a formula's answer never
# changes): generated policies share most of their sub-problems (the request's formats, one
# principal's grant, one action pattern), so most never reach z3 twice.
_ANSWERS: dict[str, bool] = {}


def _component(problem: list[z3.BoolRef], timeout_ms: int) -> bool:
    text = "\n".join(sorted(f.sexpr() for f in problem))
    got = _ANSWERS.get(text)
    if got is not None:
        return got
    # A fresh context per check: z3's string solver carries state between checks in one
    # context, and the same problem then takes 0.3 s or 18 s (or times out) depending on what
    # was solved before it. In its own context it takes the same time every run.
    if _guessed(problem):
        _ANSWERS[text] = True
        return True
    ctx = z3.Context()
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", timeout_ms)
    solver.add(*(f.translate(ctx) for f in problem))
    answer = solver.check()
    if answer == z3.unknown:
        raise Unsupported(f"z3 gave up: {solver.reason_unknown()}")
    if len(_ANSWERS) > 200_000:
        _ANSWERS.clear()
    got = _ANSWERS[text] = answer == z3.sat
    return got


_GUESSES = 24


def _guessed(problem: list[z3.BoolRef]) -> bool:
    """Whether a cheap guess satisfies `problem`: every string term set to one of the
    problem's own string constants, every Boolean term to true or false, a few combinations
    tried, each checked by z3's simplifier on the ground formulas (a satisfying assignment is
    a proof of "sat"; a failed guess proves nothing and the solver decides).

    z3's string solver takes seconds on some trivially satisfiable slot problems
    (`aws:PrincipalOrgPaths` prefixes: 0.3 to 18 s for the same problem), which the guess
    answers in a millisecond."""
    terms: dict[str, z3.ExprRef] = {}
    literals: dict[str, None] = {}
    _collect(problem, terms, literals, set())
    strings = [t for t in terms.values() if t.sort() == z3.StringSort()]
    bools = [t for t in terms.values() if z3.is_bool(t)]
    if not strings or len(strings) + len(bools) != len(terms) or not literals:
        return False
    values = [z3.StringVal(v) for v in literals]
    for attempt in range(_GUESSES):
        pairs = [(t, values[(attempt + i) % len(values)]) for i, t in enumerate(strings)]
        pairs += [(t, z3.BoolVal(not (attempt >> i) & 1)) for i, t in enumerate(bools)]
        if all(z3.is_true(z3.simplify(z3.substitute(f, *pairs))) for f in problem):
            return True
        if attempt + 1 >= len(values) and attempt >= 1 << min(len(bools), 4):
            break
    return False


def _collect(
    formulas: Sequence[z3.ExprRef],
    terms: dict[str, z3.ExprRef],
    literals: dict[str, None],
    seen: set[int],
) -> None:
    """The uninterpreted constants and string literals of `formulas` (shared subterms once)."""
    stack = list(formulas)
    while stack:
        e = stack.pop()
        if e.get_id() in seen:
            continue
        seen.add(e.get_id())
        if z3.is_string_value(e):
            literals.setdefault(e.as_string(), None)
        elif _is_variable(e):
            terms[e.decl().name()] = e
        elif z3.is_app(e):
            stack.extend(e.children())
