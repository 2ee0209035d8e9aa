"""Exact evaluation of a key policy over every possible request (docs/policy.md, "Method").

The constants a policy mentions split the space of requests into finitely many classes: callers
of each account the policy names, of the key's account, and of *fresh* accounts it never names
(which stand for every other account); in each partition it names; in or out of each
organization; services. For every Allow statement, principal and group of actions (actions
alike for every Deny), `Evaluator` searches for one request that the Allow admits and no
Deny removes: each Deny must be escaped by one of its options (a condition made false, its
principal not matching, a `NotPrincipal` exemption), chosen depth first, and every choice is
checked by solving each condition key's constraints exactly (`_context.solve_var`). The
request found is the witness; when every branch fails, the Denies that closed them are the
reason.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator, Sequence

import attrs

from cmkguard.policy._context import (
    SESSION_KEY,
    Caller,
    Setting,
    Solved,
    caller_env,
    iam_kinds,
    solve_var,
    spec_for,
)
from cmkguard.policy._glob import (
    ALL_ACTIONS,
    CANONICAL_ACTION,
    compile_pattern,
    expand_action,
    glob_match,
    tokens_of,
)
from cmkguard.policy._predicates import Pred, condition_pred, holds
from cmkguard.policy._resources import Applies, resource_applies
from cmkguard.policy._solver import CURRENT_METER, Meter
from cmkguard.policy.document import (
    Effect,
    KeyPolicy,
    Principal,
    PrincipalKind,
    Statement,
    is_service_name,
)
from cmkguard.policy.witness import AccessWitness, DenyEscape

__all__ = [
    "Compiled",
    "Evaluator",
    "GrantResult",
    "PrincipalTest",
    "digit_runs",
    "entity_of_account",
    "principal_test",
    "worst",
]

_FRESH_SERVICE = "witness.example.amazonaws.com"
_NOT_DECIDED = "<not decided>"
"""A witness value the analysis did not work out (past its work bound)."""
_SEARCH_BUDGET = 4000
"""Search nodes (Deny options tried) per question before the safe answer (access) is taken."""
ANALYSIS_BUDGET = 40_000
"""Work units one analysis may spend before every further question takes the safe side
(access) and the analysis says it is not exact: one unit per transition of a witness search
(a product state times its alphabet and automata), `_NODE_COST` per Deny option tried. About
20-30 ms of CPU on a 2020s core (benchmarks/policy.py measures it)."""
_NODE_COST = 20
_OPTION_CAP = 256
_VERDICT_RANK = {
    "public": 6,
    "cross-account": 5,
    "ip-restricted": 4,
    "network-restricted": 3,
    "same-account": 2,
    "service": 1,
}
_IDENTITY_DETAIL_KEYS = frozenset(
    {"aws:principalarn", "aws:userid", "aws:principaltype", "aws:username"}
)
_ORG_KEYS = frozenset({"aws:principalorgid", "aws:principalorgpaths"})
_ACCOUNT_KEYS = ("kms:calleraccount", "aws:principalaccount")

Literal = tuple[Pred, bool]


def _eq(key: str, value: str, label: str) -> Pred:
    return Pred(key, "StringEquals", (value,), label=label)


def _like(key: str, values: tuple[str, ...], label: str) -> Pred:
    return Pred(key, "StringLike", values, label=label)


@attrs.frozen
class PrincipalTest:
    """How one principal value matches callers: a static part (partition, account, kind or
    service) and predicates on the caller's keys (`aws:PrincipalArn` for a role or user)."""

    principal: Principal
    kind: str  # any | account | iam | session | glob | service | web | none
    partition: str | None = None
    account: str | None = None
    caller_kind: str | None = None
    preds: tuple[Pred, ...] = ()

    def static(self, caller: Caller, *, glob: bool) -> bool:
        """Whether the static part matches `caller` (`glob`: wildcard ARNs count)."""
        kind = self.kind
        if kind == "any":
            return True
        if kind in ("service", "web"):
            return caller.kind == ("service" if kind == "service" else "web-identity") and (
                caller.name == self.principal.value
            )
        if kind == "none" or not caller.is_iam or (kind == "glob" and not glob):
            return False
        if caller.partition != self.partition or caller.account != self.account:
            return False
        return self.caller_kind is None or caller.kind == self.caller_kind


def _arn_parts(value: str) -> tuple[str, str, str, str]:
    _, partition, service, _, account, resource = value.split(":", 5)
    return partition, service, account, resource


