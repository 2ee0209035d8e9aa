"""Would an SCP deny this request? An exact evaluator for the Deny statements we generate.

Pure. The SCP is read by cmkguard's own key-policy parser (each statement given the principal
`*` an SCP implies), so malformed grammar is refused with a located `PolicyParseError`; then
each Deny is evaluated on the request as IAM would: actions as case-insensitive globs,
operators exactly (negated operators and `...IfExists` true on an absent key, `Null`,
`ForAnyValue`/`ForAllValues` over multivalued keys). Used by the tests to show what each
generated SCP blocks and lets through, and by users to try their own requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cmkguard.errors import ConfigurationError
from cmkguard.policy import Condition, Effect, Statement, parse_key_policy

# The analyser's own matchers, so SCP simulation and key-policy analysis agree on `*`/`?`
# and on ArnLike field by field (both linear time).
from cmkguard.policy._glob import arn_match, wildcard_match

__all__ = ["scp_denies"]

Context = Mapping[str, str | Sequence[str] | bool]


def _one(base: str, pattern: str, value: str) -> bool:
    if base in ("StringEquals", "ArnEquals"):
        return value == pattern
    if base == "StringEqualsIgnoreCase":
        return value.lower() == pattern.lower()
    if base == "StringLike":
        return wildcard_match(pattern, value)
    if base == "ArnLike":
        return arn_match(pattern, value)
    if base == "Bool":
        return value.lower() == pattern.lower()
    raise ConfigurationError(f"the simulator does not evaluate {base} (only string/ARN/Bool)")


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _holds(cond: Condition, context: Mapping[str, Any]) -> bool:
    raw = context.get(cond.key_lower)
    if cond.base == "Null":
        return (raw is None) == (cond.values[0].lower() == "true")
    if raw is None:
        # Absent key: negated operators and IfExists hold; ForAllValues holds vacuously.
        return cond.base in _NEGATED or cond.if_exists or cond.qualifier == "ForAllValues"
    items = [raw] if isinstance(raw, str | bool) else list(raw)
    values = [("true" if v else "false") if isinstance(v, bool) else str(v) for v in items]
    base, negated = _NEGATED.get(cond.base, cond.base), cond.base in _NEGATED

    def matches(v: str) -> bool:
        hit = any(_one(base, p, v) for p in cond.values)
        return not hit if negated else hit

    if cond.qualifier == "ForAllValues":
        return all(matches(v) for v in values)
    return any(matches(v) for v in values)


def _denies(st: Statement, action: str, context: Mapping[str, Any]) -> bool:
    hit = any(wildcard_match(p.lower(), action.lower()) for p in st.actions)
    if hit == st.not_action:
        return False
    return all(_holds(c, context) for c in st.conditions)


def scp_denies(
    policies: Iterable[Mapping[str, Any]], action: str, context: Context | None = None
) -> str | None:
    """The `Sid` of the first Deny in `policies` that denies `action` with `context`, else `None`.

    `context` maps condition keys (any case) to a value, a list of values (multivalued keys such
    as `kms:ResourceAliases`) or a bool; a key not given is absent from the request. Only the
    Deny statements are evaluated: an SCP's Allow (FullAWSAccess) is assumed.
    """
    ctx = {k.lower(): v for k, v in (context or {}).items()}
    for doc in policies:
        statements = doc.get("Statement", [])
        if isinstance(statements, Mapping):
            statements = [statements]
        wrapped = {
            "Version": doc.get("Version", "2012-10-17"),
            "Statement": [{**s, "Principal": "*"} for s in statements],
        }
        for st in parse_key_policy(wrapped).statements:
            if st.effect is Effect.DENY and _denies(st, action, ctx):
                return st.sid or "(no Sid)"
    return None
