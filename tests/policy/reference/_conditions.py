"""Condition operators as z3 formulas over the symbolic request (IAM User Guide, "Condition
operators", as the contract's "Revision 2" states them).

- values of one key are ORed; keys and operators are ANDed (by the caller of `condition`);
- a positive operator on an absent key is false, a negated one true, `...IfExists` true;
  `ForAllValues` on an absent key is true, `ForAnyValue` false; `Null: true` holds exactly when
  the key is absent;
- `StringLike` globs span `:` and `/`; `ArnLike`/`ArnEquals` compare the pattern's fields (split at
  its first five `:`) one by one, a wildcard before the last field never matching `:`;
- in `2012-10-17` `${key}` is the request's value of that key (`${*}`, `${?}`, `${$}` are the
  literal characters); in `2008-10-17` it is plain text.

Raises `Unsupported` for what the reference does not model (IP ranges, non-integer numbers,
dates on keys other than the current time): the differential property generates none.
"""

from __future__ import annotations

from datetime import UTC, datetime

import z3

from tests.policy.reference._document import RefCondition
from tests.policy.reference._request import ANY, ANY_CHAR, MULTIVALUED, Request

__all__ = ["Unsupported", "condition"]

_NO_COLON = z3.Intersect(ANY_CHAR, z3.Complement(z3.Re(":")))
_NEGATED = {
    "stringnotequals",
    "stringnotequalsignorecase",
    "stringnotlike",
    "arnnotequals",
    "arnnotlike",
    "numericnotequals",
    "datenotequals",
    "notipaddress",
}
# base operator (lower case) -> (wildcards, ignore case, ARN fields)
_STRING = {
    "stringequals": (False, False, False),
    "stringnotequals": (False, False, False),
    "stringequalsignorecase": (False, True, False),
    "stringnotequalsignorecase": (False, True, False),
    "stringlike": (True, False, False),
    "stringnotlike": (True, False, False),
    "arnequals": (True, False, True),
    "arnnotequals": (True, False, True),
    "arnlike": (True, False, True),
    "arnnotlike": (True, False, True),
    "bool": (False, True, False),
    "binaryequals": (False, False, False),
}


class Unsupported(Exception):
    """A condition the reference does not model."""