def principal_test(p: Principal, key_partition: str) -> PrincipalTest:
    """The `PrincipalTest` of a parsed principal."""
    kind = p.kind
    if kind is PrincipalKind.WILDCARD:
        return PrincipalTest(p, "any")
    if kind is PrincipalKind.SERVICE:
        return PrincipalTest(p, "service")
    if kind is PrincipalKind.FEDERATED or p.principal_type == "Federated":
        return PrincipalTest(p, "web", account=p.account)
    if kind is PrincipalKind.UNIQUE_ID:
        return PrincipalTest(p, "none")
    partition, service, account, resource = _arn_parts(p.value)
    if kind is PrincipalKind.ACCOUNT:
        return PrincipalTest(p, "account", partition, account)
    label = f"Principal {p.value}"
    if p.has_wildcard:
        return PrincipalTest(
            p, "glob", partition, account, None, (_like("aws:principalarn", (p.value,), label),)
        )
    if service == "sts" and resource.startswith("assumed-role/"):
        _, role, session = resource.split("/", 2)
        head = f"arn:{partition}:iam::{account}:role/"
        preds = (
            _like("aws:principalarn", (head + role, head + "*/" + role), label),
            _eq(SESSION_KEY, session, label),
        )
        return PrincipalTest(p, "session", partition, account, "role", preds)
    caller_kind = (
        "federated-user"
        if service == "sts"
        else "user"
        if resource.startswith("user/")
        else "role"
        if resource.startswith("role/")
        else None
    )
    if caller_kind is None:
        return PrincipalTest(p, "none")
    return PrincipalTest(
        p, "iam", partition, account, caller_kind, (_eq("aws:principalarn", p.value, label),)
    )


@attrs.frozen
class Compiled:
    """A statement ready for evaluation."""

    index: int
    statement: Statement
    tests: tuple[PrincipalTest, ...]
    preds: tuple[Pred, ...]
    applies: Applies
    actions: frozenset[str]

    @property
    def is_deny(self) -> bool:
        return self.statement.effect is Effect.DENY

    def covers(self, action: str) -> bool:
        """Whether the statement's Action/NotAction covers `action` (lower case)."""
        st = self.statement
        if not st.actions:
            return False
        if action in ALL_ACTIONS:
            return action in self.actions
        return any(glob_match(a, action) for a in st.actions) != st.not_action


@attrs.frozen
class GrantResult:
    """What one Allow statement gives one of its principals for one group of actions."""

    index: int
    principal: Principal
    actions: frozenset[str]
    verdict: str | None
    entities: frozenset[str]
    witnesses: tuple[AccessWitness, ...]
    denied_by: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def effective(self) -> bool:
        return self.verdict is not None


_WILDCARD_PRINCIPAL = Principal("AWS", "*", PrincipalKind.WILDCARD)


def _is_org_id(text: str) -> bool:
    """Whether `text` can be an organization id: `o-` then lower-case letters and digits
    (an upper-case letter, a wildcard or a variable never can)."""
    rest = text[2:]
    return (
        text.startswith("o-")
        and 0 < len(rest) <= 32
        and all(c.isascii() and (c.islower() or c.isdigit()) for c in rest)
    )


_ORG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _org_part_uniform(value: str) -> bool:
    """Whether the org part of an org-key value (`o-abc`, `o-abc/r-1/*`, `o-*/*`, `*`) treats
    every org id the policy does not name alike: it names one org literally, or its first
    wildcard is a `*` that starts the org part (after at most `o-`) and is followed by a
    character no org id holds (so the star absorbs any org id whole)."""
    slash = value.find("/")
    head = value if slash < 0 else value[:slash]
    marks = [i for i in (value.find("*"), value.find("?"), value.find("${")) if i >= 0]
    first = min(marks, default=-1)
    if first < 0 or first > len(head):
        return True  # the org part is literal text
    if value[first] != "*" or not "o-".startswith(value[:first]):
        return False
    after = value[first + 1 : first + 2]
    return after not in _ORG_CHARS and after not in ("?", "$")


def _orgs_used(store: dict[str, tuple[Literal, ...]], solved: dict[str, Solved]) -> list[str]:
    """The org ids the solved values of the constrained org keys use (first seen first)."""
    out: list[str] = []
    for key in sorted(_ORG_KEYS):
        got = solved.get(key)
        if key not in store or got is None or not got.ok or got.undecided:
            continue
        values = got.value if isinstance(got.value, tuple) else (got.value,)
        for v in values:
            org = v.split("/", 1)[0] if isinstance(v, str) else None
            if org is not None and org not in out:
                out.append(org)
    return out


def digit_runs(text: str) -> Iterator[str]:
    """Every maximal run of exactly 12 digits in `text` (a linear scan, no regex)."""
    start = None
    for i, c in enumerate(text + " "):
        if c.isdigit() and c.isascii():
            if start is None:
                start = i
        elif start is not None:
            if i - start == 12:
                yield text[start:i]
            start = None


def _fill_account(pattern: str) -> str | None:
    """A 12-digit account id matching a wildcard account pattern (or `None`)."""
    fixed = sum(1 for c in pattern if c != "*")
    if fixed > 12 or any(not (c.isdigit() or c in "*?") for c in pattern):
        return None
    spare = 12 - fixed
    out = []
    for c in pattern:
        if c == "*":
            out.append("9" * spare)
            spare = 0
        else:
            out.append("7" if c == "?" else c)
    text = "".join(out)
    return text if len(text) == 12 else None


