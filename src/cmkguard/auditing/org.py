"""Organisation-wide answers over an organisation's inventory (pure).

`organization_view` answers what a central security team asks of a whole organisation: CMK
coverage by account and by OU (worst first), for every key the resources that depend on it in
every account (the kill-switch view: "if we disable this key during an incident, these become
unreadable", over customer-managed keys only: an AWS managed key cannot be disabled, its
resources count in coverage as not on a CMK), the keys reachable from accounts outside the
organisation, and the accounts that could not be read. The organisation is the zone of trust:
a resource on a CMK of another account *of the organisation* (the central key account's) is on
a customer-managed key of ours, not on an unexplained cross-account key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from cmkguard._html import document, table
from cmkguard.arn import is_account_id, is_org_id, parse_arn
from cmkguard.auditing.config import AuditPolicy
from cmkguard.auditing.kpis import Coverage, coverage_of
from cmkguard.errors import PolicyParseError
from cmkguard.inventory.values import EncryptedResource, Inventory, KeyClass, KmsKey, OrgScope
from cmkguard.policy import analyze_key_policy
from cmkguard.types import KeyArn

__all__ = [
    "AccountCoverage",
    "Dependent",
    "KeyDependents",
    "OrganizationView",
    "OuCoverage",
    "OutsideAccess",
    "UnreadAccount",
    "in_org_coverage",
    "organization_policy",
    "organization_view",
]


def _account_of(arn: str | None) -> str | None:
    if not arn:
        return None
    try:
        return parse_arn(arn).account or None
    except ValueError:
        return None


def in_org_coverage(resources: Iterable[EncryptedResource], members: frozenset[str]) -> Coverage:
    """CMK coverage counting keys of the organisation's accounts as customer-managed."""
    return coverage_of(resources, members)


def organization_policy(policy: AuditPolicy, inventory: Inventory) -> AuditPolicy:
    """`policy` with the inventory's organisation as its zone of trust.

    The organisation id becomes the policy's `org_id` (unless the policy names one) and
    every account of the organisation is trusted: their keys and grants are internal, an
    account outside it is external.
    """
    scope = inventory.organization
    if scope is None:
        return policy
    # The org id itself is trusted too: an aws:PrincipalOrgID grant to our organisation is
    # expected (INFO), one to another organisation stays a finding.
    org_id = policy.org_id or scope.org_id
    trusted = tuple(sorted({*policy.trusted_accounts, *scope.member_accounts, org_id}))
    return attrs.evolve(policy, org_id=org_id, trusted_accounts=trusted)


@attrs.frozen
class AccountCoverage:
    """One account's CMK coverage (in-organisation keys count); `read` false: not read."""

    account: str
    name: str
    ou: str
    coverage: Coverage
    read: bool = True


@attrs.frozen
class OuCoverage:
    """CMK coverage of every resource in the accounts under one OU path (at any depth):
    `accounts` read, `unread` not read (their resources are unknown, so not counted)."""

    ou: str
    accounts: int
    coverage: Coverage
    unread: int = 0


@attrs.frozen
class Dependent:
    """A resource that depends on a key: `purpose` `"storage"` or a secondary key's."""

    account: str
    resource_arn: str
    resource_type: str
    name: str
    purpose: str = "storage"


@attrs.frozen
class KeyDependents:
    """A customer-managed key and everything in any account that becomes unreadable if it is
    disabled (AWS managed keys are not listed: nobody can disable them)."""

    key_arn: str
    key_account: str
    aliases: tuple[str, ...]
    state: str
    dependents: tuple[Dependent, ...]

    @property
    def accounts(self) -> tuple[str, ...]:
        """The accounts with at least one dependent resource."""
        return tuple(sorted({d.account for d in self.dependents}))


@attrs.frozen
class OutsideAccess:
    """A key whose policy or grants let principals outside the organisation in."""

    key_arn: str
    key_account: str
    principals: tuple[str, ...]
    via: str  # "key policy" | "grant"
    aliases: tuple[str, ...] = ()


