"""Who gets what: one `GrantResult` per Allow statement, principal and action group.

For a named principal the question is whether any request of its callers gets through. For
`"*"` (and `NotPrincipal` with Allow) the questions are asked in order of severity: can a
caller of an account the policy never names, outside its organizations, networks and IP ranges
get in (public)? Only from the named ranges or networks? Which named organizations, accounts
and principals get in (cross-account)? The key's own account? AWS services?
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

import attrs

from cmkguard.errors import PolicyParseError
from cmkguard.policy._context import Caller
from cmkguard.policy._exact import (
    Compiled,
    Evaluator,
    GrantResult,
    Literal,
    PrincipalTest,
    digit_runs,
    entity_of_account,
    principal_test,
    worst,
)
from cmkguard.policy._glob import ALL_ACTIONS, CANONICAL_ACTION
from cmkguard.policy._predicates import Pred
from cmkguard.policy.document import Principal, PrincipalKind, parse_aws_principal
from cmkguard.policy.witness import AccessWitness

__all__ = ["allow_results", "evaluate_grant", "grant_principals"]

_WILDCARD = Principal("AWS", "*", PrincipalKind.WILDCARD)


def grant_principals(allow: Compiled) -> list[tuple[PrincipalTest | None, Principal]]:
    """The principals an Allow gives to: its own, or `"*"` for `NotPrincipal`."""
    st = allow.statement
    if st.not_principal:
        if any(t.kind == "any" for t in allow.tests):
            return []  # NotPrincipal "*" excludes everyone
        return [(None, _WILDCARD)]
    return [(t, t.principal) for t in allow.tests]


def allow_results(ev: Evaluator) -> list[GrantResult]:
    """Every grant of every effective Allow statement, in policy order."""
    out: list[GrantResult] = []
    for allow in ev.statements:
        if allow.is_deny or not allow.statement.actions or not allow.statement.resources:
            continue
        if allow.applies.value == "never":
            continue
        groups = ev.action_groups(allow)
        for test, principal in grant_principals(allow):
            past: list[GrantResult] | None = None
            for sig, actions in groups:
                if past is not None:
                    out.extend(_regrouped(r, actions) for r in past)
                    continue
                spent = not ev.exact
                got = evaluate_grant(ev, allow, test, principal, sig, actions)
                # Past the bound no Deny is consulted, so every other action group of this
                # principal gets the same answer: reuse it instead of asking again.
                past = got if spent else None
                out.extend(got)
    return out


def _regrouped(r: GrantResult, actions: frozenset[str]) -> GrantResult:
    """`r` (an answer taken past the bound) for another group of actions."""
    action = CANONICAL_ACTION.get(_representative(actions), _representative(actions))
    witnesses = tuple(attrs.evolve(w, action=action) for w in r.witnesses)
    return attrs.evolve(r, actions=actions, witnesses=witnesses)


def _representative(actions: Iterable[str]) -> str:
    acts = sorted(actions)
    for preferred in ("kms:decrypt", "kms:encrypt", "kms:describekey"):
        if preferred in acts:
            return preferred
    model = [a for a in acts if a in ALL_ACTIONS]
    return (model or acts)[0]


def evaluate_grant(
    ev: Evaluator,
    allow: Compiled,
    test: PrincipalTest | None,
    principal: Principal,
    sig: Sequence[int],
    actions: frozenset[str],
) -> list[GrantResult]:
    """What `allow` gives `principal` for `actions` (covered by the Denies `sig`).

    One result, except when only the exemptions of `NotPrincipal` Denies let requests
    through: then `"*"` (or a whole account) narrows to exactly those exempt principals (of
    that account), since nobody else it names gets in.
    """
    denies = ev.deny_list(sig)
    action = _representative(actions)
    whole = test is None or test.kind in ("any", "account")

    def grant() -> GrantResult:
        if test is not None and test.kind != "any":
            return _named(ev, allow, test, principal, denies, actions, action)
        return _wildcard(ev, allow, test, principal, denies, actions, action)

    if not whole or not any(d.statement.not_principal for d in denies):
        return [grant()]
    # Without its exemptions a NotPrincipal Deny without conditions denies every request, so
    # the strict pass cannot let anybody in: only its reasons are wanted, and only when no
    # exempt principal gets in either (it is then run below). Skipping it first keeps a Deny
    # exempting hundreds of roles from spending the work bound on hundreds of accounts.
    closed = any(d.statement.not_principal and not d.preds for d in denies)

    def strict_grant() -> GrantResult:
        ev.no_exemptions = True
        try:
            return grant()
        finally:
            ev.no_exemptions = False

    strict = None if closed else strict_grant()
    if strict is not None and strict.verdict == "public":
        return [strict]  # nobody an exemption lets through reaches more than the public
    exempt: dict[str, PrincipalTest] = {}
    for d in denies:
        if d.statement.not_principal:
            for t in d.tests:
                if t.kind not in ("any", "none") and _within(test, t):
                    exempt.setdefault(t.principal.value, t)
    narrowed = [
        r
        for t in exempt.values()
        for r in [_named(ev, allow, t, t.principal, denies, actions, action)]
        if r.verdict is not None
    ]
    if strict is not None and strict.verdict is not None:
        # Requests get through without any exemption (a Deny whose condition spares
        # services, say), so the grant stays `"*"`; the exempt principals still reach their
        # accounts.
        return [_joined(strict, narrowed)]
    return narrowed or [strict or strict_grant()]


def _joined(strict: GrantResult, narrowed: Sequence[GrantResult]) -> GrantResult:
    """`strict` with what the exempt principals of `narrowed` reach added to it."""
    if not narrowed:
        return strict
    verdict = worst([cast("str", strict.verdict), *(cast("str", r.verdict) for r in narrowed)])
    entities = strict.entities.union(*(r.entities for r in narrowed))
    witnesses = (*strict.witnesses, *(w for r in narrowed for w in r.witnesses))
    return attrs.evolve(strict, verdict=verdict, entities=entities, witnesses=witnesses)


def _within(outer: PrincipalTest | None, inner: PrincipalTest) -> bool:
    """Whether every caller `inner` names is one `outer` (`None`/any/an account) names."""
    if outer is None or outer.kind == "any":
        return True
    return inner.kind not in ("service", "web") and (inner.partition, inner.account) == (
        outer.partition,
        outer.account,
    )


def _named(
    ev: Evaluator,
    allow: Compiled,
    test: PrincipalTest,
    principal: Principal,
    denies: Sequence[Compiled],
    actions: frozenset[str],
    action: str,
) -> GrantResult:
    s = ev.setting
    if test.kind == "none":
        return GrantResult(allow.index, principal, actions, None, frozenset(), ())
    if test.kind in ("service", "web"):
        kind = "service" if test.kind == "service" else "web-identity"
        callers = [Caller(kind, name=principal.value)]
        own = test.kind == "service" or test.account == s.key_account
        verdict = (
            "service" if test.kind == "service" else "same-account" if own else "cross-account"
        )
        entities = frozenset() if own else frozenset({principal.value})
    else:
        assert test.partition is not None
        assert test.account is not None
        callers = [
            c
            for c in ev.callers_of(test.partition, test.account)
            if test.caller_kind is None or c.kind == test.caller_kind
        ]
        same = (test.partition, test.account) == (s.key_partition, s.key_account)
        verdict = "same-account" if same else "cross-account"
        if same:
            entities = frozenset()
        elif test.kind == "account":
            entities = frozenset({entity_of_account(test.partition, test.account, s)})
        else:
            entities = frozenset({principal.value})
    hit, blockers = ev.try_callers(allow, test, callers, denies)
    if hit is None:
        return GrantResult(
            allow.index, principal, actions, None, frozenset(), (), tuple(sorted(blockers))
        )
    caller, found = hit
    entity = next(iter(sorted(entities)), principal.value)
    w = ev.witness(entity, verdict, allow, action, caller, found)
    return GrantResult(allow.index, principal, actions, verdict, entities, (w,))


def _not_like(key: str, values: Iterable[str], label: str) -> Literal:
    return (Pred(key, "StringLike", tuple(values), label=label), False)


def _goals(ev: Evaluator, *, ip: bool, network: bool) -> list[Literal]:
    """What makes a caller unbounded: no named org, unique id, network or IP range."""
    u = ev.universe
    out: list[Literal] = []
    orgs = sorted(o for o in u.orgs)
    if orgs:
        label = "the caller is in none of the organizations the policy names"
        out.append((Pred("aws:principalorgid", "StringEquals", tuple(orgs), label=label), False))
        paths = tuple(f"{o}/*" for o in orgs)
        out.append(
            (
                Pred(
                    "aws:principalorgpaths",
                    "StringLike",
                    paths,
                    qualifier="ForAnyValue",
                    label=label,
                ),
                False,
            )
        )
    if u.userids:
        ids = sorted(u.userids)
        out.append(_not_like("aws:userid", [*ids, *(f"{i}:*" for i in ids)], "a fresh unique id"))
    if network:
        for key, values in sorted(u.networks.items()):
            if values:
                label = f"{key} outside the networks the policy names"
                out.append((Pred(key, "StringEquals", tuple(sorted(values)), label=label), False))
    if ip and u.cidrs:
        for key in ("aws:sourceip", "aws:vpcsourceip"):
            label = f"{key} outside the ranges the policy names"
            out.append((Pred(key, "IpAddress", tuple(sorted(u.cidrs)), label=label), False))
    return out


def _wildcard(
    ev: Evaluator,
    allow: Compiled,
    test: PrincipalTest | None,
    principal: Principal,
    denies: Sequence[Compiled],
    actions: frozenset[str],
    action: str,
) -> GrantResult:
    s = ev.setting
    u = ev.universe
    blockers: set[int] = set()
    witnesses: list[AccessWitness] = []
    verdicts: list[str] = []
    entities: set[str] = set()

    def ask(callers: Sequence[Caller], goal: Sequence[Literal], entity: str, verdict: str) -> bool:
        hit, blocked = ev.try_callers(allow, test, callers, denies, goal)
        blockers.update(blocked)
        if hit is None:
            return False
        caller, found = hit
        witnesses.append(ev.witness(entity, verdict, allow, action, caller, found))
        verdicts.append(verdict)
        if verdict in ("public", "cross-account"):
            entities.add(entity)
        return True

    fresh = ev.fresh_callers()
    if ask(fresh, _goals(ev, ip=True, network=True), "*", "public"):
        return GrantResult(
            allow.index, principal, actions, "public", frozenset({"*"}), tuple(witnesses)
        )
    if u.cidrs:
        ask(fresh, _goals(ev, ip=False, network=True), "*", "ip-restricted")
    if any(u.networks.values()):
        ask(fresh, _goals(ev, ip=True, network=False), "*", "network-restricted")
    for org in sorted(u.orgs):
        ask(ev.fresh_callers(org=org), _goals_without_orgs(ev), org, "cross-account")
    mentioned = _mentioned(ev, allow, denies)
    # Accounts that neither this Allow nor its Denies mention, and that no principal ARN or
    # pattern of the policy names, are alike for this grant (renaming one into another maps
    # every request of one to a request of the other, with the same outcome): the first
    # one's answer, renamed, is every other one's. This keeps a policy naming many accounts
    # linear in its statements instead of quadratic.
    alike: dict[str, tuple[str, AccessWitness | None]] = {}
    for partition, account, arns, patterns, entity in _rows_to_ask(ev, mentioned):
        if (partition, account) == (s.key_partition, s.key_account):
            ask(ev.callers_of(partition, account), (), s.key_account, "same-account")
            continue
        callers = ev.callers_of(partition, account)
        if account not in mentioned and not arns and not patterns:
            got = ask(callers, (), entity, "cross-account")
            alike[partition] = (account, witnesses[-1] if got else None)
            continue
        generic: list[Literal] = []
        if arns:
            label = "another principal"
            generic.append(
                (Pred("aws:principalarn", "StringEquals", tuple(arns), label=label), False)
            )
        if patterns:
            label = "a principal no pattern names"
            generic.append(
                (Pred("aws:principalarn", "StringLike", tuple(patterns), label=label), False)
            )
        if ask(callers, generic, entity_of_account(partition, account, s), "cross-account"):
            continue
        for pattern in patterns:
            like = (Pred("aws:principalarn", "StringLike", (pattern,), label=pattern), True)
            ask(callers, [like], pattern, "cross-account")
        for arn in arns:
            named = _principal_of(arn)
            if named is None:
                continue
            t = principal_test(named, s.key_partition)
            ask(
                [c for c in callers if t.static(c, glob=False)],
                [(q, True) for q in t.preds],
                arn,
                "cross-account",
            )
    for partition, (first, seen) in alike.items():
        if seen is None:
            continue
        for row in (_account_table(ev)[i] for i in _plain_rows(ev).get(partition, ())):
            if row[1] != first and row[1] not in mentioned:
                witnesses.append(_renamed(seen, first, row[1], row[4]))
                verdicts.append("cross-account")
                entities.add(row[4])
    services = ev.service_callers()
    first_source: tuple[str, AccessWitness | None] | None = None
    sources, source_arns = _allow_sources(ev, allow)
    for account in sources:
        if account not in mentioned and first_source is not None:
            if first_source[1] is not None:  # alike, as above
                witnesses.append(_renamed(first_source[1], first_source[0], account, account))
                verdicts.append("cross-account")
                entities.add(account)
            continue
        src = (Pred("aws:sourceaccount", "StringEquals", (account,), label="source account"), True)
        got = ask(services, [src], account, "cross-account")
        if account not in mentioned:
            first_source = (account, witnesses[-1] if got else None)
    for arn in source_arns:
        src = (Pred("aws:sourcearn", "StringLike", (arn,), label="source ARN"), True)
        ask(services, [src], arn, "cross-account")
    # AWS services get in too when a request of one escapes every Deny: a verdict of its own
    # (explain prints it beside the cross-account ones: a data perimeter that spares services).
    ask(services, (), principal.value, "service")
    verdict = worst(verdicts)
    return GrantResult(
        allow.index,
        principal,
        actions,
        verdict,
        frozenset(entities),
        tuple(witnesses),
        () if verdict else tuple(sorted(blockers)),
    )


_Row = tuple[str, str, tuple[str, ...], tuple[str, ...], str]


def _account_table(ev: Evaluator) -> list[_Row]:
    """`(partition, account, principal ARNs, ARN patterns, entity)` of every account the
    policy names, worked out once per analysis (every wildcard grant walks it)."""
    got = ev.scratch.get("accounts")
    if got is None:
        u, s = ev.universe, ev.setting
        got = ev.scratch["accounts"] = [
            (
                partition,
                account,
                tuple(sorted(u.arns.get((partition, account), ()))),
                tuple(sorted(u.arn_patterns.get((partition, account), ()))),
                entity_of_account(partition, account, s),
            )
            for partition, account in ev.accounts
        ]
    return cast("list[_Row]", got)


def _plain_rows(ev: Evaluator) -> dict[str, list[int]]:
    """Per partition, the rows (indexes into `_account_table`) of the accounts other than the
    key's that no principal ARN or pattern names: alike for a grant that does not mention them."""
    got = ev.scratch.get("plain")
    if got is None:
        s = ev.setting
        plain: dict[str, list[int]] = {}
        for i, row in enumerate(_account_table(ev)):
            if not row[2] and not row[3] and row[:2] != (s.key_partition, s.key_account):
                plain.setdefault(row[0], []).append(i)
        got = ev.scratch["plain"] = plain
    return cast("dict[str, list[int]]", got)