class Universe:
    """The constants of a policy: accounts, partitions, orgs, services, ARNs, networks."""

    def __init__(self, compiled: Sequence[Compiled], setting: Setting) -> None:
        self.accounts: set[str] = {setting.key_account}
        self.partitions: set[str] = {setting.key_partition}
        self.orgs: set[str] = set()
        # Whether every org id the policy does not name is alike for its org patterns.
        self.orgs_uniform = True
        self.services: set[str] = set()
        self.web: set[str] = set()
        self.arns: dict[tuple[str, str], set[str]] = {}
        self.arn_patterns: dict[tuple[str, str], set[str]] = {}
        self.source_arns: set[str] = set()
        self.userids: set[str] = set()
        self.networks: dict[str, set[str]] = {"aws:sourcevpc": set(), "aws:sourcevpce": set()}
        self.cidrs: set[str] = set()
        self.keys: set[str] = set()
        self.variables: set[str] = set()
        account_patterns: list[str] = []
        for c in compiled:
            for t in c.tests:
                self._principal(t)
            for p in c.preds:
                self.keys.add(p.key)
                for v in p.values:
                    self._value(p, v, account_patterns)
        self.fresh = self._fresh_accounts(account_patterns)
        if setting.org_id:
            self.orgs.add(setting.org_id)
        self.fresh_org = next(
            o for o in (f"o-cmkguard{n:04d}" for n in itertools.count()) if o not in self.orgs
        )

    def _principal(self, t: PrincipalTest) -> None:
        p = t.principal
        if t.kind == "service":
            self.services.add(p.value)
        elif t.kind == "web":
            self.web.add(p.value)
        elif t.partition is not None and t.account is not None:
            self.accounts.add(t.account)
            self.partitions.add(t.partition)
            if t.kind in ("iam", "session"):
                self.arns.setdefault((t.partition, t.account), set()).add(p.value)

    def _value(self, p: Pred, v: str, account_patterns: list[str]) -> None:
        if "${" in v and p.variables:
            i = v.find("${")
            while i >= 0:
                end = v.find("}", i)
                if end < 0:
                    break
                self.variables.add(v[i + 2 : end].lower())
                i = v.find("${", end)
        self.accounts.update(digit_runs(v))
        wild = "*" in v or "?" in v
        if v.startswith("arn:"):
            parts = v.split(":", 5)
            if len(parts) == 6:
                if parts[1].startswith("aws") and not ("*" in parts[1] or "?" in parts[1]):
                    self.partitions.add(parts[1])
                if "*" in parts[4] or "?" in parts[4]:
                    account_patterns.append(parts[4])
                if p.key == "aws:principalarn" and parts[4].isdigit() and "$" not in v:
                    table = self.arn_patterns if wild else self.arns
                    table.setdefault((parts[1], parts[4]), set()).add(v)
                if p.key == "aws:sourcearn" and "$" not in v:
                    self.source_arns.add(v)
        key = p.key
        if key in _ACCOUNT_KEYS and wild:
            account_patterns.append(v)
        if key in _ORG_KEYS:
            if not _org_part_uniform(v.lower() if p.base.endswith("IgnoreCase") else v):
                self.orgs_uniform = False
            org = v.split("/", 1)[0]
            if p.base.endswith("IgnoreCase"):
                org = org.lower()  # O-ABC names the organization o-abc under IgnoreCase
            if _is_org_id(org):  # other text can never be an org id: it matches nobody
                self.orgs.add(org)
        elif key == "aws:principalservicename" and not wild:
            name = v.lower() if p.base.endswith("IgnoreCase") else v
            if is_service_name(name):  # "true" (under Bool, say) names no service
                self.services.add(name)
        elif key == "aws:userid":
            head = v.split(":", 1)[0]
            if head and not ("*" in head or "?" in head or "$" in head) and not head.isdigit():
                self.userids.add(head)
        elif key in self.networks and not wild:
            self.networks[key].add(v)
        elif (
            key in ("aws:sourceip", "aws:vpcsourceip") and p.family == "ip" and not v.endswith("/0")
        ):
            self.cidrs.add(v)

    def _fresh_accounts(self, patterns: Iterable[str]) -> list[str]:
        out: list[str] = []
        for pattern in patterns:
            got = _fill_account(pattern)
            if got is not None and got not in self.accounts and got not in out:
                out.append(got)
        n = 999999999999
        while str(n) in self.accounts:
            n -= 1
        return [str(n), *out[:5]]

    def literal_accounts(self) -> list[tuple[str, str]]:
        """(partition, account) pairs the policy names, the key's own first."""
        return sorted(
            {(p, a) for p in self.partitions for a in self.accounts}, key=lambda pa: pa[::-1]
        )


@attrs.frozen
class _Found:
    store: dict[str, tuple[Literal, ...]]
    solved: dict[str, Solved]
    escapes: tuple[DenyEscape, ...]
    checked: bool = True  # False: taken past the work bound (Denies not all escaped for sure)