@attrs.frozen
class UnreadAccount:
    """An account of the organisation the scan could not read, and why."""

    account: str
    ou: str
    reason: str


def _worst_first(percent: float | None, name: str) -> tuple[int, float, str]:
    return (0 if percent is None else 1, percent or 0.0, name)


@attrs.frozen
class OrganizationView:
    """The organisation-wide answers (see `organization_view`)."""

    org_id: str
    coverage: Coverage
    coverage_by_account: tuple[AccountCoverage, ...]
    coverage_by_ou: tuple[OuCoverage, ...]
    kill_switch: tuple[KeyDependents, ...]
    outside_access: tuple[OutsideAccess, ...]
    unread: tuple[UnreadAccount, ...]
    suspended: tuple[str, ...]

    def dependents_of(self, key_arn: str) -> KeyDependents | None:
        """The kill-switch answer for one key (`None`: nothing depends on it)."""
        for k in self.kill_switch:
            if k.key_arn == key_arn:
                return k
        return None

    @property
    def complete(self) -> bool:
        """Whether every selected account was read."""
        return not self.unread

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "org_id": self.org_id,
            "coverage": self.coverage.to_dict(),
            "coverage_by_account": [
                {"account": a.account, "name": a.name, "ou": a.ou, "read": a.read}
                | a.coverage.to_dict()
                for a in self.coverage_by_account
            ],
            "coverage_by_ou": [
                {"ou": o.ou, "accounts": o.accounts, "unread": o.unread} | o.coverage.to_dict()
                for o in self.coverage_by_ou
            ],
            "kill_switch": [
                {
                    "key_arn": k.key_arn,
                    "key_account": k.key_account,
                    "aliases": list(k.aliases),
                    "state": k.state,
                    "accounts": list(k.accounts),
                    "dependents": [attrs.asdict(d) for d in k.dependents],
                }
                for k in self.kill_switch
            ],
            "outside_access": [
                {
                    "key_arn": o.key_arn,
                    "key_account": o.key_account,
                    "aliases": list(o.aliases),
                    "principals": list(o.principals),
                    "via": o.via,
                }
                for o in self.outside_access
            ],
            "unread": [attrs.asdict(u) for u in self.unread],
            "suspended": list(self.suspended),
        }

    def _repr_html_(self) -> str:
        pct = self.coverage.percent
        parts = [
            f"<h3>Organisation {self.org_id}: CMK coverage "
            f"{'n/a' if pct is None else f'{pct:.1f} %'}</h3>",
            *self._coverage_html(),
            *self._keys_html(),
        ]
        if self.suspended:
            parts.append(f"<p>Suspended (not scanned): {', '.join(self.suspended)}</p>")
        # The shared view stylesheet: numbers align right, identifiers stay on one line.
        return document("organization", *parts)

    def _coverage_html(self) -> list[str]:
        return [
            "<h4>Coverage by OU (worst first)</h4>",
            table(
                ["OU", "accounts read", "not read", "resources", "on a CMK", "%"],
                (
                    (
                        o.ou,
                        o.accounts,
                        o.unread,
                        o.coverage.measured,
                        o.coverage.on_cmk,
                        o.coverage.percent,
                    )
                    for o in self.coverage_by_ou
                ),
                numeric=[1, 2, 3, 4, 5],
            ),
            "<h4>Coverage by account (worst first)</h4>",
            table(
                ["account", "name", "OU", "resources", "on a CMK", "%"],
                (
                    (
                        a.account,
                        a.name,
                        a.ou,
                        a.coverage.measured if a.read else "not read",
                        a.coverage.on_cmk if a.read else "",
                        a.coverage.percent,
                    )
                    for a in self.coverage_by_account
                ),
                code=[0],
                nowrap=[0],
                numeric=[3, 4, 5],
            ),
        ]

    def _keys_html(self) -> list[str]:
        return [
            "<h4>Kill switch: what each key would make unreadable</h4>",
            table(
                ["key", "aliases", "state", "accounts", "resources"],
                (
                    (
                        k.key_arn,
                        ", ".join(k.aliases),
                        k.state,
                        ", ".join(k.accounts),
                        len(k.dependents),
                    )
                    for k in self.kill_switch
                ),
                code=[0],
                nowrap=[0],
                numeric=[4],
            ),
            "<h4>Keys reachable from outside the organisation</h4>",
            table(
                ["key", "aliases", "outside principals", "via"],
                (
                    (o.key_arn, ", ".join(o.aliases), ", ".join(o.principals), o.via)
                    for o in self.outside_access
                ),
                code=[0],
            ),
            "<h4>Accounts not read</h4>",
            table(
                ["account", "OU", "reason"],
                ((u.account, u.ou, u.reason) for u in self.unread),
                code=[0],
            ),
        ]


