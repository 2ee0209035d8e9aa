"""What a key-policy change does to access: the review behind an approval workflow (pure).

`compare_key_policies` analyses both versions with `analyze_key_policy` and reports, per
principal, the kms actions gained and lost, whether the key becomes (or stops being) public,
the external entities gained and lost, the findings that appear and disappear, the Deny
statements removed, and the grants whose conditions got looser. Each gain comes with its
witness: the statement of the new policy that admits it and the conditions a request must meet.
It is what IAM Access Analyzer's `CheckNoNewAccess` answers, offline and explained.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from cmkguard.policy._actions import KMS_ACTIONS
from cmkguard.policy._engine import check_trusted
from cmkguard.policy.analysis import PolicyAnalysis, analyze_key_policy
from cmkguard.policy.document import Condition, Effect, KeyPolicy, Statement
from cmkguard.policy.findings import PolicyFinding

__all__ = ["AccessChange", "ChangeWitness", "PolicyChange", "compare_key_policies"]

PolicyInput = str | bytes | Mapping[str, Any] | KeyPolicy


@attrs.frozen
class ChangeWitness:
    """Why a principal has an action under a policy: the statement and what a request needs.

    `conditions` are the statement's conditions as text (empty: any request of the principal).
    """

    statement_index: int
    sid: str | None
    principal: str
    action: str
    conditions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "statement_index": self.statement_index,
            "sid": self.sid,
            "principal": self.principal,
            "action": self.action,
            "conditions": list(self.conditions),
        }

    def __str__(self) -> str:
        where = f"Statement[{self.statement_index}]" + (f" ({self.sid})" if self.sid else "")
        when = " when " + " and ".join(self.conditions) if self.conditions else " unconditionally"
        return f"{self.principal} may call {self.action} by {where}{when}"


@attrs.frozen
class AccessChange:
    """One principal's change: `kind` is `gained`, `lost` or `loosened` (same action, weaker
    conditions); `actions` the kms actions concerned; `witnesses` the new policy's statements
    that admit the gained or loosened access."""

    kind: str
    principal: str
    actions: tuple[str, ...]
    witnesses: tuple[ChangeWitness, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "kind": self.kind,
            "principal": self.principal,
            "actions": list(self.actions),
            "witnesses": [w.to_dict() for w in self.witnesses],
        }


def _finding_key(f: PolicyFinding) -> tuple[Any, ...]:
    # Statement indexes shift when statements are added: a finding is the same finding when
    # its id, principal, action and condition are.
    return (f.id, f.principal, f.action, f.condition)


@attrs.frozen
class PolicyChange:
    """The difference in access between two versions of a key policy.

    `has_new_access` is the pull-request gate: some principal gains an action or gets it on
    weaker conditions, the key becomes public, an external entity appears, or a Deny is removed
    (removing a Deny can only add access).
    """

    old: PolicyAnalysis
    new: PolicyAnalysis
    changes: tuple[AccessChange, ...]
    external_gained: frozenset[str]
    external_lost: frozenset[str]
    findings_added: tuple[PolicyFinding, ...]
    findings_removed: tuple[PolicyFinding, ...]
    denies_removed: tuple[Mapping[str, Any], ...] = attrs.field(hash=False)
    denies_added: tuple[Mapping[str, Any], ...] = attrs.field(hash=False)

    @property
    def becomes_public(self) -> bool:
        """Public after the change and not before."""
        return self.new.is_public and not self.old.is_public

    @property
    def stops_being_public(self) -> bool:
        """Public before the change and not after."""
        return self.old.is_public and not self.new.is_public

    @property
    def gained(self) -> tuple[AccessChange, ...]:
        """The principals that gain actions."""
        return tuple(c for c in self.changes if c.kind == "gained")

    @property
    def lost(self) -> tuple[AccessChange, ...]:
        """The principals that lose actions."""
        return tuple(c for c in self.changes if c.kind == "lost")

    @property
    def loosened(self) -> tuple[AccessChange, ...]:
        """The principals that keep actions on weaker conditions."""
        return tuple(c for c in self.changes if c.kind == "loosened")

    @property
    def has_new_access(self) -> bool:
        """Whether the change adds access (see the class docstring)."""
        return bool(
            self.gained
            or self.loosened
            or self.becomes_public
            or self.external_gained
            or self.denies_removed
        )

    @property
    def public_witnesses(self) -> tuple[PolicyFinding, ...]:
        """The new policy's `public-access` findings (which statement, principal, why)."""
        return tuple(f for f in self.new.findings if f.id == "public-access")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (what `cmkguard policy diff --format json` prints)."""
        return {
            "has_new_access": self.has_new_access,
            "becomes_public": self.becomes_public,
            "stops_being_public": self.stops_being_public,
            "public_witnesses": [f.to_dict() for f in self.public_witnesses]
            if self.becomes_public
            else [],
            "external_gained": sorted(self.external_gained),
            "external_lost": sorted(self.external_lost),
            "changes": [c.to_dict() for c in self.changes],
            "findings_added": [f.to_dict() for f in self.findings_added],
            "findings_removed": [f.to_dict() for f in self.findings_removed],
            "denies_removed": [dict(d) for d in self.denies_removed],
            "denies_added": [dict(d) for d in self.denies_added],
        }

    def __str__(self) -> str:
        lines = [f"Key-policy change: {'NEW ACCESS' if self.has_new_access else 'no new access'}"]
        if self.becomes_public:
            lines.append("  becomes PUBLIC:")
            lines += [
                f"    Statement[{f.statement_index}]: {f.explanation}"
                for f in self.public_witnesses
            ]
        if self.stops_being_public:
            lines.append("  stops being public")
        for label, ents in (
            ("external gained", self.external_gained),
            ("external lost", self.external_lost),
        ):
            if ents:
                lines.append(f"  {label}: {', '.join(sorted(ents))}")
        for c in self.changes:
            lines.append(f"  {c.kind:<8} {c.principal}: {', '.join(c.actions)}")
            lines += [f"           witness: {w}" for w in c.witnesses]
        for d in self.denies_removed:
            lines.append(f"  Deny removed: {json.dumps(d, sort_keys=True)}")
        for d in self.denies_added:
            lines.append(f"  Deny added: {json.dumps(d, sort_keys=True)}")
        for f in self.findings_added:
            lines.append(f"  + finding {f.id} ({f.severity.value}): {f.explanation}")
        for f in self.findings_removed:
            lines.append(f"  - finding {f.id} ({f.severity.value})")
        return "\n".join(lines)


def _granting(analysis: PolicyAnalysis) -> list[tuple[Statement, int, frozenset[str], set[str]]]:
    """Effective Allow statements: (statement, index, canonical principals, lower actions)."""
    out = []
    statements = analysis.policy.statements
    for ex in analysis.statements:
        if ex.effect != "Allow" or ex.verdict in ("no-effect", "deny") or not ex.actions:
            continue
        out.append(
            (
                statements[ex.index],
                ex.index,
                frozenset(ex.principals),
                {a.lower() for a in ex.actions},
            )
        )
    return out


def _paths(
    granting: list[tuple[Statement, int, frozenset[str], set[str]]], principal: str, action: str
) -> list[tuple[int, Statement, frozenset[Condition]]]:
    low = action.lower()
    return [
        (i, st, frozenset(st.conditions))
        for st, i, principals, actions in granting
        if principal in principals and low in actions
    ]


def _witness(i: int, st: Statement, principal: str, action: str) -> ChangeWitness:
    return ChangeWitness(i, st.sid, principal, action, tuple(str(c) for c in st.conditions))


def _deny_forms(policy: KeyPolicy) -> list[dict[str, Any]]:
    forms = []
    for st in policy.statements:
        if st.effect is Effect.DENY:
            rendered = st.render()
            rendered.pop("Sid", None)
            forms.append(rendered)
    return forms


def _canon(d: Mapping[str, Any]) -> str:
    return json.dumps(d, sort_keys=True)


def compare_key_policies(
    old: PolicyInput,
    new: PolicyInput,
    *,
    key_account: str,
    org_id: str | None = None,
    trusted_accounts: Iterable[str] = (),
    key_arn: str | None = None,
) -> PolicyChange:
    """What changing a key's policy from `old` to `new` does to access (pure, offline).

    Both are analysed with `analyze_key_policy` (same arguments); malformed input raises
    `PolicyParseError`. Who gains or loses each kms action is read from `principals_allowed`;
    an action kept on statements whose conditions are not at least those of an old statement
    is reported as `loosened` (a syntactic test: it may flag a change that only rewrites a
    condition, never misses one that drops a condition).
    """
    # Checked once here: a generator would be consumed by the first analysis.
    trusted = tuple(sorted(check_trusted(trusted_accounts)))
    a = analyze_key_policy(
        old, key_account=key_account, org_id=org_id, trusted_accounts=trusted, key_arn=key_arn
    )
    b = analyze_key_policy(
        new, key_account=key_account, org_id=org_id, trusted_accounts=trusted, key_arn=key_arn
    )
    old_grants, new_grants = _granting(a), _granting(b)
    # An action the new policy gives to anybody is lost by nobody (principals_allowed names
    # the "*" of that statement, not each principal it covers).
    public_after = {
        act.lower() for ex in b.statements if ex.verdict == "public" for act in ex.actions
    }
    gained: dict[str, list[str]] = {}
    lost: dict[str, list[str]] = {}
    looser: dict[str, list[str]] = {}
    witnesses: dict[tuple[str, str], list[ChangeWitness]] = {}
    for action in KMS_ACTIONS:
        before, after = a.principals_allowed(action), b.principals_allowed(action)
        for p in sorted(after - before):
            gained.setdefault(p, []).append(action)
            witnesses.setdefault(("gained", p), []).extend(
                _witness(i, st, p, action) for i, st, _ in _paths(new_grants, p, action)[:1]
            )
        for p in sorted(before - after) if action.lower() not in public_after else ():
            lost.setdefault(p, []).append(action)
        for p in sorted(before & after):
            old_paths = [c for _, _, c in _paths(old_grants, p, action)]
            for i, st, conds in _paths(new_grants, p, action):
                if not any(c <= conds for c in old_paths):
                    looser.setdefault(p, []).append(action)
                    witnesses.setdefault(("loosened", p), []).append(_witness(i, st, p, action))
                    break
    changes = [
        AccessChange(kind, p, tuple(actions), tuple(witnesses.get((kind, p), ())[:3]))
        for kind, table in (("gained", gained), ("loosened", looser), ("lost", lost))
        for p, actions in sorted(table.items())
    ]
    old_f = {_finding_key(f): f for f in a.findings}
    new_f = {_finding_key(f): f for f in b.findings}
    old_d, new_d = _deny_forms(a.policy), _deny_forms(b.policy)
    new_d_text, old_d_text = {_canon(d) for d in new_d}, {_canon(d) for d in old_d}
    return PolicyChange(
        old=a,
        new=b,
        changes=tuple(changes),
        external_gained=b.external_access - a.external_access,
        external_lost=a.external_access - b.external_access,
        findings_added=tuple(f for k, f in new_f.items() if k not in old_f),
        findings_removed=tuple(f for k, f in old_f.items() if k not in new_f),
        denies_removed=tuple(d for d in old_d if _canon(d) not in new_d_text),
        denies_added=tuple(d for d in new_d if _canon(d) not in old_d_text),
    )