class Evaluator:
    """The exact evaluation of one policy for one key (see the module docstring)."""

    def __init__(self, policy: KeyPolicy, setting: Setting, key_arn: str | None) -> None:
        self.policy = policy
        self.setting = setting
        version = policy.effective_version
        compiled = []
        for i, st in enumerate(policy.statements):
            tests = tuple(principal_test(p, setting.key_partition) for p in st.principals)
            preds = tuple(condition_pred(c, version) for c in st.conditions)
            applies = (
                resource_applies(st, setting.key_account, key_arn)
                if st.resources and st.actions
                else Applies.NEVER
            )
            compiled.append(Compiled(i, st, tests, preds, applies, _model_actions(st)))
        compiled = _pin_sessions(compiled)
        self.statements = tuple(compiled)
        # Denies count only when their Resource certainly covers the key (the safe side).
        # A Deny whose NotPrincipal lists "*" exempts everyone: it never applies.
        self.denies = tuple(
            c
            for c in compiled
            if c.is_deny
            and c.applies is Applies.ALWAYS
            and not (c.statement.not_principal and any(t.kind == "any" for t in c.tests))
        )
        self.universe = Universe(compiled, setting)
        u = self.universe
        keys = u.keys | u.variables
        self.detail = bool(keys & _IDENTITY_DETAIL_KEYS) or any(
            t.kind in ("iam", "session", "glob") for c in compiled for t in c.tests
        )
        self.org_aware = bool(keys & _ORG_KEYS)
        self.env_keys = frozenset(u.variables)
        self._envs: dict[Caller, dict[str, str]] = {}
        self._solved: dict[tuple[Caller, str, frozenset[Literal]], Solved] = {}
        self._budget = 0
        self.meter = Meter(ANALYSIS_BUDGET)
        self._groups: dict[int, list[tuple[tuple[int, ...], frozenset[str]]]] = {}
        self.no_exemptions = False  # while set, NotPrincipal exemptions do not escape a Deny
        self.unknown_actions = _unknown_actions(compiled)
        # Each statement's Action patterns matched once against the unknown stand-ins (glob
        # matching per Allow, action and Deny was a third of a large policy's time).
        self.covered = _coverage(compiled, self.unknown_actions)
        self.canonical_keys = _canonical_keys(compiled)
        self.scratch: dict[object, object] = {}  # per-analysis memos of the grant questions
        self._sigs: dict[str, tuple[int, ...]] = {}  # per action: the Denies that cover it
        self._callers: dict[tuple[str, str, str | None], list[Caller]] = {}
        self.accounts = self.universe.literal_accounts()
        self._test_index: dict[
            int, tuple[dict[tuple[str | None, str | None], tuple[int, ...]], tuple[int, ...]]
        ] = {}
        self._options: dict[
            tuple[int, Caller, bool], list[tuple[str, list[Literal]]] | _Inapplicable
        ] = {}

    @property
    def exact(self) -> bool:
        """Whether every answer so far was decided exactly (the work bound was not reached)."""
        return not self.meter.spent_out

    # -- callers ------------------------------------------------------------------------

    def _kinds(self) -> tuple[str, ...]:
        return iam_kinds() if self.detail else ("role",)

    def _org_options(self, partition: str, account: str) -> list[tuple[bool, str | None]]:
        s = self.setting
        if (partition, account) == (s.key_partition, s.key_account) and s.org_id:
            return [(True, s.org_id)]
        return [(False, None), (True, None)] if self.org_aware else [(False, None)]

    def callers_of(self, partition: str, account: str, *, fresh: bool = False) -> list[Caller]:
        """Every caller class of one account (remembered: every grant asks about them)."""
        memo = (partition, account, "fresh" if fresh else None)
        got = self._callers.get(memo)
        if got is None:
            got = self._callers[memo] = [
                Caller(kind, partition, account, fresh, in_org, org)
                for kind in self._kinds()
                for in_org, org in self._org_options(partition, account)
            ]
        return got

    def fresh_callers(self, *, org: str | None = None) -> list[Caller]:
        """Callers of accounts the policy never names (`org`: in that organization)."""
        memo = ("", "", "org:" + org if org is not None else "fresh")
        got = self._callers.get(memo)
        if got is None:
            got = self._callers[memo] = self._fresh_callers(org)
        return got

    def _fresh_callers(self, org: str | None) -> list[Caller]:
        out = []
        for partition in sorted(self.universe.partitions):
            for account in self.universe.fresh:
                for kind in self._kinds():
                    if org is not None:
                        out.append(Caller(kind, partition, account, True, True, org))
                        continue
                    for in_org, _ in self._org_options(partition, account):
                        out.append(Caller(kind, partition, account, True, in_org, None))
        return out

    def service_callers(self) -> list[Caller]:
        names = sorted(self.universe.services | {_FRESH_SERVICE})
        return [Caller("service", name=n) for n in names]

    # -- solving ------------------------------------------------------------------------

    def env(self, caller: Caller) -> dict[str, str]:
        env = self._envs.get(caller)
        if env is None:
            env = self._envs[caller] = caller_env(caller, self.setting, self.env_keys)
        return env

    def solve_key(self, caller: Caller, key: str, literals: Iterable[Literal]) -> Solved:
        lits = frozenset(literals)
        memo = (caller, key, lits)
        got = self._solved.get(memo)
        if got is None:
            spec = spec_for(caller, key, self.setting)
            token = CURRENT_METER.set(self.meter)
            try:
                got = solve_var(spec, sorted(lits, key=_lit_order), self.env(caller))
            finally:
                CURRENT_METER.reset(token)
            if got.undecided:
                self.meter.spent_out = True  # a search ran out: the answers are not exact
            self._solved[memo] = got
        return got

    def _add(
        self,
        caller: Caller,
        store: dict[str, tuple[Literal, ...]],
        solved: dict[str, Solved],
        literals: Sequence[Literal],
    ) -> tuple[dict[str, tuple[Literal, ...]], dict[str, Solved]] | None:
        new_store = dict(store)
        new_solved = dict(solved)
        # Insertion-ordered: the same solves in every process. Membership by hash (a Deny
        # search adds one literal per level: comparing tuples made it quadratic).
        touched: dict[str, list[Literal]] = {}
        known: dict[str, set[Literal]] = {}
        for lit in literals:
            key = lit[0].key
            have = known.get(key)
            if have is None:
                have = known[key] = set(new_store.get(key, ()))
            if lit not in have:
                have.add(lit)
                new_store[key] = (*new_store.get(key, ()), lit)
                touched.setdefault(key, []).append(lit)
        env = self.env(caller)
        for key, added in touched.items():
            prev = new_solved.get(key)
            if (
                prev is not None
                and prev.ok
                and not prev.undecided
                and all(holds(p, prev.value, env) == want for p, want in added)
            ):
                continue  # the value found before meets the new literals too: still a witness
            got = self.solve_key(caller, key, new_store[key])
            if not got.ok:
                return None
            new_solved[key] = got
        if caller.in_org and caller.org is None and not _ORG_KEYS.isdisjoint(touched):
            one = self._one_org(caller, new_store, new_solved)
            if one is None:
                return None
            new_solved = one
        return new_store, new_solved

    def _one_org(
        self, caller: Caller, store: dict[str, tuple[Literal, ...]], solved: dict[str, Solved]
    ) -> dict[str, Solved] | None:
        """`solved` with its org keys under ONE organization (a caller's org id and every org
        path it has name the same org), or `None` when no org satisfies them all.

        Each key is solved on its own first; when their values disagree on the org, each
        candidate org is tried in turn: the orgs those values use, every org the policy
        names, one it does not. When the policy's org patterns treat all unnamed orgs alike
        (`Universe.orgs_uniform`) that is every class of org, so `None` is exact; otherwise
        the analysis takes the safe side (access) and says it is not exact.
        """
        used = _orgs_used(store, solved)
        if len(used) <= 1:
            return solved
        candidates = [*used, *sorted(self.universe.orgs - set(used)), self.universe.fresh_org]
        for org in candidates:
            pinned = attrs.evolve(caller, org=org)
            got = {k: self.solve_key(pinned, k, store[k]) for k in sorted(_ORG_KEYS) if k in store}
            if all(g.ok for g in got.values()):
                return {**solved, **got}
        if self.universe.orgs_uniform:
            return None
        self.meter.spent_out = True  # not decided: access is the safe side
        return solved

    def tests_for(self, c: Compiled, caller: Caller) -> list[PrincipalTest]:
        """The principal tests of `c` that can match `caller` statically, in statement order:
        those of its partition and account, and those that name no account (a list of many
        principals is indexed once, not scanned per caller)."""
        index = self._test_index.get(c.index)
        if index is None:
            index = self._test_index[c.index] = _index_tests(c.tests)
        by_where, anywhere = index
        mine = by_where.get((caller.partition, caller.account), ()) if caller.is_iam else ()
        if not mine:
            return [c.tests[i] for i in anywhere]
        return [c.tests[i] for i in sorted((*mine, *anywhere))]

    # -- the search ---------------------------------------------------------------------

    def _deny_options(self, deny: Compiled, caller: Caller) -> list[tuple[str, list[Literal]]]:
        """`_escape_options`, remembered per Deny, caller and exemption mode."""
        memo = (deny.index, caller, self.no_exemptions)
        got = self._options.get(memo)
        if got is None:
            try:
                got = self._escape_options(deny, caller)
            except _Inapplicable as why:
                got = why
            self._options[memo] = got
        if isinstance(got, _Inapplicable):
            raise got
        return got

    def _escape_options(self, deny: Compiled, caller: Caller) -> list[tuple[str, list[Literal]]]:
        """How a request of `caller` can escape `deny`: `(reason, literals)` options.

        No option: the Deny applies to every such request. Raises `_Inapplicable` when it
        never applies to the caller.
        """
        st = deny.statement
        options: list[tuple[str, list[Literal]]] = []
        if not st.not_principal:
            matching = [t for t in self.tests_for(deny, caller) if t.static(caller, glob=False)]
            if not matching:
                raise _Inapplicable("it does not name this caller")
            if all(t.preds for t in matching):
                for combo in itertools.islice(
                    itertools.product(*(t.preds for t in matching)), _OPTION_CAP
                ):
                    options.append(
                        (
                            "the caller is not " + ", ".join(t.principal.value for t in matching),
                            [(q, False) for q in combo],
                        )
                    )
        else:
            exempt = [t for t in self.tests_for(deny, caller) if t.static(caller, glob=True)]
            if self.no_exemptions:
                exempt = []
            if any(not t.preds for t in exempt):
                raise _Inapplicable("its NotPrincipal exempts this caller")
            for t in exempt:
                options.append(
                    (f"its NotPrincipal exempts {t.principal.value}", [(q, True) for q in t.preds])
                )
        for p in deny.preds:
            options.append((f"its condition {p} is false for this request", [(p, False)]))
        return options

    def search(
        self,
        caller: Caller,
        required: Sequence[Literal],
        choices: Sequence[Sequence[tuple[str, list[Literal]]]],
        denies: Sequence[Compiled],
    ) -> tuple[_Found | None, tuple[int, ...]]:
        """A request of `caller` meeting `required`, one option of each of `choices`
        and escaping every Deny; else `None` and the Denies that stopped it."""
        start = self._add(caller, {}, {}, required)
        if start is None:
            return None, ()
        if self.meter.spent_out:
            # Past the bound every Deny counts as escaped (access: the safe side), so none of
            # the bookkeeping of a search is needed; fixed values were still checked exactly.
            return _Found(start[0], start[1], (), checked=False), ()
        plans: list[tuple[Compiled | None, list[tuple[str, list[Literal]]]]] = [
            (None, list(c)) for c in choices
        ]
        escapes_free: list[DenyEscape] = []
        for d in denies:
            try:
                plans.append((d, self._deny_options(d, caller)))
            except _Inapplicable as why:
                escapes_free.append(DenyEscape(d.index, d.statement.sid, str(why)))
        plans.sort(key=lambda pl: len(pl[1]))
        blockers: set[int] = set()
        self._budget = _SEARCH_BUDGET

        def dfs(
            k: int,
            store: dict[str, tuple[Literal, ...]],
            solved: dict[str, Solved],
            escapes: tuple[DenyEscape, ...],
        ) -> _Found | None:
            if k == len(plans):
                return _Found(store, solved, escapes)
            deny, options = plans[k]
            for reason, lits in options:
                self._budget -= 1
                if self._budget < 0 or not self.meter.charge(_NODE_COST):
                    self.meter.spent_out = True
                    # Out of budget: take the safe side (access) with what is known so far.
                    return _Found(store, solved, escapes, checked=False)
                nxt = self._add(caller, store, solved, lits)
                if nxt is None:
                    continue
                esc = escapes
                if deny is not None:
                    esc = (*escapes, DenyEscape(deny.index, deny.statement.sid, reason))
                found = dfs(k + 1, nxt[0], nxt[1], esc)
                if found is not None:
                    return found
            if deny is not None:
                blockers.add(deny.index)
            return None

        found = dfs(0, start[0], start[1], tuple(escapes_free))
        if found is not None:
            ordered = tuple(sorted(found.escapes, key=lambda e: e.statement_index))
            return attrs.evolve(found, escapes=ordered), ()
        return None, tuple(sorted(blockers))

    # -- questions ----------------------------------------------------------------------

    def allow_plan(
        self, allow: Compiled, test: PrincipalTest | None, caller: Caller
    ) -> tuple[list[Literal], list[list[tuple[str, list[Literal]]]]] | None:
        """What a request of `caller` must satisfy to match `allow` through `test`
        (`None` for a NotPrincipal Allow): required literals and choice points."""
        required: list[Literal] = [(p, True) for p in allow.preds]
        choices: list[list[tuple[str, list[Literal]]]] = []
        if test is not None:
            if not test.static(caller, glob=True):
                return None
            required.extend((q, True) for q in test.preds)
        if allow.statement.not_principal:
            # Everyone but the listed principals (also when a NotPrincipal Deny narrowed the
            # grant to its exempt principals: the Allow still excludes its own).
            for t in self.tests_for(allow, caller):
                if t.static(caller, glob=False):
                    if t.kind == "account" and caller.kind != "root":
                        continue  # an account names its root identity: its roles, users get in
                    if not t.preds:
                        return None
                    choices.append([(f"not {t.principal.value}", [(q, False)]) for q in t.preds])
        return required, choices

    def try_callers(
        self,
        allow: Compiled,
        test: PrincipalTest | None,
        callers: Iterable[Caller],
        denies: Sequence[Compiled],
        goal: Sequence[Literal] = (),
    ) -> tuple[tuple[Caller, _Found] | None, set[int]]:
        """The first caller with an admitted request, or the Denies that stopped them all."""
        blockers: set[int] = set()
        refused: set[tuple[str | None, str | None]] = set()
        for caller in callers:
            where = (caller.partition, caller.account)
            if where in refused:
                continue
            plan = self.allow_plan(allow, test, caller)
            if plan is None:
                continue
            required, choices = plan
            wanted = [*required, *goal]
            if self._account_refuses(caller, wanted):
                refused.add(where)
                continue
            found, blocked = self.search(caller, wanted, choices, denies)
            if found is not None:
                return (caller, found), blockers
            blockers.update(blocked)
        return None, blockers

    def _account_refuses(self, caller: Caller, literals: Sequence[Literal]) -> bool:
        """Whether `literals` on the account keys already fail for `caller`'s account.

        Those keys hold the account id for every IAM caller of it, whatever its kind or
        organization, so one check answers for all of an account's callers (a policy that
        pins `kms:CallerAccount` is then not searched once per kind and org option).
        """
        if not caller.is_iam:
            return False
        for key in _ACCOUNT_KEYS:
            lits = [lit for lit in literals if lit[0].key == key]
            fixed = lits and not any(lit[0].variables and _has_variable(lit[0]) for lit in lits)
            if fixed and not self.solve_key(caller, key, lits).ok:
                return True
        return False

    def witness(
        self,
        entity: str,
        verdict: str,
        allow: Compiled,
        action: str,
        caller: Caller,
        found: _Found,
    ) -> AccessWitness:
        """The `AccessWitness` of a found request."""
        context: dict[str, str | tuple[str, ...] | None] = {}
        canonical = self.canonical_keys
        if caller.in_org and caller.org is None:
            used = _orgs_used(found.store, found.solved)
            if used:  # the unconstrained org keys follow the org the constrained ones use
                caller = attrs.evolve(caller, org=used[0])
        for key in sorted(self.universe.keys):
            got = found.solved.get(key) or self.solve_key(caller, key, ())
            context[canonical.get(key, key)] = (
                _NOT_DECIDED if got.undecided else got.value if got.ok else None
            )
        arn_value = found.solved.get("aws:principalarn")
        if caller.is_iam:
            got = arn_value or self.solve_key(caller, "aws:principalarn", ())
            who = got.value if isinstance(got.value, str) and got.value else caller.kind
            if got.undecided:
                who = _NOT_DECIDED
        else:
            who = caller.name or caller.kind
        org: str | None = None
        if caller.is_iam and caller.in_org:
            got_org = found.solved.get("aws:principalorgid") or self.solve_key(
                caller, "aws:principalorgid", ()
            )
            org = got_org.value if isinstance(got_org.value, str) else None
        kind = "web-identity" if caller.kind == "web-identity" else caller.kind
        return AccessWitness(
            entity=entity,
            verdict=verdict,
            caller=str(who),
            caller_kind=kind,
            partition=caller.partition,
            account=caller.account,
            org_id=org,
            action=CANONICAL_ACTION.get(action, action),
            context=context,
            allowed_by=allow.index,
            allowed_by_sid=allow.statement.sid,
            deny_escapes=found.escapes,
            checked=found.checked and not any(v.undecided for v in found.solved.values()),
        )

    def action_groups(self, allow: Compiled) -> list[tuple[tuple[int, ...], frozenset[str]]]:
        """The Allow's actions (model actions and unknown stand-ins) grouped by the Denies
        that cover them."""
        got = self._groups.get(allow.index)
        if got is None:
            got = self._groups[allow.index] = self._action_groups(allow)
        return got

    def _action_groups(self, allow: Compiled) -> list[tuple[tuple[int, ...], frozenset[str]]]:
        groups: dict[tuple[int, ...], set[str]] = {}
        candidates = [*sorted(allow.actions), *self.unknown_actions]
        covered = self.covered
        sigs = self._sigs
        for action in candidates:
            if action not in covered[allow.index]:
                continue
            sig = sigs.get(action)
            if sig is None:
                sig = sigs[action] = tuple(
                    d.index for d in self.denies if action in covered[d.index]
                )
            groups.setdefault(sig, set()).add(action)
        return [(sig, frozenset(acts)) for sig, acts in sorted(groups.items())]

    def deny_list(self, sig: Sequence[int]) -> list[Compiled]:
        return [self.statements[i] for i in sig]


