"""When does a condition pin the caller? (key-policy-semantics.md, "Conditions").

A statement open to ``"*"`` is public unless a condition pins the caller to known accounts,
principals, an organization, a source resource or a network. This module turns each condition
into one of four outcomes for an ``Allow`` (no restriction, a :class:`Scope`, impossible) and,
for a ``Deny``, into a *cap* (everyone outside the scope is denied) when its condition is negated.
"""

from __future__ import annotations

import enum
import ipaddress
import re

import attrs

from cmkguard.arn import is_account_id
from cmkguard.policy._glob import glob_match, has_wildcard
from cmkguard.policy.document import Condition

__all__ = [
    "ALWAYS_PRESENT_KEYS",
    "Dimension",
    "Outcome",
    "Scope",
    "allow_outcome",
    "deny_cap",
    "is_service_exemption",
]

_VARIABLE_RE = re.compile(r"\$\{(?![*?$]\})[^}]*\}")
_ESCAPES = (("${*}", "*"), ("${?}", "?"), ("${$}", "$"))


class Dimension(enum.Enum):
    """What a restricting condition key pins."""

    ACCOUNTS = "accounts"
    ARNS = "arns"
    ORGS = "orgs"
    SOURCE_ACCOUNTS = "source-accounts"
    SOURCE_ARNS = "source-arns"
    NETWORKS = "networks"
    IPS = "ips"


# Enum members as module constants: reading one off its Enum class costs ~80 ns on Python 3.11
# (a lookup through the metaclass), and these are read in the analyser's innermost loops.
_D_ACCOUNTS = Dimension.ACCOUNTS
_D_ARNS = Dimension.ARNS
_D_ORGS = Dimension.ORGS
_D_SOURCE_ACCOUNTS = Dimension.SOURCE_ACCOUNTS
_D_SOURCE_ARNS = Dimension.SOURCE_ARNS
_D_NETWORKS = Dimension.NETWORKS
_D_IPS = Dimension.IPS
_FIELD = {d: d.name.lower() for d in Dimension}
"""Dimension -> the :class:`Scope` attribute holding its values."""
_FIELDS = tuple(_FIELD.values())


# Restricting keys (lower case) and what each pins.
_KEY_DIMENSION = {
    "kms:calleraccount": _D_ACCOUNTS,
    "aws:principalaccount": _D_ACCOUNTS,
    "aws:principalarn": _D_ARNS,
    "aws:principalorgid": _D_ORGS,
    "aws:principalorgpaths": _D_ORGS,
    "aws:sourceaccount": _D_SOURCE_ACCOUNTS,
    "aws:sourceowner": _D_SOURCE_ACCOUNTS,
    "aws:sourcearn": _D_SOURCE_ARNS,
    "aws:sourcevpc": _D_NETWORKS,
    "aws:sourcevpce": _D_NETWORKS,
    "aws:sourceip": _D_IPS,
}

ALWAYS_PRESENT_KEYS = frozenset(
    {"kms:calleraccount", "aws:principalaccount", "aws:principalarn", "aws:sourceip"}
)
"""Keys present in every request: ``...IfExists`` on them is the plain operator. Every other
restricting key may be absent (no organization, a direct call, no VPC endpoint)."""

# Keys whose values AWS sets (the caller cannot choose them): ``StringEquals "*"`` on one of them
# is a literal match of the text ``*``, which never happens.
_AWS_SET_KEYS = frozenset(_KEY_DIMENSION) | {
    "kms:viaservice",
    "aws:principaltype",
    "aws:principalservicename",
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
}

_POSITIVE_LITERAL = frozenset({"StringEquals", "StringEqualsIgnoreCase"})
_POSITIVE_GLOB = frozenset({"StringLike", "ArnEquals", "ArnLike"})
_NEGATED = {
    "StringNotEquals": False,
    "StringNotEqualsIgnoreCase": False,
    "StringNotLike": True,
    "ArnNotEquals": True,
    "ArnNotLike": True,
}
_ARN_KEYS = frozenset({"aws:principalarn", "aws:sourcearn"})


