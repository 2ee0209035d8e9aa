"""Statements as formulas, and the questions asked of z3.

A statement matches a request when its principal, action, resource and every condition match.
A request is *allowed* when some Allow matches it and no Deny does. Resources are decided per
statement, for every key ARN of the key's account: an Allow counts when some such ARN may
match it, a Deny only when every one does (the analyser's documented safe side without
`key_arn`).

The answers (contract, "The answers the analyser gives"), each "is there an allowed request":
- `public`: by an IAM caller of an account the policy never names, in none of the organizations
  it names (or none at all), with a unique id and networks it does not name;
- `accounts` (only when not public): the named `(partition, account)` pairs, the key account
  aside, whose IAM callers get in;
- `orgs` (only when not public): the named organizations whose members from accounts the
  policy never names get in;
- `principals_allowed(action)`: for each Allow and principal, whether a request of that principal
  with that action gets in through that Allow. `"*"` (and an account) narrows to the exempt
  principals of `NotPrincipal` Denies when only their exemptions let requests through.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable
from typing import Any

import attrs
import z3

from tests.policy.reference._conditions import condition
from tests.policy.reference._document import RefPrincipal, RefStatement, read_policy
from tests.policy.reference._request import KINDS, LOWER_ALNUM, Request, glob_re
from tests.policy.reference._solve import Split, decide, names

__all__ = ["ReferenceAnswers", "reference_answers"]

# Answers that depend only on a statement's text, shared by every policy in the process.
_SOME_ACTION: dict[tuple[tuple[str, ...], bool], bool] = {}
_RESOURCE_CLASS: dict[tuple[str, str, tuple[str, ...], bool], str] = {}
_TIMEOUT_MS = int(os.environ.get("POLICY_REFERENCE_TIMEOUT_MS", "10000"))


@attrs.frozen
class ReferenceAnswers:
    public: bool
    accounts: frozenset[tuple[str, str]] | None
    orgs: frozenset[str] | None
    principals: dict[str, frozenset[str]]


def _digit_runs(text: str) -> set[str]:
    out: set[str] = set()
    run = ""
    for c in text + " ":
        if c.isascii() and c.isdigit():
            run += c
            continue
        if len(run) == 12:
            out.add(run)
        run = ""
    return out


def _is_org(text: str) -> bool:
    rest = text[2:]
    return (
        text.startswith("o-")
        and bool(rest)
        and all(c.isascii() and (c.islower() or c.isdigit()) for c in rest)
    )


class _Constants:
    """What the policy names: partitions, accounts, organizations, unique ids, networks."""

    def __init__(self, statements: Iterable[RefStatement], key_partition: str, key_account: str):
        self.partitions = {key_partition}
        self.accounts = {key_account}
        self.orgs: set[str] = set()
        self.userids: set[str] = set()
        self.networks: dict[str, set[str]] = {"aws:sourcevpc": set(), "aws:sourcevpce": set()}
        self.roles: set[tuple[str, str, str, str]] = set()  # (partition, account, path, name)
        for st in statements:
            for p in st.principals:
                if p.partition:
                    self.partitions.add(p.partition)
                    self.accounts.add(p.account)
                self.accounts |= _digit_runs(p.text)
                if p.form == "role":
                    resource = p.text.split(":", 5)[5][len("role") :]
                    path, name = resource.rsplit("/", 1)
                    self.roles.add((p.partition, p.account, path + "/", name))
            for c in st.conditions:
                for v in c.values:
                    self._value(c.key, v)
                    if "ignorecase" in c.base.lower():
                        self._value(c.key, v.lower())  # "O-ABC" matches org o-abc

    def _value(self, key: str, v: str) -> None:
        self.accounts |= _digit_runs(v)
        wild = "*" in v or "?" in v
        fields = v.split(":", 5)
        if (
            v.startswith("arn:")
            and len(fields) == 6
            and fields[1].startswith("aws")
            and not ("*" in fields[1] or "?" in fields[1])
        ):
            self.partitions.add(fields[1])
        if key in ("aws:principalorgid", "aws:principalorgpaths"):
            org = v.split("/", 1)[0]
            if _is_org(org):
                self.orgs.add(org)
        elif key == "aws:userid":
            head = v.split(":", 1)[0]
            if head and not head.isdigit() and not any(c in head for c in "*?$"):
                self.userids.add(head)
        elif key in self.networks and not wild:
            self.networks[key].add(v)


class _Policy:
    """The formulas of one policy for one key."""

    def __init__(
        self, policy: Any, key_account: str, org_id: str | None, key_partition: str | None
    ) -> None:
        self.version, self.statements = read_policy(policy, key_partition or "aws")
        if key_partition is None:
            key_partition = _inferred_partition(self.statements, key_account)
            # a bare account id is that account's root in the key's partition
            self.version, self.statements = read_policy(policy, key_partition)
        self.key_partition = key_partition
        self.key_account = key_account
        self.c = _Constants(self.statements, key_partition, key_account)
        if org_id:
            self.c.orgs.add(org_id)
        self.r = Request(key_partition, key_account, org_id, time.time())
        self.r.allow_partitions(self.c.partitions)
        self.splits = self._splits()
        self.allows: list[RefStatement] = []
        self.denies: list[RefStatement] = []
        for st in self.statements:
            if not st.actions or not st.resources:
                continue  # accepted by PutKeyPolicy, and of no effect
            applies = self._resource_class(st)
            if not self._some_action(st):
                continue  # no kms action at all (NotAction kms:*, s3:...): of no effect
            if st.effect == "Allow" and applies != "never" and not _exempts_all(st):
                self.allows.append(st)
            elif st.effect == "Deny" and applies == "always" and not _exempts_all(st):
                self.denies.append(st)
        self._match: dict[tuple[int, bool, bool], z3.BoolRef] = {}
        self.deny_all = z3.And(*(z3.Not(self.match(d)) for d in self.denies))

    def _some_action(self, st: RefStatement) -> bool:
        """Whether the statement covers some kms action (a question on the action alone,
        remembered across policies: generated ones share their action lists)."""
        memo = (st.actions, st.not_action)
        got = _SOME_ACTION.get(memo)
        if got is None:
            got = _SOME_ACTION[memo] = self.sat(self.action(st))
        return got

    def _resource_class(self, st: RefStatement) -> str:
        """`always`, `maybe` or `never`: does the statement cover every/some/no key ARN of the
        key's account? Decided on regexes alone (z3 intersects them quickly), remembered."""
        memo = (self.key_partition, self.key_account, st.resources, st.not_resource)
        got = _RESOURCE_CLASS.get(memo)
        if got is None:
            got = _RESOURCE_CLASS[memo] = self._decide_resource_class(st)
        return got

    def _decide_resource_class(self, st: RefStatement) -> str:
        part = z3.Plus(z3.Union(LOWER_ALNUM, z3.Re("-")))
        keys = z3.Concat(
            z3.Re(f"arn:{self.key_partition}:kms:"),
            part,
            z3.Re(f":{self.key_account}:key/"),
            part,
        )
        covers = z3.Union(*(glob_re(p) for p in st.resources))
        if st.not_resource:
            covers = z3.Complement(covers)
        arn = z3.String("key_arn")
        some = z3.Solver()
        some.add(z3.InRe(arn, z3.Intersect(keys, covers)))
        every = z3.Solver()
        every.add(z3.InRe(arn, z3.Intersect(keys, z3.Complement(covers))))
        if every.check() == z3.unsat:
            return "always"
        return "maybe" if some.check() == z3.sat else "never"

    # -- formulas -------------------------------------------------------------------------

    def _identity_only(self, p: RefPrincipal) -> z3.BoolRef:
        """The listed identity itself: an account's root for an account, else `principal`."""
        if p.form == "account":
            return z3.And(self.principal(p), self.r.is_kind("root"))
        return self.principal(p)

    def principal(self, p: RefPrincipal) -> z3.BoolRef:
        r = self.r
        sv = z3.StringVal
        if p.form == "any":
            return z3.BoolVal(True)
        if p.form == "service":
            return z3.And(r.is_kind("service"), r.service == sv(p.text))
        if p.form == "nobody":
            return z3.BoolVal(False)
        where = z3.And(r.is_iam, r.partition == sv(p.partition), r.account == sv(p.account))
        if p.form == "account":
            return where
        if p.form == "session":
            # A role name is unique in its account: when the policy names the role by ARN,
            # the session's role has that path (a session ARN omits it).
            paths = [
                path
                for partition, account, path, name in sorted(self.c.roles)
                if (partition, account, name) == (p.partition, p.account, p.role_name)
            ]
            pin = [r.path == sv(paths[0])] if paths else []
            return z3.And(
                where,
                r.is_kind("role"),
                r.name == sv(p.role_name),
                r.session == sv(p.session),
                *pin,
            )
        kind = {"role": "role", "user": "user", "federated": "federated-user"}[p.form]
        if kind == "federated-user":
            name = p.text.rsplit("/", 1)[1]
            return z3.And(where, r.is_kind(kind), r.name == sv(name))
        # role/<path><name> and user/<path><name>: the parts, rather than the whole ARN (the
        # same constraint, which z3's string solver decides much faster).
        resource = p.text.split(":", 5)[5][len(kind) :]
        path, name = resource.rsplit("/", 1)
        return z3.And(where, r.is_kind(kind), r.path == sv(path + "/"), r.name == sv(name))

    def action(self, st: RefStatement) -> z3.BoolRef:
        got = z3.Or(*(z3.InRe(self.r.action, glob_re(a.lower())) for a in st.actions))
        return z3.Not(got) if st.not_action else got

    def match(
        self, st: RefStatement, *, strict: bool = False, principal: bool = True
    ) -> z3.BoolRef:
        """The statement matches the request (`strict`: a `NotPrincipal` exempts nobody;
        `principal=False`: its action, resource and conditions only)."""
        memo = (st.index, strict, principal)
        got = self._match.get(memo)
        if got is None:
            who = z3.Or(*(self.principal(p) for p in st.principals))
            if st.not_principal and strict:
                who = z3.BoolVal(True)
            elif st.not_principal and st.effect == "Allow":
                # An Allow's NotPrincipal admits everyone but the listed identities: an account
                # listed excludes its root identity only, its roles and users are admitted (AWS;
                # the lead's decision, docs/policy.md).
                who = z3.Not(z3.Or(*(self._identity_only(p) for p in st.principals)))
            elif st.not_principal:
                # A Deny's NotPrincipal exempts the listed principals (an account: all of its
                # callers, the analyser's documented safe side).
                who = z3.Not(who)
            if not principal:
                who = z3.BoolVal(True)
            conds = [condition(self.r, c, self.version) for c in st.conditions]
            got = self._match[memo] = z3.And(who, self.action(st), *conds)
        return got

    def via(self, st: RefStatement, *, strict: bool = False) -> z3.BoolRef:
        """Allowed through `st`: it matches and no Deny does."""
        if not strict:
            return z3.And(self.match(st), self.deny_all)
        return z3.And(self.match(st), *(z3.Not(self.match(d, strict=True)) for d in self.denies))

    def sat(self, *formulas: z3.BoolRef) -> bool:
        """Whether some request satisfies `formulas` (`_solve.decide`: the caller's finite
        parts split into cases, fixed terms substituted, z3 for the free strings left)."""
        return decide([*_cone(self.r.world, formulas), *formulas], self.splits, _TIMEOUT_MS)

    def _splits(self) -> tuple[Split, ...]:
        r = self.r
        sv = z3.StringVal
        orgs = sorted(self.c.orgs)
        other: tuple[z3.BoolRef, ...] = ()
        if orgs:
            other = (z3.InRe(r.org, z3.Complement(z3.Union(*(z3.Re(o) for o in orgs)))),)
        return (
            Split(r.kind, tuple((z3.IntVal(k), ()) for k in range(len(KINDS)))),
            Split(r.partition, tuple((sv(p), ()) for p in sorted(self.c.partitions))),
            Split(r.in_org, ((z3.BoolVal(False), ()), (z3.BoolVal(True), ()))),
            Split(r.org, (*((sv(o), ()) for o in orgs), (r.org, other))),
        )

    # -- questions ------------------------------------------------------------------------

    def fresh_identity(self) -> z3.BoolRef:
        """An IAM caller of an account the policy never names, with a unique id it never names."""
        r = self.r
        # "none of these" as a regex complement: z3 solves it far faster than disequalities.
        named = z3.Union(*(z3.Re(a) for a in sorted(self.c.accounts)))
        out = [r.is_iam, z3.InRe(r.account, z3.Complement(named))]
        if self.c.userids:
            _, uid = r.key("aws:userid")
            assert isinstance(uid, z3.SeqRef)
            for head in sorted(self.c.userids):
                out.append(uid != z3.StringVal(head))
                out.append(z3.Not(z3.PrefixOf(z3.StringVal(head + ":"), uid)))
        return z3.And(*out)

    def unbounded(self) -> z3.BoolRef:
        r = self.r
        out = [self.fresh_identity()]
        orgs = sorted(self.c.orgs)
        if orgs:
            named = z3.Union(*(z3.Re(o) for o in orgs))
            out.append(z3.Or(z3.Not(r.in_org), z3.InRe(r.org, z3.Complement(named))))
        for key, values in sorted(self.c.networks.items()):
            if values:
                present, value = r.key(key)
                assert isinstance(value, z3.SeqRef)
                named = z3.Or(*(value == z3.StringVal(v) for v in sorted(values)))
                out.append(z3.Not(z3.And(present, named)))
        return z3.And(*out)

    def grants(self) -> list[z3.BoolRef]:
        """One formula per Allow statement and principal: it admits the request.

        z3's string solver handles a disjunction of statements much worse than each one
        alone, so questions ask grant by grant (the answer is the same: "some Allow")."""
        out = []
        for st in self.allows:
            rest = self.match(st, principal=False)
            if st.not_principal:
                out.append(self.match(st))
            else:
                out.extend(z3.And(self.principal(p), rest) for p in st.principals)
        return out

    def any_grant(self, *goal: z3.BoolRef) -> bool:
        return any(self.sat(g, self.deny_all, *goal) for g in self.grants())

    def is_public(self) -> bool:
        return self.any_grant(self.unbounded())

    def accounts(self) -> frozenset[tuple[str, str]]:
        r = self.r
        out = set()
        pairs = itertools.product(sorted(self.c.partitions), sorted(self.c.accounts))
        for partition, account in pairs:
            if (partition, account) == (self.key_partition, self.key_account):
                continue
            where = z3.And(
                r.is_iam, r.partition == z3.StringVal(partition), r.account == z3.StringVal(account)
            )
            if self.any_grant(where):
                out.add((partition, account))
        return frozenset(out)

    def orgs(self) -> frozenset[str]:
        r = self.r
        out = set()
        for org in sorted(self.c.orgs):
            member = z3.And(self.fresh_identity(), r.in_org, r.org == z3.StringVal(org))
            if self.any_grant(member):
                out.add(org)
        return frozenset(out)

    def principals_allowed(self, action: str) -> frozenset[str]:
        act = self.r.action == z3.StringVal(action.lower())  # folded into the rest by `sat`
        out: set[str] = set()
        for st in self.allows:
            if st.not_principal:
                if any(p.form == "any" for p in st.principals):
                    continue  # NotPrincipal "*" excludes everyone
                grants = [(RefPrincipal("any", "*"), z3.BoolVal(True))]
            else:
                grants = [(p, self.principal(p)) for p in st.principals]
            for p, who in grants:
                out |= self._grant(st, p, who, act)
        return frozenset(out)

    def _grant(
        self, st: RefStatement, p: RefPrincipal, who: z3.BoolRef, act: z3.BoolRef
    ) -> set[str]:
        whole = p.form in ("any", "account")
        exempting = [d for d in self.denies if d.not_principal]
        if not whole or not exempting:
            rest = self.match(st, principal=False) if not st.not_principal else self.match(st)
            return {p.canonical} if self.sat(rest, self.deny_all, who, act) else set()
        if self.sat(self.via(st, strict=True), who, act):
            return {p.canonical}
        out = set()
        for d in exempting:
            for e in d.principals:
                if e.form in ("any", "nobody") or not _within(p, e):
                    continue
                if self.sat(self.via(st), who, self.principal(e), act):
                    out.add(e.canonical)
        return out