def _index_tests(
    tests: Sequence[PrincipalTest],
) -> tuple[dict[tuple[str | None, str | None], tuple[int, ...]], tuple[int, ...]]:
    """Test positions by the (partition, account) they name, and those that name none."""
    by_where: dict[tuple[str | None, str | None], list[int]] = {}
    anywhere: list[int] = []
    for i, t in enumerate(tests):
        if t.kind in ("account", "iam", "session", "glob"):
            by_where.setdefault((t.partition, t.account), []).append(i)
        else:
            anywhere.append(i)
    return {k: tuple(v) for k, v in by_where.items()}, tuple(anywhere)


def _pin_sessions(compiled: list[Compiled]) -> list[Compiled]:
    """Session principals whose role the policy also names by ARN, tied to that ARN.

    A session ARN omits its role's path, so on its own it stands for the role of that name
    under any path; but a role name is unique in its account, and KMS accepts a principal
    ARN only for a role that exists. So when the policy names `role/<path>/<name>` of the same
    account, that is the session's role: a Deny naming the role covers its sessions.
    """
    named: dict[tuple[str | None, str | None, str], str] = {}
    for c in compiled:
        for t in c.tests:
            if t.kind == "iam" and t.caller_kind == "role":
                name = t.principal.value.rsplit("/", 1)[-1]
                named.setdefault((t.partition, t.account, name), t.principal.value)
    if not named:
        return compiled
    out = []
    for c in compiled:
        tests = []
        for t in c.tests:
            if t.kind == "session":
                role = t.principal.value.split(":", 5)[5].split("/", 2)[1]
                arn = named.get((t.partition, t.account, role))
                if arn is not None:
                    pin = _eq("aws:principalarn", arn, f"Principal {t.principal.value}")
                    t = attrs.evolve(t, preds=(pin, *t.preds[1:]))
            tests.append(t)
        out.append(attrs.evolve(c, tests=tuple(tests)))
    return out


