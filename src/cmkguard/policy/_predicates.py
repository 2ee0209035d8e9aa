"""Conditions as predicates over one request-context key, evaluated exactly (IAM User Guide,
"IAM JSON policy elements: Condition operators").

A `Pred` is one `operator key values` entry. `holds` evaluates it on a value of
the key (`None` when the key is absent, a tuple for a multivalued key); `element_need`
turns it into what a present value must (or must not) match, for the witness solver. Policy
variables are resolved against the caller's known values (`Env`); one that cannot be
resolved matches anything (a key compared with itself, `${aws:PrincipalAccount}` on
`kms:CallerAccount`, is then exactly a tautology).
"""

from __future__ import annotations

import bisect
import ipaddress
import math
from collections.abc import Mapping
from datetime import UTC, datetime

import attrs

from cmkguard.policy._glob import STAR, Pattern, compile_pattern
from cmkguard.policy._memo import MEMOS
from cmkguard.policy.document import Condition

__all__ = [
    "Pred",
    "condition_pred",
    "element_matches",
    "holds",
    "parse_date",
    "parse_number",
    "patterns_of",
]

_NEGATED = frozenset(
    {
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "ArnNotEquals",
        "ArnNotLike",
        "NumericNotEquals",
        "DateNotEquals",
        "NotIpAddress",
    }
)
_FAMILY = {
    "String": "string",
    "Arn": "string",
    "Bool": "string",
    "Binary": "string",
    "Numeric": "number",
    "Date": "date",
    "IpAddress": "ip",
    "NotIpAddress": "ip",
    "Null": "null",
}
# (ignore case, wildcards, ARN fields) of the string-family operators.
_STRING_MODE = {
    "StringEquals": (False, False, False),
    "StringNotEquals": (False, False, False),
    "StringEqualsIgnoreCase": (True, False, False),
    "StringNotEqualsIgnoreCase": (True, False, False),
    "StringLike": (False, True, False),
    "StringNotLike": (False, True, False),
    "ArnEquals": (False, True, True),
    "ArnLike": (False, True, True),
    "ArnNotEquals": (False, True, True),
    "ArnNotLike": (False, True, True),
    "Bool": (True, False, False),
    "BinaryEquals": (False, False, False),
}
# Longest suffix first: "LessThanEquals" also ends with "Equals".
_COMPARE = ("NotEquals", "LessThanEquals", "GreaterThanEquals", "LessThan", "GreaterThan", "Equals")


@attrs.frozen(cache_hash=True)
class Pred:
    """One condition entry on one key (lower-cased `key`), or a principal/goal test.

    `base` is the operator without qualifier and `IfExists`; `negated` whether it is a
    negated form (true when the key is absent); `values` the raw texts; `variables` whether
    `${...}` is a policy variable (version 2012-10-17). `origin` is the statement condition
    it came from, for explanations (`None` for principal and goal tests).
    """

    key: str
    base: str
    values: tuple[str, ...]
    negated: bool = False
    if_exists: bool = False
    qualifier: str | None = None
    variables: bool = False
    origin: Condition | None = attrs.field(default=None, eq=False, hash=False)
    label: str = attrs.field(default="", eq=False, hash=False)

    @property
    def family(self) -> str:
        """`string`, `number`, `date`, `ip` or `null`."""
        for prefix, fam in _FAMILY.items():
            if self.base.startswith(prefix):
                return fam
        return "string"

    def __str__(self) -> str:
        if self.label:
            return self.label
        if self.origin is not None:
            return str(self.origin)
        vals = self.values[0] if len(self.values) == 1 else list(self.values)
        return f"{self.base} {self.key} {vals}"


def condition_pred(cond: Condition, version: str) -> Pred:
    """The predicate of one parsed condition."""
    return Pred(
        cond.key.lower(),
        cond.base,
        cond.values,
        negated=cond.base in _NEGATED,
        if_exists=cond.if_exists,
        qualifier=cond.qualifier,
        variables=version == "2012-10-17",
        origin=cond,
    )


Env = Mapping[str, str]
"""Known request values by lower-cased key (the caller's account, ARN...)."""