@attrs.frozen
class Scope:
    """The callers a statement can still reach; ``None`` leaves that dimension open.

    Values are account ids, ARNs (or ARN patterns), org ids, VPC/VPC-endpoint ids or CIDRs.
    """

    accounts: frozenset[str] | None = None
    arns: frozenset[str] | None = None
    orgs: frozenset[str] | None = None
    source_accounts: frozenset[str] | None = None
    source_arns: frozenset[str] | None = None
    networks: frozenset[str] | None = None
    ips: frozenset[str] | None = None

    def get(self, dim: Dimension) -> frozenset[str] | None:
        """The values pinned in ``dim``."""
        return getattr(self, _FIELD[dim])  # type: ignore[no-any-return]

    @property
    def is_open(self) -> bool:
        """Whether nothing is pinned."""
        return (
            self.accounts is None
            and self.arns is None
            and self.orgs is None
            and self.source_accounts is None
            and self.source_arns is None
            and self.networks is None
            and self.ips is None
        )

    def intersect(self, other: Scope) -> Scope | None:
        """Both scopes at once; ``None`` when no caller can satisfy both."""
        if other.is_open:
            return self
        if self.is_open:
            return other._consistent()
        fields: dict[str, frozenset[str] | None] = {}
        for name in _FIELDS:
            a, b = getattr(self, name), getattr(other, name)
            merged = a if b is None else b if a is None else a & b
            if merged is not None and not merged:
                return None
            fields[name] = merged
        scope = Scope(**fields)
        return scope._consistent()

    def _consistent(self) -> Scope | None:
        # ARNs must lie in the pinned accounts (caller side and source side alike).
        scope = self
        for arn_field, acct_field in (("arns", "accounts"), ("source_arns", "source_accounts")):
            arns, accounts = getattr(scope, arn_field), getattr(scope, acct_field)
            if arns is None or accounts is None:
                continue
            kept = frozenset(a for a in arns if arn_account(a) in accounts or not arn_account(a))
            if not kept:
                return None
            scope = attrs.evolve(scope, **{arn_field: kept})
        return scope

    def who(self) -> tuple[str, frozenset[str]]:
        """The most specific description of the callers: ``(dimension value, entities)``.

        ``("open", {})`` when nothing pins the caller (public for a wildcard principal).
        """
        if self.is_open:
            return "open", frozenset()
        for label, name in _WHO_ORDER:
            values = getattr(self, name)
            if values is not None:
                return label, values
        return "open", frozenset()


_WHO_ORDER = tuple(
    (d.value, _FIELD[d])
    for d in (
        _D_ARNS,
        _D_ACCOUNTS,
        _D_ORGS,
        _D_SOURCE_ARNS,
        _D_SOURCE_ACCOUNTS,
        _D_NETWORKS,
        _D_IPS,
    )
)
"""(label, Scope attribute), most specific first (the order of :meth:`Scope.who`)."""


def arn_account(arn: str) -> str:
    """The account field of an ARN (``""`` when it has none or is not an ARN)."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


class Outcome(enum.Enum):
    """What one condition does to an ``Allow`` statement's audience."""

    NONE = "none"
    """Does not restrict who the caller is."""
    RESTRICT = "restrict"
    """Pins the caller (see the accompanying :class:`Scope`)."""
    IMPOSSIBLE = "impossible"
    """No real request can satisfy it: the statement grants nothing."""


_O_NONE = Outcome.NONE
_O_RESTRICT = Outcome.RESTRICT
_O_IMPOSSIBLE = Outcome.IMPOSSIBLE


_UNBOUNDED = object()
_IMPOSSIBLE = object()


def _literal(value: str, version: str) -> tuple[str, bool, bool]:
    """``(text, wildcard, variable)`` for a condition value under the policy ``version``.

    In 2012-10-17 ``${...}`` is a policy variable (``${*}``, ``${?}``, ``${$}`` are escapes for a
    literal character); in 2008-10-17 it is plain text.
    """
    if version != "2012-10-17" or "${" not in value:
        return value, has_wildcard(value), False
    variable = bool(_VARIABLE_RE.search(value))
    bare = value
    for esc, _ in _ESCAPES:
        bare = bare.replace(esc, "")
    text = value
    for esc, char in _ESCAPES:
        text = text.replace(esc, char)
    return text, has_wildcard(_VARIABLE_RE.sub("", bare)), variable