def _coverage(compiled: Sequence[Compiled], unknown: Sequence[str]) -> dict[int, frozenset[str]]:
    """Per statement, the actions it covers among the model's and the unknown stand-ins
    (each distinct pattern matched against the stand-ins once: policies repeat patterns)."""
    hits: dict[str, frozenset[str]] = {}
    everything = frozenset(unknown)
    out: dict[int, frozenset[str]] = {}
    for c in compiled:
        st = c.statement
        matched: set[str] = set()
        for pattern in st.actions:
            got = hits.get(pattern)
            if got is None:
                got = hits[pattern] = frozenset(a for a in unknown if glob_match(pattern, a))
            matched |= got
        extra = (everything - matched if st.not_action else matched) if st.actions else set()
        out[c.index] = c.actions | extra
    return out


def _has_variable(p: Pred) -> bool:
    return any("${" in v for v in p.values)


class _Inapplicable(Exception):
    pass


def _lit_order(lit: Literal) -> tuple[str, str, tuple[str, ...], bool]:
    p, want = lit
    return (p.key, p.base, p.values, want)


def _canonical_keys(compiled: Sequence[Compiled]) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in compiled:
        for cond in c.statement.conditions:
            out.setdefault(cond.key.lower(), cond.key)
    return out


def _model_actions(st: Statement) -> frozenset[str]:
    if not st.actions:
        return frozenset()
    matched: frozenset[str] = frozenset().union(*(expand_action(a) for a in st.actions))
    matched = frozenset(a for a in matched if a in ALL_ACTIONS)
    return ALL_ACTIONS - matched if st.not_action else matched