def _value_tokens(text: str, pred: Pred, env: Env, wildcards: bool) -> tuple[str, ...]:
    """`text` as pattern tokens: wildcards (when the operator globs), escapes and variables."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if pred.variables and c == "$" and text.startswith("${", i):
            end = text.find("}", i + 2)
            if end > 0:
                name = text[i + 2 : end]
                if name in ("*", "?", "$"):
                    out.append(name)  # an escape: the literal character
                else:
                    value = env.get(name.lower())
                    if value is None:
                        if not out or out[-1] != STAR:
                            out.append(STAR)  # unknown here: it could be anything
                    else:
                        out.extend(value)
                i = end + 1
                continue
        if wildcards and c == "*":
            if not out or out[-1] != STAR:
                out.append(STAR)
        elif wildcards and c == "?":
            out.append("\x00?")
        else:
            out.append(c)
        i += 1
    return tuple(out)


def patterns_of(pred: Pred, env: Env) -> tuple[Pattern, ...]:
    """The string-family patterns of `pred` under `env` (one per value, ORed)."""
    return _patterns(pred, tuple(sorted(env.items())) if pred.variables else ())


@MEMOS.cached(8192)
def _patterns(pred: Pred, env_items: tuple[tuple[str, str], ...]) -> tuple[Pattern, ...]:
    ignore_case, wildcards, arn = _STRING_MODE.get(pred.base, (False, False, False))
    env = dict(env_items)
    return tuple(
        compile_pattern(_value_tokens(v, pred, env, wildcards), ignore_case, arn, v)
        for v in pred.values
    )


def parse_number(text: str) -> float | None:
    """A condition number (`None` when the text is not one)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_date(text: str) -> float | None:
    """A condition date as epoch seconds: ISO 8601 (`2030-01-01T00:00:00Z`) or epoch."""
    number = parse_number(text)
    if number is not None:
        return number
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


# A predicate's values are parsed once (remembered per value tuple) and then looked up, not
# re-parsed for every candidate: a 32 KB condition holds ~2,000 values and the search asks
# hundreds of candidates, which made a long IP or number list take seconds.
@MEMOS.cached(4096)
def _ip_ranges(cidrs: tuple[str, ...]) -> dict[int, tuple[list[int], list[int]]]:
    """Per IP version, the merged ranges of `cidrs` as (sorted starts, ends), for bisection."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for text in cidrs:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        spans.setdefault(net.version, []).append(
            (int(net.network_address), int(net.broadcast_address))
        )
    out: dict[int, tuple[list[int], list[int]]] = {}
    for version, ranges in spans.items():
        starts: list[int] = []
        ends: list[int] = []
        for first, last in sorted(ranges):
            if ends and first <= ends[-1] + 1:
                ends[-1] = max(ends[-1], last)
            else:
                starts.append(first)
                ends.append(last)
        out[version] = (starts, ends)
    return out


def _ip_in_any(value: str, cidrs: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    ranges = _ip_ranges(cidrs).get(address.version)
    if ranges is None:
        return False
    starts, ends = ranges
    at = bisect.bisect_right(starts, int(address)) - 1
    return at >= 0 and int(address) <= ends[at]


@MEMOS.cached(4096)
def _bounds(values: tuple[str, ...], dates: bool) -> tuple[frozenset[float], float, float] | None:
    """The parsed values of a number/date predicate: (all, smallest, largest), or `None` when
    none parses."""
    parse = parse_date if dates else parse_number
    parsed = [b for b in map(parse, values) if b is not None]
    if not parsed:
        return None
    return frozenset(parsed), min(parsed), max(parsed)


def _compares(op: str, value: float, bounds: tuple[frozenset[float], float, float]) -> bool:
    """Whether `value` compares `op` to at least one bound (the extremes decide the orders)."""
    every, smallest, largest = bounds
    if op in ("Equals", "NotEquals"):  # NotEquals: the caller applies the negation
        return value in every
    if op == "LessThan":
        return value < largest
    if op == "LessThanEquals":
        return value <= largest
    if op == "GreaterThan":
        return value > smallest
    return value >= smallest


def element_matches(pred: Pred, value: str, env: Env) -> bool:
    """Whether one present value matches one of `pred`'s values (before negation)."""
    family = pred.family
    if family == "string":
        return any(p.match(value) for p in patterns_of(pred, env))
    if family == "ip":
        return _ip_in_any(value, pred.values)
    dates = family != "number"
    got = (parse_date if dates else parse_number)(value)
    if got is None:
        return False
    bounds = _bounds(pred.values, dates)
    if bounds is None:
        return False
    op = next(o for o in _COMPARE if pred.base.endswith(o))
    return _compares(op, got, bounds)


def holds(pred: Pred, value: str | tuple[str, ...] | None, env: Env) -> bool:
    """Whether `pred` is true for the key's `value` (`None`: the key is absent)."""
    if pred.family == "null":
        absent = value is None or value == ()
        return any((v.lower() == "true") == absent for v in pred.values)
    if value is None or value == ():
        if pred.qualifier == "ForAllValues":
            return True
        if pred.qualifier == "ForAnyValue":
            return False
        return pred.if_exists or pred.negated
    elements = value if isinstance(value, tuple) else (value,)
    results = [element_matches(pred, e, env) != pred.negated for e in elements]
    return all(results) if pred.qualifier == "ForAllValues" else any(results)