def _value_entity(key: str, dim: Dimension, value: str, globbing: bool, version: str) -> object:
    """One condition value -> the entity it pins, ``_UNBOUNDED`` or ``_IMPOSSIBLE``."""
    text, wild, variable = _literal(value, version)
    if dim is _D_IPS:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return _IMPOSSIBLE
        return _UNBOUNDED if net.prefixlen == 0 else str(net)
    if key in _ARN_KEYS:
        return _arn_entity(key, text, wild and globbing, variable, wild and not globbing)
    if dim is _D_ORGS and not variable:
        # aws:PrincipalOrgPaths "o-abc/r-xy/ou-.../*": only the organization segment matters.
        org = text.split("/", 1)[0]
        if has_wildcard(org):
            return _UNBOUNDED if globbing else _IMPOSSIBLE
        return org or _IMPOSSIBLE
    if variable or (wild and globbing):
        # A variable such as ${aws:PrincipalAccount} always equals the caller's own value; a
        # glob such as "o-*" or "*" matches whoever asks.
        return _UNBOUNDED
    if wild:
        return _IMPOSSIBLE  # a literal '*' under StringEquals: no request carries that text
    if dim in (_D_ACCOUNTS, _D_SOURCE_ACCOUNTS):
        return text if is_account_id(text) else _IMPOSSIBLE
    return text


def _arn_entity(key: str, text: str, glob: bool, variable: bool, literal_star: bool) -> object:
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0].lower() != "arn":
        if glob and text.strip("*") == "":
            return _UNBOUNDED
        return _IMPOSSIBLE if not variable else _UNBOUNDED
    account = parts[4]
    if "${" in account and variable:
        return _UNBOUNDED
    if glob and has_wildcard(account):
        return _UNBOUNDED
    if literal_star:
        return _IMPOSSIBLE  # ARNs never contain '*': StringEquals on one never matches
    if not account:
        if key == "aws:principalarn":
            return _IMPOSSIBLE
        # An S3 bucket or Route 53 zone ARN has no account: pinned only if fully specific.
        return _UNBOUNDED if (glob or variable) else text
    if not is_account_id(account):
        return _IMPOSSIBLE
    if key == "aws:principalarn" and parts[5] == "root" and parts[2] == "iam":
        return ("account", account)
    return text


def _entities(cond: Condition, dim: Dimension, globbing: bool, version: str) -> Scope | object:
    """The scope the condition's values pin (ORed), or ``_UNBOUNDED``/``_IMPOSSIBLE``."""
    found: dict[Dimension, set[str]] = {}
    for value in cond.values:
        ent = _value_entity(cond.key_lower, dim, value, globbing, version)
        if ent is _UNBOUNDED:
            return _UNBOUNDED
        if ent is _IMPOSSIBLE:
            continue
        if isinstance(ent, tuple):  # aws:PrincipalArn naming an account root
            found.setdefault(_D_ACCOUNTS, set()).add(ent[1])
        else:
            assert isinstance(ent, str)
            found.setdefault(dim, set()).add(ent)
    if not found:
        return _IMPOSSIBLE
    if len(found) > 1:
        # aws:PrincipalArn listing both roots and roles: the roles' accounts widen to accounts.
        accounts = found.get(_D_ACCOUNTS, set()) | {
            arn_account(a) for a in found.get(_D_ARNS, set())
        }
        return Scope(accounts=frozenset(accounts))
    ((d, vals),) = found.items()
    return Scope(**{_FIELD[d]: frozenset(vals)})


def _absent_passes(cond: Condition) -> bool:
    """Whether the condition is true when its key is absent from the request."""
    if cond.qualifier == "ForAllValues":
        return True
    return cond.if_exists and cond.key_lower not in ALWAYS_PRESENT_KEYS


_OUTCOMES: dict[tuple[Condition, str], tuple[Outcome, Scope | None]] = {}