def _rows_to_ask(ev: Evaluator, mentioned: frozenset[str]) -> list[_Row]:
    """The accounts one wildcard grant asks about, in table order: the key's, those named by a
    principal ARN or pattern, those the grant's statements mention, and the first of the
    others per partition (the rest are alike: its answer renamed, see `_wildcard`)."""
    table = _account_table(ev)
    plain = _plain_rows(ev)
    special = ev.scratch.get("special")
    if special is None:
        ordinary = {i for rows in plain.values() for i in rows}
        special = ev.scratch["special"] = [i for i in range(len(table)) if i not in ordinary]
    picked = set(cast("list[int]", special))
    by_account = _rows_by_account(ev)
    for account in mentioned:
        picked.update(by_account.get(account, ()))
    for rows in plain.values():
        for i in rows:
            if table[i][1] not in mentioned:
                picked.add(i)
                break
    return [table[i] for i in sorted(picked)]


def _rows_by_account(ev: Evaluator) -> dict[str, list[int]]:
    """Each account's rows in `_account_table` (one per partition the policy names)."""
    got = ev.scratch.get("by_account")
    if got is None:
        index: dict[str, list[int]] = {}
        for i, row in enumerate(_account_table(ev)):
            index.setdefault(row[1], []).append(i)
        got = ev.scratch["by_account"] = index
    return cast("dict[str, list[int]]", got)


