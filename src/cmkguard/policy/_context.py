"""The request context: who can call, and what each condition key holds for that caller.

A caller is a `Caller` (an IAM principal of one partition and account - its root, a
user, a role session, a federated user - or an AWS service principal); for each caller every
condition key has a `VarSpec`: always present, never present or maybe, with a fixed
value or a value format (key-policy-semantics.md, "Revision 2": the request context).
`solve_var` finds a value of one key satisfying a set of predicates (exactly: patterns
go through the automaton solver, numbers, dates and addresses through the finitely many
intervals their constants cut), or proves there is none.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import attrs

from cmkguard.policy._glob import Pattern
from cmkguard.policy._predicates import (
    Env,
    Pred,
    element_matches,
    holds,
    parse_date,
    parse_number,
    patterns_of,
)
from cmkguard.policy._solver import (
    ANY,
    DIGITS,
    LOWER_ALNUM,
    NAME,
    PATH,
    UNDECIDED,
    UPPER_ALNUM,
    Format,
    Slot,
    literal_format,
    solve,
)

__all__ = [
    "ABSENT_TOKEN",
    "SESSION_KEY",
    "Caller",
    "Setting",
    "Solved",
    "VarSpec",
    "caller_env",
    "solve_var",
    "spec_for",
]

SESSION_KEY = "cmkguard:session"
"""A pseudo key: the role-session name of a role caller (what a session principal names)."""
ABSENT_TOKEN = "\x01"
"""The value of a policy variable whose key the request lacks: it matches nothing."""

MULTIVALUED = frozenset(
    {
        "aws:principalorgpaths",
        "aws:calledvia",
        "aws:tagkeys",
        "aws:principalservicenameslist",
        "kms:encryptioncontextkeys",
        "kms:grantoperations",
        "kms:resourcealiases",
        "aws:sourceorgpaths",
        "aws:resourceorgpaths",
    }
)
BOOLEAN_KEYS = frozenset(
    {
        "aws:securetransport",
        "aws:principalisawsservice",
        "aws:viaawsservice",
        "aws:multifactorauthpresent",
        "kms:grantisforawsresource",
        "kms:bypasspolicylockoutsafetycheck",
        "kms:reencryptonsamekey",
        "kms:multiregion",
    }
)
_IP_KEYS = frozenset({"aws:sourceip", "aws:vpcsourceip"})
_IDENTITY_KEYS = frozenset(
    {"aws:principalaccount", "kms:calleraccount", "aws:principalarn", "aws:principaltype"}
    | {"aws:userid", "aws:username", SESSION_KEY}
)
_SOURCE_KEYS = frozenset(
    {"aws:sourceaccount", "aws:sourcearn", "aws:sourceowner", "aws:sourceorgid"}
    | {"aws:sourceorgpaths"}
)
_PRINCIPAL_TYPE = {
    "root": "Account",
    "user": "User",
    "role": "AssumedRole",
    "federated-user": "FederatedUser",
}
_IAM_KINDS = ("root", "user", "role", "federated-user")


@attrs.frozen
class Setting:
    """What the analysis knows about the key: its account, partition, organization, and now."""

    key_account: str
    key_partition: str = "aws"
    org_id: str | None = None
    now: float = attrs.field(factory=lambda: datetime.now(UTC).timestamp())


@attrs.frozen(cache_hash=True)
class Caller:
    """One class of callers.

    `kind` is `root`, `user`, `role` (a session of a role), `federated-user`,
    `service` or `web-identity`. IAM callers have a `partition` and `account`
    (`fresh`: an account the policy never mentions, standing for all of them) and `in_org`
    (whether the account is in an organization; `org` its id when known). Services and web
    identities have a `name`.
    """

    kind: str
    partition: str | None = None
    account: str | None = None
    fresh: bool = False
    in_org: bool = False
    org: str | None = None
    name: str | None = None

    @property
    def is_iam(self) -> bool:
        """Whether the caller is an IAM principal (not a service or web identity)."""
        return self.kind in _IAM_KINDS


@attrs.frozen
class VarSpec:
    """One key for one caller: presence (`always`/`never`/`maybe`) and its values."""

    presence: str
    fixed: str | None = None
    fmt: Format | None = None
    choices: tuple[str, ...] | None = None
    multi: bool = False
    kind: str = "string"
    lower_bound: float | None = None


_NEVER = VarSpec("never")
_SERVICE_NAME = Format(
    [(LOWER_ALNUM | {"-", "."}, 1, 128)] + [(frozenset((c,)), 1, 1) for c in ".amazonaws.com"]
)
_FREE = VarSpec("maybe")
_BOOL = ("true", "false")


@functools.lru_cache(maxsize=4096)
def _fmt(*parts: str | Slot) -> Format:
    """The format of `parts` (remembered: a format keeps the transitions its searches made)."""
    slots: list[Slot] = []
    for part in parts:
        if isinstance(part, str):
            slots.extend((frozenset((c,)), 1, 1) for c in part)
        else:
            slots.append(part)
    return Format(slots)


def _principal_arn_format(caller: Caller) -> Format:
    head = f"arn:{caller.partition}:"
    if caller.kind == "federated-user":
        return _fmt(head, f"sts::{caller.account}:federated-user/", (NAME, 2, 64))
    what = "user" if caller.kind == "user" else "role"
    # <path><name>: the path is '/' or '/.../' (any printable character, ':' included).
    return _fmt(head, f"iam::{caller.account}:{what}/", (PATH, 0, 512), (NAME, 1, 64))


def _identity_spec(caller: Caller, key: str) -> VarSpec:
    if not caller.is_iam:
        return _NEVER
    account = caller.account or ""
    if key in ("aws:principalaccount", "kms:calleraccount"):
        return VarSpec("always", fixed=account)
    if key == "aws:principaltype":
        return VarSpec("always", fixed=_PRINCIPAL_TYPE[caller.kind])
    if key == "aws:principalarn":
        if caller.kind == "root":
            return VarSpec("always", fixed=f"arn:{caller.partition}:iam::{account}:root")
        return VarSpec("always", fmt=_principal_arn_format(caller))
    if key == "aws:userid":
        if caller.kind == "root":
            return VarSpec("always", fixed=account)
        if caller.kind == "user":
            return VarSpec("always", fmt=_fmt("AIDA", (UPPER_ALNUM, 16, 124)))
        if caller.kind == "role":
            return VarSpec("always", fmt=_fmt("AROA", (UPPER_ALNUM, 16, 124), ":", (NAME, 2, 64)))
        return VarSpec("always", fmt=_fmt(account, ":", (NAME, 2, 32)))
    if key == "aws:username":
        return VarSpec("always", fmt=_fmt((NAME, 1, 64))) if caller.kind == "user" else _NEVER
    if key == SESSION_KEY:
        return VarSpec("always", fmt=_fmt((NAME, 2, 64))) if caller.kind == "role" else _NEVER
    return _FREE


def _org_spec(caller: Caller, key: str) -> VarSpec:
    if not caller.is_iam or not caller.in_org:
        return _NEVER
    if key == "aws:principalorgid":
        if caller.org is not None:
            return VarSpec("always", fixed=caller.org)
        return VarSpec("always", fmt=_fmt("o-", (LOWER_ALNUM, 1, 32)))
    head: tuple[str | Slot, ...] = (
        (caller.org,) if caller.org is not None else ("o-", (LOWER_ALNUM, 1, 32))
    )
    return VarSpec("always", multi=True, fmt=_fmt(*head, "/", (PATH, 0, 512)))


def spec_for(caller: Caller, key: str, setting: Setting) -> VarSpec:
    """The `VarSpec` of `key` (lower case) for `caller`."""
    service = caller.kind == "service"
    if key in _IDENTITY_KEYS:
        return _identity_spec(caller, key)
    if key in ("aws:principalorgid", "aws:principalorgpaths"):
        return _org_spec(caller, key)
    if key == "aws:principalisawsservice":
        return VarSpec("always", fixed="true" if service else "false")
    if key == "aws:principalservicename":
        return VarSpec("always", fixed=caller.name) if service else _NEVER
    if key == "aws:principalservicenameslist":
        return VarSpec("always", multi=True, fixed=caller.name) if service else _NEVER
    if key == "aws:resourceaccount":
        return VarSpec("always", fixed=setting.key_account)
    if key == "aws:resourceorgid" and setting.org_id is not None:
        return VarSpec("always", fixed=setting.org_id)
    if key == "aws:currenttime":
        return VarSpec("always", kind="date", lower_bound=setting.now)
    if key == "aws:epochtime":  # seconds since 1970: a number, and a date to date operators
        return VarSpec("always", kind="number", lower_bound=setting.now)
    if key in BOOLEAN_KEYS:
        presence = "always" if key in ("aws:securetransport", "aws:viaawsservice") else "maybe"
        return VarSpec(presence, choices=_BOOL)
    if key in _SOURCE_KEYS:
        if not service:
            return _NEVER
        if key in ("aws:sourceaccount", "aws:sourceowner"):
            return VarSpec("maybe", fmt=_fmt((DIGITS, 12, 12)))
        return VarSpec("maybe", multi=key.endswith("paths"))
    if key in ("kms:viaservice", "aws:calledvia", "aws:calledviafirst", "aws:calledvialast"):
        # A service endpoint name: AWS sets it, so it never holds '*' or other odd text.
        return VarSpec("maybe", multi=key == "aws:calledvia", fmt=_SERVICE_NAME)
    if key == "aws:sourcevpc":
        return VarSpec("maybe", fmt=_fmt("vpc-", (LOWER_ALNUM, 1, 32)))
    if key == "aws:sourcevpce":
        return VarSpec("maybe", fmt=_fmt("vpce-", (LOWER_ALNUM, 1, 32)))
    if key in _IP_KEYS:
        return VarSpec("maybe", kind="ip")
    if key.startswith("aws:principaltag/") and service:
        return _NEVER
    return VarSpec("maybe", multi=key in MULTIVALUED)


def caller_env(caller: Caller, setting: Setting, keys: Iterable[str]) -> dict[str, str]:
    """The values policy variables resolve to for `caller`: fixed values, and
    `ABSENT_TOKEN` for keys the caller's requests never carry."""
    env: dict[str, str] = {}
    for key in keys:
        spec = spec_for(caller, key, setting)
        # A key the caller's requests lack stays unresolved (it could be anything): the
        # safe side, as IAM's own handling of a missing variable differs between services.
        if spec.fixed is not None and not spec.multi:
            env[key] = spec.fixed
    return env