def _exempts_all(st: RefStatement) -> bool:
    """A `NotPrincipal` listing `"*"` exempts every caller: the statement applies to nobody."""
    return st.not_principal and any(p.form == "any" for p in st.principals)


def _arn_partition(text: str) -> str | None:
    fields = text.split(":", 5)
    if len(fields) < 6 or fields[0] != "arn" or not fields[1].startswith("aws"):
        return None
    return None if "*" in fields[1] or "?" in fields[1] else fields[1]


def _inferred_partition(statements: Iterable[RefStatement], key_account: str) -> str:
    """The key's partition when no key ARN is given (the lead's decision, docs/policy.md "The
    key's partition"), by tiers and never by order: the partitions of the `kms` Resource ARNs
    of the key's account; else of the key account's principal ARNs; else of every principal
    ARN; else `aws`. The first tier naming any decides: `aws` if among them, else the first
    alphabetically. A bare account id names no partition (IAM expands it in the key's), so it
    does not vote; nor do condition values."""
    resources: set[str] = set()
    own: set[str] = set()
    anyone: set[str] = set()
    for st in statements:
        for r in st.resources:
            fields = r.split(":", 5)
            got = _arn_partition(r)
            if got is not None and fields[2] == "kms" and fields[4] == key_account:
                resources.add(got)
        for p in st.principals:
            got = _arn_partition(p.text) if p.form != "service" else None
            if got is not None:
                (own if p.text.split(":")[4] == key_account else anyone).add(got)
    for tier in (resources, own, own | anyone):
        if tier:
            return "aws" if "aws" in tier else min(tier)
    return "aws"