_SOURCE_KEYS = ("aws:sourceaccount", "aws:sourceowner", "aws:sourcearn")


def _allow_sources(ev: Evaluator, allow: Compiled) -> tuple[list[str], list[str]]:
    """The external source accounts and source ARNs the Allow's own conditions name.

    A service's request on behalf of another account is that account's access only where the
    grant names the account: asking every account the policy names (a Deny's included) made
    the answer grow when a Deny merely mentioned an account (adding a Deny never adds access).
    """
    memo = ("sources", allow.index)
    got = ev.scratch.get(memo)
    if got is None:
        key = ev.setting.key_account
        accounts: set[str] = set()
        arns: set[str] = set()
        for p in allow.preds:
            if p.key not in _SOURCE_KEYS:
                continue
            for v in p.values:
                accounts.update(a for a in digit_runs(v) if a != key)
                if p.key == "aws:sourcearn" and v in ev.universe.source_arns:
                    parts = v.split(":", 5)
                    if not (len(parts) == 6 and parts[4] == key):
                        arns.add(v)
        got = ev.scratch[memo] = (sorted(accounts), sorted(arns))
    return cast("tuple[list[str], list[str]]", got)


def _mentioned(ev: Evaluator, allow: Compiled, denies: Sequence[Compiled]) -> frozenset[str]:
    """`mentioned_accounts`, from each statement's accounts worked out once per analysis.

    The key's account always counts as mentioned: `aws:ResourceAccount` and
    `${aws:ResourceAccount}` name it without writing its digits, so its namesake in another
    partition is not like the accounts the policy never names (renaming it changes the
    answer of `StringEquals aws:PrincipalAccount ${aws:ResourceAccount}`)."""
    out: set[str] = {ev.setting.key_account}
    for c in (allow, *denies):
        memo = ("mentioned", c.index)
        got = ev.scratch.get(memo)
        if got is None:
            got = ev.scratch[memo] = mentioned_accounts(c, ())
        out.update(cast("frozenset[str]", got))
    return frozenset(out)


