"""A fast, exact pre-screen for `is_public` and `external_access` (pure).

The exact engine (`_engine.py`) builds every principal, action group and witness of a policy:
about a millisecond for a typical key policy. Most real key policies need none of it to answer
the two questions a scan asks first: the default key policy, root delegation, named roles and
services, the AWS-managed key shape ("everyone in account X, through service Y"). This module
answers those shapes from the parsed policy alone and returns `None` for everything else, which
the engine then decides. Each rule below says why it is exact under the contract
(`docs/policy.md`, "Method"); `tests/policy/test_screen.py` checks that the screen and the engine
agree whenever the screen decides, on generated policies and every corpus case.

Two facts carry every rule. A Deny only removes access and a condition only narrows a statement,
so a statement whose callers are already a bounded set stays bounded whatever the rest of the
policy says. And with no Deny at all, an unconditional Allow gives its principals exactly what it
names.
"""

from __future__ import annotations

from cmkguard.arn import is_account_id
from cmkguard.policy._engine import key_partition
from cmkguard.policy._glob import ALL_ACTIONS, expand_action
from cmkguard.policy._memo import MEMOS
from cmkguard.policy._resources import Applies, resources_apply
from cmkguard.policy.document import Condition, Effect, KeyPolicy, PrincipalKind, Statement

__all__ = ["screen_external", "screen_public"]