_NOT_DISABLEABLE = frozenset({KeyClass.AWS_MANAGED, KeyClass.AWS_OWNED})
"""Keys nobody in the organisation can disable (AWS manages them): not a kill switch; their
resources count in coverage, as not on a CMK."""


def _dependents(inventory: Inventory) -> dict[str, list[Dependent]]:
    index: dict[str, list[Dependent]] = {}
    for r in inventory.resources:
        if r.key_arn and r.key_class not in _NOT_DISABLEABLE:
            index.setdefault(r.key_arn, []).append(
                Dependent(r.account, r.arn, r.resource_type, r.name)
            )
        for use in r.secondary_keys:
            if use.key_arn and use.key_class not in _NOT_DISABLEABLE:
                index.setdefault(use.key_arn, []).append(
                    Dependent(r.account, r.arn, r.resource_type, r.name, use.purpose)
                )
    return index


def _kill_switch(inventory: Inventory) -> tuple[KeyDependents, ...]:
    index = _dependents(inventory)
    keys: Mapping[KeyArn, KmsKey] = {**inventory.external_keys, **inventory.keys}
    out = []
    for arn, deps in index.items():
        key = keys.get(KeyArn(arn))
        if key is not None and key.is_aws_managed:
            continue  # the resource's record and the key's metadata disagree: trust the key
        out.append(
            KeyDependents(
                key_arn=arn,
                key_account=key.account if key else (_account_of(arn) or ""),
                aliases=key.aliases if key else (),
                state=key.state if key else "unknown",
                dependents=tuple(sorted(deps, key=lambda d: (d.account, d.resource_arn))),
            )
        )
    out.sort(key=lambda k: (-len(k.dependents), k.key_arn))
    return tuple(out)


def _outside(principal: str, members: frozenset[str], org_id: str) -> bool:
    if principal == "*":
        return True
    if is_org_id(principal):
        return principal != org_id
    if is_account_id(principal):
        return principal not in members
    account = _account_of(principal)
    if account is None:  # a service principal (rds.amazonaws.com): AWS itself
        return False
    return account not in members


def _grant_outsiders(key: KmsKey, members: frozenset[str], org_id: str) -> tuple[str, ...]:
    """Principals outside the organisation the key's grants let in, and external retiring
    principals. Exact (docs/policy.md, "Grants"): a grant whose operations the key policy's
    Deny removes lets nobody in; Decrypt + CreateGrant reaches any principal (`"*"`), unless
    the key policy's Denies confine who can be handed it."""
    if not key.grants:
        return ()
    try:
        grants = key.analyze_grants(org_id=org_id, member_accounts=members)
    except PolicyParseError:  # malformed grants: their grantees as listed
        listed = {g.grantee_principal for g in key.grants}
        return tuple(sorted(p for p in listed if _outside(p, members, org_id)))
    reached: set[str] = set()
    for a in grants.accesses:
        reached |= set(a.reach) if a.principal == "*" and a.reach is not None else {a.principal}
    reached |= {g.retiring_principal for g in grants.grants if g.retiring_principal}
    return tuple(sorted(p for p in reached if _outside(p, members, org_id)))