Value = str | tuple[str, ...] | None


@attrs.frozen
class Solved:
    """A key's value satisfying the predicates (`value` `None`: absent), or why not."""

    ok: bool
    value: Value = None
    undecided: bool = False


_UNSAT = Solved(False)


def solve_var(
    spec: VarSpec, literals: Sequence[tuple[Pred, bool]], env: Env, variables: Iterable[str] = ()
) -> Solved:
    """A value for one key such that each `(pred, wanted)` has `holds(pred) == wanted`."""
    if spec.fixed is not None:
        value: Value = (spec.fixed,) if spec.multi else spec.fixed
        ok = all(holds(p, value, env) == want for p, want in literals)
        return Solved(True, value) if ok else _UNSAT
    if spec.presence != "always" and all(holds(p, None, env) == want for p, want in literals):
        return Solved(True, None)
    if spec.presence == "never":
        return _UNSAT
    needs: list[tuple[Pred, bool]] = []  # (pred, must the element match its values)
    exists: list[tuple[Pred, bool]] = []
    for p, want in literals:
        if p.family == "null":
            if holds(p, ("x",), env) != want:
                return _UNSAT
            continue
        # Each element's test must come out as `want`: for every element when the set
        # operator is universal (ForAllValues held, or ForAnyValue refuted), for one otherwise.
        need = (p, want != p.negated)
        if not spec.multi or (p.qualifier == "ForAllValues") == want:
            needs.append(need)
        else:
            exists.append(need)
    if not spec.multi:
        return _element(spec, needs, env)
    if not exists:
        return _as_set(_element(spec, needs, env))
    elements: list[str] = []
    for e in exists:
        got = _element(spec, [*needs, e], env)
        if not got.ok:
            return _UNSAT
        if got.undecided:
            return got  # past the work bound: the safe side (a value may exist), undecided
        assert isinstance(got.value, str)
        if got.value not in elements:
            elements.append(got.value)
    return Solved(True, tuple(elements))