def mentioned_accounts(allow: Compiled, denies: Sequence[Compiled]) -> frozenset[str]:
    """Every account id the statements name: in a principal, or as 12 digits in a condition
    value (an ARN, an account key, a policy variable's text)."""
    out: set[str] = set()
    for c in (allow, *denies):
        for t in c.tests:
            if t.account is not None:
                out.add(t.account)
            out.update(digit_runs(t.principal.value))
        for p in c.preds:
            for v in p.values:
                out.update(digit_runs(v))
    return frozenset(out)


def _renamed(w: AccessWitness, old: str, new: str, entity: str) -> AccessWitness:
    """`w` with account `old` renamed `new` (accounts the statements never mention)."""

    def swap(v: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        if isinstance(v, str):
            return v.replace(old, new)
        if isinstance(v, tuple):
            return tuple(x.replace(old, new) for x in v)
        return v

    return attrs.evolve(
        w,
        entity=entity,
        caller=w.caller.replace(old, new),
        account=new if w.account == old else w.account,
        context={k: swap(v) for k, v in w.context.items()},
    )


def _goals_without_orgs(ev: Evaluator) -> list[Literal]:
    return [
        g
        for g in _goals(ev, ip=False, network=False)
        if not g[0].key.startswith("aws:principalorg")
    ]


def _principal_of(arn: str) -> Principal | None:
    try:
        return parse_aws_principal(arn, "")
    except PolicyParseError:
        return None  # a condition value that is no principal ARN: matched as a pattern only