def _outside_access(inventory: Inventory, scope: OrgScope) -> tuple[OutsideAccess, ...]:
    members = scope.member_accounts
    out = []
    for key in inventory.keys.values():
        if key.is_aws_managed:
            continue
        if key.policy:
            try:
                analysis = analyze_key_policy(
                    key.policy, key_account=key.account, org_id=scope.org_id, key_arn=key.arn
                )
            except PolicyParseError:
                analysis = None
            if analysis is not None:
                outside = sorted(
                    p for p in analysis.external_access if _outside(p, members, scope.org_id)
                )
                if outside:
                    out.append(
                        OutsideAccess(
                            key.arn, key.account, tuple(outside), "key policy", key.aliases
                        )
                    )
        outside_grants = _grant_outsiders(key, members, scope.org_id)
        if outside_grants:
            out.append(OutsideAccess(key.arn, key.account, outside_grants, "grant", key.aliases))
    return tuple(out)


def _unread(inventory: Inventory, scope: OrgScope) -> tuple[UnreadAccount, ...]:
    reasons: dict[str, str] = {}
    for e in inventory.errors:
        if e.account in scope.unread and e.account not in reasons:
            reasons[e.account] = f"{e.operation}: {e.reason}"
    return tuple(
        UnreadAccount(a, scope.account_ous.get(a, "?"), reasons.get(a, "not scanned"))
        for a in scope.unread
    )


def _ou_prefixes(ou: str) -> list[str]:
    if ou in ("/", "?"):
        return [ou]
    parts = ou.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def organization_view(inventory: Inventory) -> OrganizationView:
    """The organisation-wide answers over an organisation's inventory.

    The inventory must come from `cmkguard.merge_results` with the organisation (it carries
    an `OrgScope`); a `ConfigurationError` says so otherwise.
    """
    scope = inventory.organization
    if scope is None:
        from cmkguard.errors import ConfigurationError

        raise ConfigurationError(
            "this inventory has no organisation: build it with cmkguard.merge_results("
            "results, organization) (CLI: cmkguard scan --organization)"
        )
    members = scope.member_accounts
    by_account: dict[str, list[EncryptedResource]] = {}
    for r in inventory.resources:
        by_account.setdefault(r.account, []).append(r)
    accounts = []
    for account in sorted({*inventory.accounts, *scope.unread}):
        accounts.append(
            AccountCoverage(
                account,
                scope.account_names.get(account, ""),
                scope.account_ous.get(account, "?"),
                in_org_coverage(by_account.get(account, ()), members),
                read=account not in scope.unread,
            )
        )
    accounts.sort(key=lambda a: (a.read, *_worst_first(a.coverage.percent, a.account)))
    by_ou: dict[str, list[AccountCoverage]] = {}
    for a in accounts:
        for prefix in _ou_prefixes(a.ou):
            by_ou.setdefault(prefix, []).append(a)
    ous = [
        OuCoverage(
            ou,
            sum(a.read for a in under),
            in_org_coverage(
                (r for a in under if a.read for r in by_account.get(a.account, ())), members
            ),
            unread=sum(not a.read for a in under),
        )
        for ou, under in by_ou.items()
    ]
    ous.sort(key=lambda o: _worst_first(o.coverage.percent, o.ou))
    return OrganizationView(
        org_id=scope.org_id,
        coverage=in_org_coverage(inventory.resources, members),
        coverage_by_account=tuple(accounts),
        coverage_by_ou=tuple(ous),
        kill_switch=_kill_switch(inventory),
        outside_access=_outside_access(inventory, scope),
        unread=_unread(inventory, scope),
        suspended=scope.suspended,
    )