def _cone(world: list[z3.BoolRef], formulas: Iterable[z3.BoolRef]) -> list[z3.BoolRef]:
    """The world constraints connected to `formulas` through shared terms.

    Sound to drop the rest: every world constraint is satisfiable, and the ones left out share
    no term with what is kept. z3's string solver is much faster without them (it searches
    every string term it is given, related or not)."""
    wanted: set[str] = set().union(*(names(f) for f in formulas))
    rows: list[tuple[z3.BoolRef | None, frozenset[str]]] = [(w, names(w)) for w in world]
    kept: list[z3.BoolRef] = []
    grew = True
    while grew:
        grew = False
        for i, (w, found) in enumerate(rows):
            if w is not None and found & wanted:
                kept.append(w)
                wanted |= found
                rows[i] = (None, found)
                grew = True
    return kept


def _within(outer: RefPrincipal, inner: RefPrincipal) -> bool:
    if outer.form == "any":
        return True
    return inner.form != "service" and (inner.partition, inner.account) == (
        outer.partition,
        outer.account,
    )


def reference_answers(
    policy: Any,
    *,
    key_account: str,
    org_id: str | None = None,
    actions: Iterable[str] = ("kms:Decrypt",),
    key_partition: str | None = None,
) -> ReferenceAnswers:
    """The reference's answers for a valid policy (raises `Unsupported` where it cannot tell).

    `key_partition` is the key's (from its ARN); `None` infers it from the policy, as the
    analyser does without `key_arn`."""
    ref = _Policy(policy, key_account, org_id, key_partition)
    public = ref.is_public()
    return ReferenceAnswers(
        public=public,
        accounts=None if public else ref.accounts(),
        orgs=None if public else ref.orgs(),
        principals={a: ref.principals_allowed(a) for a in actions},
    )