def allow_outcome(cond: Condition, version: str) -> tuple[Outcome, Scope | None]:
    """What ``cond`` does to an ``Allow`` statement's audience."""
    # Estates repeat their conditions (the same kms:CallerAccount/kms:ViaService pairs on every
    # key); the outcome is a pure function of the immutable condition, so it is computed once.
    memo = (cond, version)
    hit = _OUTCOMES.get(memo)
    if hit is None:
        hit = _allow_outcome(cond, version)
        if len(_OUTCOMES) >= 4096:
            _OUTCOMES.clear()
        _OUTCOMES[memo] = hit
    return hit


def _allow_outcome(cond: Condition, version: str) -> tuple[Outcome, Scope | None]:
    key = cond.key_lower
    dim = _KEY_DIMENSION.get(key)
    base = cond.base
    if dim is not None:
        positive = base in (_POSITIVE_LITERAL | _POSITIVE_GLOB) or (
            base == "IpAddress" and dim is _D_IPS
        )
        if not positive or _absent_passes(cond):
            return _O_NONE, None
        if base == "IpAddress" and dim is not _D_IPS:
            return _O_NONE, None
        if dim is _D_IPS and base != "IpAddress":
            return _O_NONE, None
        ent = _entities(cond, dim, base in _POSITIVE_GLOB or base == "IpAddress", version)
        if ent is _UNBOUNDED:
            return _O_NONE, None
        if ent is _IMPOSSIBLE:
            return _O_IMPOSSIBLE, None
        assert isinstance(ent, Scope)
        return _O_RESTRICT, ent
    if key in _AWS_SET_KEYS and base in _POSITIVE_LITERAL and not _absent_passes(cond):
        texts = [_literal(v, version) for v in cond.values]
        if all(wild and not variable for _, wild, variable in texts):
            return _O_IMPOSSIBLE, None
    return _O_NONE, None


_CAPS: dict[tuple[Condition, str], Scope | bool | None] = {}


def deny_cap(cond: Condition, version: str) -> Scope | bool | None:
    """For a ``Deny``: the scope its negated condition confines callers to.

    Returns a :class:`Scope` (everyone outside it is denied; a scope with an empty set denies
    everyone), ``True`` when the condition never lets the Deny apply (``StringNotLike
    kms:CallerAccount "*"``), or ``None`` when the condition is not such a cap.
    """
    memo = (cond, version)  # a pure function of immutable inputs, as allow_outcome
    if memo in _CAPS:
        return _CAPS[memo]
    cap = _deny_cap(cond, version)
    if len(_CAPS) >= 4096:
        _CAPS.clear()
    _CAPS[memo] = cap
    return cap


def _deny_cap(cond: Condition, version: str) -> Scope | bool | None:
    key = cond.key_lower
    dim = _KEY_DIMENSION.get(key)
    if dim is None or cond.qualifier is not None:
        return None
    if cond.if_exists and key not in ALWAYS_PRESENT_KEYS:
        return None  # callers without the key escape the Deny
    if dim is _D_IPS:
        if cond.base != "NotIpAddress":
            return None
        globbing = True
    elif cond.base in _NEGATED:
        globbing = _NEGATED[cond.base]
    else:
        return None
    ent = _entities(cond, dim, globbing, version)
    if ent is _UNBOUNDED:
        return True
    if ent is _IMPOSSIBLE:
        return Scope(**{_FIELD[dim]: frozenset()})
    assert isinstance(ent, Scope)
    return ent


def is_service_exemption(cond: Condition) -> bool:
    """``Bool aws:PrincipalIsAWSService false`` in a Deny: the Deny spares AWS services only."""
    return (
        cond.key_lower == "aws:principalisawsservice"
        and cond.base == "Bool"
        and cond.qualifier is None
        and cond.values == ("false",)
    )


def principal_matches_arns(value: str, patterns: frozenset[str]) -> bool:
    """Whether a principal ARN matches one of the ``aws:PrincipalArn`` patterns."""
    return any(glob_match(p, value, ignore_case=False) for p in patterns)