def _as_set(s: Solved) -> Solved:
    if not s.ok or not isinstance(s.value, str):
        return s
    return Solved(True, (s.value,), s.undecided)


def _element(spec: VarSpec, needs: Sequence[tuple[Pred, bool]], env: Env) -> Solved:
    """One present element such that each pred's match is as wanted."""
    typed = [(p, m) for p, m in needs if p.family != "string"]
    if spec.choices is not None or spec.kind != "string" or typed:
        for candidate in _candidates(spec, needs, env):
            # A value the key cannot hold never matches (a number is no ARN or org id).
            if spec.fmt is not None and not spec.fmt.matches(candidate):
                continue
            if all(element_matches(p, candidate, env) == m for p, m in needs):
                return Solved(True, candidate)
        return _UNSAT
    clauses: list[tuple[Pattern, ...]] = []
    forbidden: list[Pattern] = []
    for p, must in needs:
        pats = patterns_of(p, env)
        if must:
            clauses.append(pats)
        else:
            forbidden.extend(pats)
    fmt = spec.fmt or _FREE_FORMAT
    got = solve(fmt, clauses, forbidden)
    if got is UNDECIDED:
        return Solved(True, None, undecided=True)
    return _UNSAT if got is None else Solved(True, got)


_FREE_FORMAT = Format([(ANY, 1, 1 << 30)])


