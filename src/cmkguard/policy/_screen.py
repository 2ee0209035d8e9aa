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
from cmkguard.policy._glob import expand_action
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
# Identity keys present in every signed request from an IAM caller and equal to the caller's own
# account, ARN or organization (absent only for service principals and callers outside any
# organization, where a positive operator is false: the statement gives them nothing).
_PIN_KEYS = frozenset(
    {"kms:calleraccount", "aws:principalaccount", "aws:principalarn", "aws:principalorgid"}
)
# Positive operators that compare values literally (no IfExists, no set qualifier: those are
# true when the key is absent or empty). StringLike/ArnLike/ArnEquals expand wildcards, so they
# count only when no value holds `*` or `?`, which the value check below enforces for all.
_PIN_OPERATORS = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"}
)
_ACCOUNT_KEYS = frozenset({"kms:calleraccount", "aws:principalaccount"})
_ALWAYS = Applies.ALWAYS
_NEVER = Applies.NEVER
_ALLOW = Effect.ALLOW


def _pins(c: Condition) -> bool:
    """Whether `c` alone confines the statement to finitely many accounts, ARNs or orgs.

    Exact: the operator is a positive literal comparison on a key that holds the caller's
    identity, so a caller matches only if its account, ARN or org equals one of the written
    values (none at all if a value cannot occur): a bounded set, never the public. Values with
    a wildcard or a policy variable are left to the engine (`${aws:PrincipalAccount}` is the
    caller itself, so it pins nothing).
    """
    if c.qualifier is not None or c.if_exists or c.operator not in _PIN_OPERATORS:
        return False
    if c.key_lower not in _PIN_KEYS:
        return False
    return not any("*" in v or "?" in v or "$" in v for v in c.values)


def _bounded(st: Statement) -> bool:
    """Whether `st` can only ever admit a bounded set of callers (see the module docstring)."""
    if not st.actions or not st.resources:
        return True  # ineffective (Revision 2): it grants nothing at all
    if any(_pins(c) for c in st.conditions):
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

    False when every Allow is bounded (named principals, or a pinning condition): no Deny or
    condition can make a bounded set of callers unbounded. True when the policy has no Deny
    and an Allow gives `"*"` some kms action on this key with no condition at all: nothing can
    take that away. Anything else (an open Allow with conditions, or next to a Deny) goes to
    the engine.
    """
    has_deny = False
    open_grant = False
    undecided = False
    for st in policy.statements:
        if st.effect is not _ALLOW:
            has_deny = True
        elif not _bounded(st):
            if _everyone_unconditionally(st, key_account, key_arn):
                open_grant = True
            else:
                undecided = True
    if open_grant and not has_deny:
        return True
    if not open_grant and not undecided:
        return False
    return None


def _everyone_unconditionally(st: Statement, key_account: str, key_arn: str | None) -> bool:
    """An Allow of some kms action on this key to every caller, with no condition."""
    return (
        not st.conditions
        and not st.not_principal
        and st.has_wildcard_principal
        and _grants_kms(st) is True
        and resources_apply(st.resources, st.not_resource, key_account, key_arn) is _ALWAYS
    )


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