# Principals that name a bounded set of callers: one account (its root, or one user, role,
# session or provider of it), one service, one deleted principal, one web-identity provider.
# `"*"`, a NotPrincipal and an ARN with a wildcard are left to the engine.
_NAMED = frozenset(
    {
        PrincipalKind.ACCOUNT,
        PrincipalKind.ARN,
        PrincipalKind.SERVICE,
        PrincipalKind.UNIQUE_ID,
        PrincipalKind.FEDERATED,
    }
)
# Keys every signed request of an IAM caller carries (key-policy-semantics.md, "Revision 2":
# the request context; `_context.spec_for`): `Null: true` on one never holds for such a caller.
_ALWAYS_PRESENT = frozenset(
    {
        "kms:calleraccount",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principaltype",
        "aws:userid",
        "aws:principalisawsservice",
        "aws:resourceaccount",
        "aws:securetransport",
        "aws:currenttime",
        "aws:epochtime",
    }
)
# Identity keys whose value, for a caller of an account the policy never names ("fresh", what
# `is_public` asks about), is that caller's own account, ARN or unique id: never one of the
# policy's literal values (the literals name their accounts, so those accounts are not fresh).
_IDENTITY = frozenset(
    {"kms:calleraccount", "aws:principalaccount", "aws:principalarn", "aws:userid"}
)
_ACCOUNT_KEYS = frozenset({"kms:calleraccount", "aws:principalaccount"})
# Keys a fresh caller's request can lack, and that the plain request below does lack: a direct
# call (no service in between), outside any organization, not through a VPC, not on behalf of a
# source account. The first six also hold no fresh value when present: an organization, or a
# network, that the policy names is not unbounded (the engine's "public" goal excludes them).
_OPTIONAL = frozenset(
    {
        "aws:principalorgid",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        "aws:principalorgpaths",
        "aws:principalservicename",
        "kms:viaservice",
        "aws:calledvia",
        "aws:calledviafirst",
        "aws:calledvialast",
    }
)
# Optional keys only a service principal (or a service acting for an account) carries: a
# positive operator on one is false for every IAM caller, whatever its values.
_SERVICE_ONLY = frozenset(
    {"aws:sourceaccount", "aws:sourcearn", "aws:sourceowner", "aws:principalservicename"}
)
# Pinning keys: a positive literal comparison confines the caller to the values written.
_PIN_KEYS = _IDENTITY | {"aws:principalorgid", "aws:sourcevpc", "aws:sourcevpce"}
# Positive operators that compare values literally or as globs; their negations.
_POSITIVE = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"}
)
_NEGATED = frozenset(
    {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
)
# Operators whose `*` and `?` are wildcards (ArnEquals globs like ArnLike, as IAM does).
_GLOBBING = frozenset(
    {"StringLike", "ArnEquals", "ArnLike", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
)
_ALWAYS = Applies.ALWAYS
_NEVER = Applies.NEVER
_ALLOW = Effect.ALLOW


def _literal(c: Condition, variables: bool) -> bool:
    """Whether every value of `c` is one fixed string: no wildcard under a globbing operator,
    no policy variable under version 2012-10-17 (`variables`; in 2008-10-17 `${...}` is text)."""
    globbing = c.base in _GLOBBING
    for v in c.values:
        if globbing and ("*" in v or "?" in v):
            return False
        if variables and "$" in v:
            return False
    return True


def _pins(c: Condition, variables: bool = True) -> bool:
    """Whether `c` alone keeps every fresh IAM caller out of the statement (it then gives
    nothing to an unbounded set of callers).

    Exact, rule by rule:
    - a positive literal comparison on an identity, organization or network key: a fresh
      caller's account, ARN, unique id, organization or network is none of the written values
      (a value that cannot occur for the key matches nobody). `...IfExists` changes nothing on
      an identity key, which every IAM request carries; `ForAnyValue` on a single value is
      the plain comparison. `${aws:ResourceAccount}` on an account key is the key's account;
      other variables (`${aws:PrincipalAccount}` is the caller itself) are left to the engine;
    - a positive operator on a key only service requests carry (`aws:SourceAccount`,
      `aws:SourceArn`, `aws:SourceOwner`, `aws:PrincipalServiceName`): false for every IAM
      caller, whatever the values; so is `Bool aws:PrincipalIsAWSService "true"`;
    - `Null: "true"` on a key every IAM request carries.
    """
    key = c.key_lower
    if c.base == "Null":
        return c.values == ("true",) and key in _ALWAYS_PRESENT and c.qualifier is None
    if c.base == "Bool":
        return (
            key == "aws:principalisawsservice"
            and c.values == ("true",)
            and not c.if_exists
            and c.qualifier is None
        )
    if c.base not in _POSITIVE or c.qualifier == "ForAllValues":
        return False
    if key in _SERVICE_ONLY:
        return not c.if_exists
    if key not in _PIN_KEYS or (c.if_exists and key not in _IDENTITY):
        return False
    if variables and key in _ACCOUNT_KEYS and c.values == ("${aws:ResourceAccount}",):
        return True
    return _literal(c, variables)


def _bounded(st: Statement, variables: bool = True) -> bool:
    """Whether `st` can only ever admit a bounded set of callers (see the module docstring)."""
    if not st.actions or not st.resources:
        return True  # ineffective (Revision 2): it grants nothing at all
    if any(_pins(c, variables) for c in st.conditions):
        return True  # conditions are ANDed: one pinning condition bounds the statement
    if st.not_principal:
        return False  # everyone except the listed: unbounded
    return all(p.kind in _NAMED and not p.has_wildcard for p in st.principals)


_GRANTS_KMS: dict[str, bool | None] = MEMOS.table()


def _action_grants_kms(action: str) -> bool | None:
    if expand_action(action):
        return True  # a modelled kms action, or a literal kms action the model does not know
    if action.lower().startswith("kms:"):
        return None  # a kms pattern matching no modelled action may match a newer API
    return False  # another service's action: it grants no kms action


def _grants_kms(st: Statement) -> bool | None:
    """Whether `st`'s `Action` list names some kms action; `None`: left to the engine (a
    `kms:` pattern such as `kms:Decrypt?` matching no modelled action, and every NotAction)."""
    if st.not_action:
        return None
    answer: bool | None = False
    for action in st.actions:
        hit = _GRANTS_KMS.get(action, _UNSEEN)
        if hit is _UNSEEN:
            hit = _action_grants_kms(action)
            if len(_GRANTS_KMS) < 4096:
                _GRANTS_KMS[action] = hit
        if hit:
            return True
        if hit is None:
            answer = None
    return answer


_UNSEEN = object()


def screen_public(policy: KeyPolicy, key_account: str, key_arn: str | None) -> bool | None:
    """`is_public` when one of the screened shapes decides it, else `None`.

    False when every Allow is bounded (named principals, or a pinning condition: no Deny or
    condition can make a bounded set of callers unbounded), or its kms actions are denied to
    every fresh caller by perimeter Denies (`_perimeter`, `_walled_off`). True when an Allow
    admits the plain request of a fresh caller (`_admits_plain`) for a kms action on this key
    that no Deny takes from it (`_survives`): that request is one of an unbounded set.
    Anything else goes to the engine.
    """
    variables = policy.effective_version == "2012-10-17"
    statements = policy.statements
    denies = [st for st in statements if st.effect is not _ALLOW]
    walls = [d for d in denies if _perimeter(d, key_account, key_arn, variables)]
    undecided = False
    for st in statements:
        if st.effect is not _ALLOW or _bounded(st, variables):
            continue
        if walls and _walled_off(st, walls):
            continue  # every kms action it gives is denied to every fresh caller
        if _grants_kms(st) is False or _misses_key(st, key_account, key_arn):
            continue  # it gives no kms action on this key: it grants nothing
        if _admits_plain(st, key_account, key_arn, variables) and _survives(
            st, denies, key_account, key_arn, variables
        ):
            return True
        undecided = True
    return None if undecided else False


# The plain request. A caller of an account the policy never names (a role session, say),
# outside any organization, calling KMS directly over TLS, not through a VPC endpoint: one of
# the unbounded set `is_public` asks about (the engine's "public" question: an unnamed account,
# no named organization, network or unique id). Its identity keys hold its own fresh values,
# `aws:SecureTransport` is "true", `aws:PrincipalIsAWSService` is "false", and the `_OPTIONAL`
# keys are absent. Every rule below asks what one condition says of this one request, so the
# conditions of a statement (ANDed) and of several statements hold or fail together for it.


def _plain_holds(c: Condition, variables: bool) -> bool:
    """Whether `c` is certainly true for the plain request (False: false or not known here)."""
    key, base = c.key_lower, c.base
    if base in ("Null", "Bool"):
        return _plain_truth(c) is True
    if key in _OPTIONAL:
        # Absent: `ForAllValues` is true on it, `ForAnyValue` false; without a qualifier a
        # negated operator is true, and a positive one only as `...IfExists`.
        if c.qualifier is not None:
            return c.qualifier == "ForAllValues"
        return base in _NEGATED or (base in _POSITIVE and c.if_exists)
    if key not in _IDENTITY or c.qualifier is not None:
        return False
    if base in _NEGATED:  # its fresh value is none of the literals, nor in an account-pinned glob
        return all(_misses_fresh(v, c.base in _GLOBBING, variables) for v in c.values)
    # `StringLike "*"` matches every value of a key the request carries.
    return base == "StringLike" and "*" in c.values


_PLAIN_BOOLS = {"aws:securetransport": True, "aws:principalisawsservice": False}
"""The plain request's Boolean keys and their values (both always present, so `...IfExists`
changes nothing on them)."""
_TRUTH = {"true": True, "false": False}


def _plain_truth(c: Condition) -> bool | None:
    """What a `Null` or `Bool` condition is for the plain request, or `None` when the screen
    does not know (a set qualifier, several values, another key or value)."""
    said = _TRUTH.get(c.values[0]) if len(c.values) == 1 else None
    if said is None or c.qualifier is not None:
        return None
    key = c.key_lower
    if c.base == "Null":  # `"true"`: the key is absent
        if key in _OPTIONAL:
            return said
        return (not said) if key in _ALWAYS_PRESENT else None
    value = _PLAIN_BOOLS.get(key)
    return None if value is None else said is value


def _misses_fresh(value: str, globbing: bool, variables: bool) -> bool:
    """Whether `value` (of an identity key) can never match a fresh caller's value: a literal,
    or a glob whose literal head names an account (`arn:aws:iam::111122223333:*`: the account
    field is fixed, and a fresh account is none the policy names)."""
    if variables and "$" in value:
        return False  # `${aws:PrincipalAccount}` is the caller itself
    if not globbing:
        return True
    cut = min((i for i in (value.find("*"), value.find("?")) if i >= 0), default=-1)
    if cut < 0:
        return True
    fields = value[:cut].split(":")
    return len(fields) >= 6 and fields[0] == "arn" and is_account_id(fields[4])


def _plain_fails(c: Condition, variables: bool) -> bool:
    """Whether `c` is certainly false for the plain request."""
    key, base = c.key_lower, c.base
    if base in ("Null", "Bool"):
        return _plain_truth(c) is False
    if base not in _POSITIVE or c.qualifier == "ForAllValues":
        return False
    if key in _OPTIONAL:
        return not c.if_exists  # a positive operator on an absent key is false
    if key not in _IDENTITY:
        return False
    return all(_misses_fresh(v, c.base in _GLOBBING, variables) for v in c.values)


def _misses_key(st: Statement, key_account: str, key_arn: str | None) -> bool:
    """Whether `st`'s Resource (or NotResource) can never name this key."""
    return resources_apply(st.resources, st.not_resource, key_account, key_arn) is _NEVER


def _covers_fresh(st: Statement) -> bool:
    """Whether `st`'s principals include every fresh caller: `"*"`, or a `NotPrincipal` that
    lists only named principals (never a fresh one)."""
    if st.not_principal:
        return all(p.kind in _NAMED and not p.has_wildcard for p in st.principals)
    return st.has_wildcard_principal


def _names_no_fresh(st: Statement) -> bool:
    """Whether `st`'s principals include no fresh caller."""
    if st.not_principal:
        return st.has_wildcard_principal  # NotPrincipal "*" exempts everyone
    return all(p.kind in _NAMED and not p.has_wildcard for p in st.principals)


def _admits_plain(st: Statement, key_account: str, key_arn: str | None, variables: bool) -> bool:
    """Whether the Allow `st` admits the plain request for some kms action on this key."""
    return (
        _covers_fresh(st)
        and all(_plain_holds(c, variables) for c in st.conditions)
        and _grants_kms(st) is True
        and resources_apply(st.resources, st.not_resource, key_account, key_arn) is _ALWAYS
    )


def _escapes(d: Statement, key_account: str, key_arn: str | None, variables: bool) -> bool:
    """Whether the Deny `d` can never apply to the plain request."""
    if not d.actions or not d.resources or _names_no_fresh(d):
        return True
    if any(_plain_fails(c, variables) for c in d.conditions):
        return True
    return resources_apply(d.resources, d.not_resource, key_account, key_arn) is _NEVER


def _survives(
    allow: Statement,
    denies: list[Statement],
    key_account: str,
    key_arn: str | None,
    variables: bool,
) -> bool:
    """Whether the plain request keeps some kms action `allow` gives it, whatever the Denies.

    Denies that cannot apply to it are skipped; the others take the modelled actions they
    name (a `kms:` pattern, `kms:*` included, may also cover unmodelled actions, so only a
    modelled action they do not match counts as kept). A NotAction on either side: not known.
    """
    live = [d for d in denies if not _escapes(d, key_account, key_arn, variables)]
    if not live:
        return True
    if allow.not_action or any(d.not_action for d in live):
        return False
    given = {a for pattern in allow.actions for a in expand_action(pattern) if a in ALL_ACTIONS}
    for d in live:
        for pattern in d.actions:
            given -= expand_action(pattern)
    return bool(given)


def _perimeter(d: Statement, key_account: str, key_arn: str | None, variables: bool) -> bool:
    """Whether the Deny `d` removes every fresh caller from the actions it names on this key.

    Exact: its principals include every fresh caller, its Resource applies to this key, and
    each of its conditions holds for every fresh caller outside the networks and
    organizations the policy names (`_fresh_holds`).
    """
    if not d.actions or not d.resources or d.not_action or not _covers_fresh(d):
        return False
    if not all(_fresh_holds(c, variables) for c in d.conditions):
        return False
    return resources_apply(d.resources, d.not_resource, key_account, key_arn) is _ALWAYS


def _walled_off(allow: Statement, walls: list[Statement]) -> bool:
    """Whether perimeter Denies (`walls`) take every kms action `allow` names.

    An action pattern is taken by a wall naming `*` or `kms:*` (every kms action, modelled or
    not), or the same pattern (the same set of actions), or, for a literal modelled action, a
    pattern matching it; another service's action gives no kms action. A NotAction is taken
    only by `*`/`kms:*`.
    """
    lowered = [frozenset(a.lower() for a in d.actions) for d in walls]
    if any("*" in names or "kms:*" in names for names in lowered):
        return True
    if allow.not_action:
        return False
    for pattern in allow.actions:
        low = pattern.lower()
        if _action_grants_kms(pattern) is False or any(low in names for names in lowered):
            continue
        if low in ALL_ACTIONS and any(low in expand_action(a) for d in walls for a in d.actions):
            continue
        return False
    return True


_FRESH_NEGATABLE = _IDENTITY | {"aws:principalorgid", "aws:sourcevpc", "aws:sourcevpce"}


def _fresh_holds(c: Condition, variables: bool) -> bool:
    """Whether `c` is true for every fresh IAM caller outside the organizations and networks
    the policy names (those the engine's "public" question is about).

    A negated literal on an identity, organization or network key: such a caller's value is
    none of the written ones, or absent (a negated operator, `...IfExists` or not, is true on
    an absent key). `Bool aws:PrincipalIsAWSService "false"`: every IAM request says so.
    `StringLike "*"` on an identity key: every IAM request carries it.
    """
    key, base = c.key_lower, c.base
    if c.qualifier is not None:
        return False
    if base == "Bool":
        return key == "aws:principalisawsservice" and c.values == ("false",)
    if base in _NEGATED and key in _FRESH_NEGATABLE:
        return all(_misses_fresh(v, base in _GLOBBING, variables) for v in c.values)
    return key in _IDENTITY and base == "StringLike" and "*" in c.values


def screen_external(
    policy: KeyPolicy,
    key_account: str,
    org_id: str | None,
    trusted: frozenset[str],
    key_arn: str | None,
) -> frozenset[str] | None:
    """`external_access` when the policy is of the plain shape decided here, else `None`.

    The plain shape: no Deny; every principal in the key's partition; every effective Allow
    either names its principals with no condition (then it gives them exactly what it names),
    or is pinned to the key account by `kms:CallerAccount`/`aws:PrincipalAccount` (then it
    gives nothing outside it, whatever its other conditions). The external entities are then
    the named principals outside the key account, as the engine writes them: an account as
    its id, any other principal as written (`org_id` and `trusted` change no entity here:
    trusted ones are listed too).
    """
    del org_id, trusted  # listed for the engine's signature; neither changes this shape
    partition = key_partition(policy, key_account, key_arn)
    if not _one_partition(policy, partition):
        return None
    found: set[str] = set()
    for st in policy.statements:
        if st.effect is not _ALLOW:
            return None
        if not st.actions or not st.resources:
            continue  # ineffective: grants nothing
        if st.conditions:
            if not any(_pins_key_account(c, key_account) for c in st.conditions):
                return None
            continue
        if st.not_principal or not _named_plainly(st):
            return None
        grants = _grants_kms(st)
        if grants is None:
            return None
        if not grants:
            continue
        applies = resources_apply(st.resources, st.not_resource, key_account, key_arn)
        if applies is _NEVER:
            continue
        if applies is not _ALWAYS:
            return None
        for p in st.principals:
            if p.kind is PrincipalKind.SERVICE:
                continue  # services are never listed
            if p.account is not None and p.account != key_account:
                found.add(p.account if p.kind is PrincipalKind.ACCOUNT else p.value)
    return frozenset(found)


def _pins_key_account(c: Condition, key_account: str) -> bool:
    """A pinning condition on the caller's account whose every value is the key account."""
    return (
        _pins(c)
        and not c.if_exists
        and c.key_lower in _ACCOUNT_KEYS
        and all(v == key_account for v in c.values)
        and is_account_id(key_account)
    )


def _one_partition(policy: KeyPolicy, partition: str) -> bool:
    """Whether every principal ARN of the policy is in the key's partition.

    The engine's callers live in the partitions the policy names; with one partition only,
    "the key account" is one account and not also its namesake in another partition.
    """
    for st in policy.statements:
        for p in st.principals:
            if p.value.startswith("arn:") and p.value.split(":", 2)[1] != partition:
                return False
    return True


def _named_plainly(st: Statement) -> bool:
    """Account roots, users, roles and services only."""
    for p in st.principals:
        if p.kind is PrincipalKind.SERVICE:
            continue
        if p.kind not in (PrincipalKind.ACCOUNT, PrincipalKind.ARN) or p.has_wildcard:
            return False
    return True