def _unknown_actions(compiled: Sequence[Compiled]) -> list[str]:
    """Stand-ins for kms actions outside the model (newer APIs), one per way the policy's
    action patterns can treat them: per pattern, and per pair of wildcard patterns one that
    matches both (an Allow's `kms:GenerateDataKey*` and a Deny's `NotAction kms:*crypt` let
    a future `kms:GenerateDataKey...crypt` through, which no stand-in of one pattern is)."""
    out = ["kms:cmkguardfutureaction"]
    wild: set[str] = set()
    for c in compiled:
        for pattern in c.statement.actions:
            low = pattern.lower()
            wildcard = "*" in low or "?" in low
            if wildcard and low not in ("*", "kms:*") and low.startswith(("kms:", "*", "?")):
                wild.add(low)
            if not low.startswith("kms:") or ("*" not in low and "?" not in low):
                if low.startswith("kms:") and low not in ALL_ACTIONS and low not in out:
                    out.append(low)  # a literal action the model does not know
                continue
            for fill in ("", "zq"):
                text = low.replace("*", fill).replace("?", "q")
                if text not in ALL_ACTIONS and text not in out and glob_match(low, text):
                    out.append(text)
    out = out[:16]
    if len(wild) <= _PAIRED_PATTERNS:
        ordered = sorted(wild)
        # A pair's stand-in is needed only when no stand-in matches the same patterns.
        seen = {tuple(glob_match(w, a) for w in ordered) for a in out}
        budget = [_PAIR_STEPS]
        for pair in itertools.combinations(ordered, 2):
            got = _common_action(pair, budget)
            if got is None or got in out:
                continue
            sig = tuple(glob_match(w, got) for w in ordered)
            if sig not in seen:
                seen.add(sig)
                out.append(got)
    return out