def _candidates(spec: VarSpec, needs: Sequence[tuple[Pred, bool]], env: Env) -> list[str]:
    """Values that cover every interval the predicates' constants cut (plus string witnesses)."""
    if spec.choices is not None:
        return list(spec.choices)
    out: list[str] = []
    ips = [v for p, _ in needs if p.family == "ip" for v in p.values]
    if spec.kind == "ip" or ips:
        out.extend(_ip_candidates(ips))
    numbers: list[float] = []
    for p, _ in needs:
        parse = parse_date if p.family == "date" else parse_number
        if p.family in ("number", "date"):
            numbers.extend(n for n in (parse(v) for v in p.values) if n is not None)
    if spec.kind in ("date", "number"):
        # A string operator on a time key compares its text: each such value that is a time
        # still to come can be the request's (written as AWS writes the time).
        for p, _ in needs:
            if p.family == "string":
                numbers.extend(n for n in (parse_date(v) for v in p.values) if n is not None)
    if spec.kind in ("date", "number") or numbers:
        out.extend(_number_candidates(numbers, spec.lower_bound, spec.kind == "date"))
        width = _digit_width(spec.fmt)
        if width:  # a fixed-width digit key (a 12-digit account id): the same points, padded
            out.extend(_padded(numbers, width))
    strings = [(p, m) for p, m in needs if p.family == "string"]
    if strings and spec.kind == "string":
        got = _element(attrs.evolve(spec, choices=None), strings, env)
        if got.ok and isinstance(got.value, str):
            out.append(got.value)
    return out


def _digit_width(fmt: Format | None) -> int:
    """The length of a format made only of digits at a fixed length (else 0)."""
    if fmt is None or not fmt.slots:
        return 0
    width = 0
    for chars, lo, hi in fmt.slots:
        if lo != hi or not chars <= DIGITS:
            return 0
        width += lo
    return width


def _padded(values: Sequence[float], width: int) -> list[str]:
    """Whole numbers of `width` digits on every side of each value (zero-padded)."""
    top = 10**width - 1
    points = {0, top}
    for v in values:
        for n in (math.floor(v) - 1, math.floor(v), math.ceil(v), math.ceil(v) + 1):
            points.add(min(max(n, 0), top))
    return [str(n).zfill(width) for n in sorted(points)]


def _ip_candidates(cidrs: Sequence[str]) -> list[str]:
    points: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = {
        ipaddress.ip_address("203.0.113.9"),
        ipaddress.ip_address("0.0.0.0"),
        ipaddress.ip_address("2001:db8::9"),
        ipaddress.ip_address("::"),
    }
    for text in cidrs:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        points.add(net.network_address)
        top = int(net.broadcast_address) + 1
        if top < (1 << net.max_prefixlen):
            points.add(
                ipaddress.ip_address(top) if net.version == 4 else ipaddress.IPv6Address(top)
            )
    return [str(p) for p in sorted(points, key=lambda a: (a.version, int(a)))]


def _number_candidates(values: Sequence[float], lower: float | None, dates: bool) -> list[str]:
    marks = sorted(set(values) | ({lower} if lower is not None else set()))
    points = set(marks)
    if marks:
        points.add(marks[0] - 1)
        points.add(marks[-1] + 1)
        points.update((a + b) / 2 for a, b in itertools.pairwise(marks))
    else:
        points.add(0.0)
    if lower is not None:
        points = {p for p in points if p >= lower}
    out = []
    for p in sorted(points):
        if dates:
            out.append(
                datetime.fromtimestamp(p, UTC).isoformat().replace("+00:00", "Z")
                if 0 <= p < 253402300800
                else repr(p)
            )
        else:
            out.append(repr(int(p)) if p == int(p) else repr(p))
    return out


def iam_kinds() -> tuple[str, ...]:
    """The kinds of IAM callers."""
    return _IAM_KINDS


def literal_value_format(text: str) -> Format:
    """The format of exactly `text` (for keys whose value is known)."""
    return literal_format(text)