def _tokens(text: str, variables: bool) -> list[tuple[str, str]]:
    """`text` as `(kind, text)` tokens: `char`, `star`, `qmark` or `var` (its key, lower case)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        if variables and text.startswith("${", i) and text.find("}", i) > 0:
            end = text.find("}", i)
            name = text[i + 2 : end]
            out.append(("char", name) if name in ("*", "?", "$") else ("var", name.lower()))
            i = end + 1
            continue
        c = text[i]
        out.append(("star", c) if c == "*" else ("qmark", c) if c == "?" else ("char", c))
        i += 1
    return out


class _Pattern:
    """One condition value as a z3 regex, for a given choice of variable values."""

    def __init__(self, request: Request, text: str, base: str, variables: bool) -> None:
        self.request = request
        self.wild, self.ignore_case, self.arn = _STRING[base]
        self.tokens = _tokens(text, variables)

    def _char(self, c: str) -> z3.ReRef:
        if self.ignore_case and c.lower() != c.upper():
            return z3.Union(z3.Re(c.lower()), z3.Re(c.upper()))
        return z3.Re(c)

    def regex(self, bound: dict[str, z3.SeqRef | None]) -> z3.ReRef:
        """The regex, each variable replaced by its value (`None`: anything)."""
        last_field = 0
        if self.arn:
            colons = 0
            for j, (kind, c) in enumerate(self.tokens):
                if kind == "char" and c == ":" and colons < 5:
                    colons += 1
                    last_field = j + 1
        parts: list[z3.ReRef] = []
        for j, (kind, c) in enumerate(self.tokens):
            early = j < last_field
            if kind == "var":
                value = bound[c]
                parts.append(ANY if value is None else z3.Re(value))
            elif kind == "star" and self.wild:
                parts.append(z3.Star(_NO_COLON) if early else ANY)
            elif kind == "qmark" and self.wild:
                parts.append(_NO_COLON if early else ANY_CHAR)
            else:
                parts.extend(self._char(ch) for ch in c)
        if not parts:
            return z3.Re("")
        return parts[0] if len(parts) == 1 else z3.Concat(*parts)

    def literal(self) -> str | None:
        """The exact text matched, when the pattern has no wildcard, variable or case rule."""
        if self.ignore_case or any(
            kind == "var" or (kind != "char" and self.wild) for kind, _ in self.tokens
        ):
            return None
        return "".join(c for _, c in self.tokens)

    def variables(self) -> list[str]:
        return sorted({c for kind, c in self.tokens if kind == "var"})


def _string_match(
    request: Request, element: z3.SeqRef, values: tuple[str, ...], base: str, variables: bool
) -> z3.BoolRef:
    """Whether `element` matches one of `values` (before negation)."""
    out: list[z3.BoolRef] = []
    for text in values:
        pattern = _Pattern(request, text, base, variables)
        exact = pattern.literal()
        if exact is not None:
            out.append(z3.InRe(element, z3.Re(exact)))
            continue
        names = pattern.variables()
        # A variable whose key this request lacks matches anything (the analyser's choice,
        # docs/policy.md); otherwise it is the request's own value of that key.
        cases: list[tuple[z3.BoolRef, dict[str, z3.SeqRef | None]]] = [(z3.BoolVal(True), {})]
        for name in names:
            present, value = request.key(name)
            if name in MULTIVALUED:
                raise Unsupported(f"variable of a multivalued key {name}")
            assert isinstance(value, z3.SeqRef)
            cases = [
                (z3.And(guard, p), {**b, name: v})
                for guard, b in cases
                for p, v in ((present, value), (z3.Not(present), None))
            ]
        out.append(z3.Or(*(z3.And(g, z3.InRe(element, pattern.regex(b))) for g, b in cases)))
    return z3.Or(*out) if out else z3.BoolVal(False)


def _parse_date(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


_COMPARE = (
    ("notequals", lambda a, b: a == b),  # negated by the caller
    ("lessthanequals", lambda a, b: a <= b),
    ("greaterthanequals", lambda a, b: a >= b),
    ("lessthan", lambda a, b: a < b),
    ("greaterthan", lambda a, b: a > b),
    ("equals", lambda a, b: a == b),
)


def _compare(base: str, left: z3.ArithRef, values: tuple[float, ...]) -> z3.BoolRef:
    for suffix, fn in _COMPARE:
        if base.endswith(suffix):
            return z3.Or(*(fn(left, z3.RealVal(v)) for v in values))
    raise Unsupported(base)


def _element_match(
    request: Request, cond: RefCondition, element: z3.SeqRef, version: str
) -> z3.BoolRef:
    base = cond.base.lower()
    if base in _STRING:
        return _string_match(request, element, cond.values, base, version == "2012-10-17")
    if base.startswith("numeric"):
        if any(not v.isdigit() for v in cond.values):
            raise Unsupported(f"number {cond.values}")
        if cond.key == "aws:epochtime":  # always present: the request time in seconds
            return _compare(base, request.time, tuple(float(v) for v in cond.values))
        number = z3.StrToInt(element)  # -1 unless the text is a decimal number
        got = _compare(base, z3.ToReal(number), tuple(float(v) for v in cond.values))
        return z3.And(number >= 0, got)
    if base.startswith("date"):
        if cond.key not in ("aws:currenttime", "aws:epochtime"):
            raise Unsupported(f"date on {cond.key}")
        return _compare(base, request.time, tuple(_parse_date(v) for v in cond.values))
    raise Unsupported(base)


def condition(request: Request, cond: RefCondition, version: str) -> z3.BoolRef:
    """Whether the request satisfies one condition entry."""
    base = cond.base.lower()
    if base == "null":
        present, _ = _key(request, cond)
        return z3.Or(*((present if v.lower() == "false" else z3.Not(present)) for v in cond.values))
    negated = base in _NEGATED
    present, value = _key(request, cond)
    if isinstance(value, list):  # a multivalued key: its used slots are the elements
        results = [
            (used, _element_match(request, cond, v, version) != negated) for used, v in value
        ]
        if cond.qualifier == "forallvalues":
            held = z3.And(*(z3.Implies(u, r) for u, r in results))
        else:
            held = z3.Or(*(z3.And(u, r) for u, r in results))
    else:
        assert isinstance(value, z3.SeqRef)
        held = _element_match(request, cond, value, version) != negated
    if cond.qualifier == "forallvalues":
        absent = z3.BoolVal(True)
    elif cond.qualifier == "foranyvalue":
        absent = z3.BoolVal(False)
    else:
        absent = z3.BoolVal(cond.if_exists or negated)
    # If-then-else with a constant branch, written as its conjunction or implication (z3's
    # string solver does better on those).
    if z3.is_true(present):
        return held
    return z3.Implies(present, held) if z3.is_true(absent) else z3.And(present, held)


def _key(request: Request, cond: RefCondition) -> tuple[z3.BoolRef, object]:
    if cond.key in ("aws:currenttime", "aws:epochtime"):
        return z3.BoolVal(True), z3.StringVal("")  # dates compare request.time instead
    if cond.key in ("aws:sourceip", "aws:vpcsourceip"):
        raise Unsupported("IP addresses")
    return request.key(cond.key)