_PAIRED_PATTERNS = 16
"""Up to this many distinct wildcard action patterns, every pair gets a common stand-in
(120 small searches at most); a policy with more keeps the per-pattern stand-ins only
(docs/policy.md, "Limits")."""
_PAIR_STEPS = 5_000
"""Automaton steps all the pair searches of one policy may take (a few ms at most)."""


def _guesses(patterns: Sequence[str]) -> Iterator[str]:
    """Candidate common matches of two action patterns: one with a star (its last, then its
    first) replaced by the other's text after `kms:` (its wildcards made `z`)."""
    for x, y in (patterns, patterns[::-1]):
        rest = y[4:] if y.startswith("kms:") else y
        fill = rest.replace("*", "z").replace("?", "z")
        for at in (x.rfind("*"), x.find("*")):
            if at >= 0:
                text = x[:at] + fill + x[at + 1 :]
                yield text.replace("*", "").replace("?", "z")


def _common_action(patterns: Sequence[str], budget: list[int]) -> str | None:
    """The shortest `kms:` action outside the model that matches every one of `patterns`
    (lower case), or `None`: breadth first over the product of their automata (and of
    `kms:*` and `*z*`, so that it is a kms action no model action equals), each step a few
    integer operations (no backtracking), charged to `budget`."""
    for guess in _guesses(patterns):
        if guess not in ALL_ACTIONS and all(glob_match(t, guess) for t in patterns):
            return guess  # the usual shapes (prefix*, *suffix, *infix*): no search needed
    texts = (*patterns, "kms:*", "*z*")
    pats = [compile_pattern(tokens_of(t), ignore_case=True) for t in texts]
    alphabet = sorted({c for t in texts for c in t if c not in "*?"})
    start = tuple(p.start() for p in pats)
    seen = {start}
    queue: deque[tuple[tuple[int, ...], str]] = deque([(start, "")])
    while queue and budget[0] > 0:
        masks, text = queue.popleft()
        budget[0] -= len(alphabet)
        if all(p.accepts(m) for p, m in zip(pats, masks, strict=True)) and text not in ALL_ACTIONS:
            return text
        for ch in alphabet:
            nxt = tuple(p.step(m, ch) for p, m in zip(pats, masks, strict=True))
            if all(nxt) and nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, text + ch))
    return None


def entity_of_account(partition: str, account: str, setting: Setting) -> str:
    """How an account appears in `external_access`: its id in the key's partition, its root
    ARN in another one."""
    if partition == setting.key_partition:
        return account
    return f"arn:{partition}:iam::{account}:root"


def worst(verdicts: Iterable[str]) -> str | None:
    """The most severe verdict (`None` when there is none)."""
    best: str | None = None
    for v in verdicts:
        if best is None or _VERDICT_RANK[v] > _VERDICT_RANK[best]:
            best = v
    return best
