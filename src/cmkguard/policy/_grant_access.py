"""Who can use a key through its grants: one witness request per principal and operation.

A grant lets its grantee call its operations on the key, with no key-policy Allow needed; the
grant's constraint decides which encryption contexts get in. A grant carrying `CreateGrant`
also lets the grantee create child grants for any principal, with a subset of its operations and
a constraint at least as strict (AWS Developer Guide, "Granting CreateGrant permission"): so
`Decrypt` + `CreateGrant` puts `Decrypt` within reach of *any* principal, while `CreateGrant`
alone can only hand on `CreateGrant`.

An explicit Deny in the key policy overrides a grant ("No AWS principal ... has any permissions
to a KMS key unless they are explicitly allowed, and never denied, in a key policy, IAM policy,
or grant": Developer Guide, "Key policies in AWS KMS"). When the key policy is given, each
grant access is decided by the key-policy analyser itself: the policy's Deny statements plus
one Allow standing for the grant (its grantee, the operation, its constraint as
`kms:EncryptionContext:` conditions); the analyser's witness, or the Denies that remove the
Allow, answer the question.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from cmkguard.policy._grant_constraints import ENCRYPTION_CONTEXT_OPERATIONS, GrantConstraint
from cmkguard.policy.witness import AccessWitness, Denial, DenyEscape

if TYPE_CHECKING:
    from cmkguard.policy.analysis import PolicyAnalysis

__all__ = [
    "DECRYPT_OPERATIONS",
    "PLAINTEXT_KEY_OPERATIONS",
    "GrantAccess",
    "GrantDenial",
    "KeyPolicyCheck",
    "key_policy_check",
]

DECRYPT_OPERATIONS: tuple[str, ...] = ("Decrypt", "ReEncryptFrom")
"""Grant operations that read data already encrypted under the key: `Decrypt` returns the
plaintext; `ReEncryptFrom` decrypts under this key inside KMS and re-encrypts under a key of
the caller's choosing, which it can then decrypt."""

PLAINTEXT_KEY_OPERATIONS: tuple[str, ...] = (
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "DeriveSharedSecret",
    "Decapsulate",
)
"""Grant operations that return plaintext key material (a new data key, a private key, a
shared secret). They decrypt nothing already stored under the key, so they are not counted
as decrypting (`GrantAnalysis.decrypters`); the `...WithoutPlaintext` variants return none."""


def _context_words(context: Mapping[str, str] | None) -> str:
    if context is None:
        return "(the operation takes no encryption context)"
    if not context:
        return "with no encryption context"
    return "with encryption context " + json.dumps(dict(context), ensure_ascii=False)


@attrs.frozen
class GrantAccess:
    """One concrete request a grant lets through: the witness of a grant verdict.

    - `principal`: who calls: the grantee, or `"*"` (any principal) for `re-delegation`.
    - `operation`: the grant operation called (e.g. `"Decrypt"`).
    - `encryption_context`: one encryption context the grant admits for it (`None` when the
      operation takes none, e.g. `DescribeKey`).
    - `via`: `"grant"` (the grantee itself) or `"re-delegation"` (a child grant the grantee
      `delegated_by` creates with its `CreateGrant`, for any principal).
    - `constraint`: the grant's constraint in words.
    - `deny_escapes`: when the key policy was given, why each of its Denies does not apply.
    - `checked`: `False` when the key policy's Denies were not decided exactly (the analyser
      reached its bound, or its witness needed a context the grant refuses): access is assumed.
    - `reach`: for `"*"`, the accounts (and organizations) the key policy's Denies still let
      in, when they confine it (`None`: any principal anywhere).
    """

    grant_id: str
    principal: str
    operation: str
    encryption_context: Mapping[str, str] | None = attrs.field(hash=False)
    via: str = "grant"
    delegated_by: str | None = None
    constraint: str = "with any encryption context"
    source_arn: str | None = None
    deny_escapes: tuple[DenyEscape, ...] = ()
    checked: bool = True
    reach: tuple[str, ...] | None = None

    def describe(self) -> str:
        """The request in one line, e.g. for a terminal or a finding's evidence."""
        who = "any principal" if self.principal == "*" else self.principal
        if self.principal == "*" and self.reach is not None:
            who += f" of {', '.join(self.reach)}"
        line = f"{who} calls {self.operation} {_context_words(self.encryption_context)}"
        if self.source_arn:
            line += f" on behalf of {self.source_arn}"
        line += f" (grant {self.grant_id}"
        if self.via == "re-delegation":
            line += f", through a grant {self.delegated_by} creates with CreateGrant"
        return line + ")"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "grant_id": self.grant_id,
            "principal": self.principal,
            "operation": self.operation,
            "encryption_context": (
                None if self.encryption_context is None else dict(self.encryption_context)
            ),
            "via": self.via,
            "delegated_by": self.delegated_by,
            "constraint": self.constraint,
            "source_arn": self.source_arn,
            "request": self.describe(),
            "deny_escapes": [d.to_dict() for d in self.deny_escapes],
            "reach": None if self.reach is None else list(self.reach),
            **({} if self.checked else {"checked": False}),
        }


@attrs.frozen
class GrantDenial:
    """A grant operation the key policy's Deny statements remove for `principal`."""

    grant_id: str
    principal: str
    operation: str
    denied_by: tuple[int, ...]
    via: str = "grant"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "grant_id": self.grant_id,
            "principal": self.principal,
            "operation": self.operation,
            "via": self.via,
            "denied_by": list(self.denied_by),
        }


def _principal_field(principal: str) -> Any:
    if principal == "*":
        return "*"
    if principal.startswith("arn:") or principal.isdigit():
        return {"AWS": principal}
    return {"Service": principal}


def _context_keys(denies: Iterable[Mapping[str, Any]]) -> set[str]:
    """The `kms:EncryptionContext:<key>` condition keys the Denies look at (lower case)."""
    keys: set[str] = set()
    for deny in denies:
        for block in (deny.get("Condition") or {}).values():
            if isinstance(block, Mapping):
                keys |= {
                    k.lower()
                    for k in block
                    if isinstance(k, str) and k.lower().startswith("kms:encryptioncontext:")
                }
    return keys


def _condition(
    constraint: GrantConstraint, operation: str, denies: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The grant's constraint as key-policy conditions, for the request `operation` makes.

    An Equals constraint fixes the whole context, so every other context key a Deny looks
    at is absent (`Null`): the analyser cannot then pick a value the grant refuses."""
    cond: dict[str, Any] = {}
    if operation in ENCRYPTION_CONTEXT_OPERATIONS and constraint.limits_context:
        pairs = dict(constraint.subset or {})
        pairs.update(constraint.equals or {})
        # Keys of one constraint differing only by case would collide as condition keys
        # (condition keys ignore case); AWS advises against them; the first one is kept.
        seen: dict[str, str] = {}
        for k, v in pairs.items():
            seen.setdefault(f"kms:EncryptionContext:{k}".lower(), v)
        cond["StringEquals"] = dict(sorted(seen.items()))
        if constraint.equals:
            keys = sorted(constraint.equals)
            cond["ForAllValues:StringEquals"] = {"kms:EncryptionContextKeys": keys}
            absent = sorted(_context_keys(denies) - set(seen))
            if absent:
                cond["Null"] = dict.fromkeys(absent, "true")
    if constraint.source_arn:
        cond["ArnEquals"] = {"aws:SourceArn": constraint.source_arn}
    return cond


def _colliding(context: Mapping[str, str]) -> bool:
    """Whether two keys of `context` differ only by case."""
    return len({k.lower() for k in context}) < len(context)


def _witness_context(w: AccessWitness) -> dict[str, str]:
    prefix = "kms:encryptioncontext:"
    return {
        k[len(prefix) :]: v
        for k, v in w.context.items()
        if k.lower().startswith(prefix) and isinstance(v, str)
    }


@attrs.frozen
class KeyPolicyCheck:
    """The key policy's Deny statements, asked about one grant request at a time."""

    denies: tuple[Mapping[str, Any], ...]
    deny_indexes: tuple[int, ...]
    """The index in the key policy of each of `denies`."""
    deny_actions: tuple[tuple[tuple[str, ...], bool], ...]
    """Each Deny's `Action` (or `NotAction`, flagged true) patterns."""
    version: str | None
    key_account: str
    org_id: str | None
    key_arn: str | None
    members: frozenset[str] = frozenset()
    """The organization's accounts, when known: a grantee's account then says whether the
    caller is in `org_id` (the key-policy analyser alone would let any account be)."""

    def decide(self, access: GrantAccess, constraint: GrantConstraint) -> GrantAccess | GrantDenial:
        """`access` with the key policy's say: kept (with its Deny escapes) or denied."""
        relevant = self._covering(f"kms:{access.operation}")
        if not relevant:
            return access  # no Deny names the operation, so none can remove it
        return self._restricted(relevant)._decide(access, constraint)

    def decide_all(
        self, accesses: Sequence[GrantAccess], constraint: GrantConstraint
    ) -> list[GrantAccess | GrantDenial]:
        """`decide` for one grant's own requests (one grantee), with one analysis for all of
        them: the Denies plus one Allow per operation, each read back by its statement index
        (a missing witness falls back to `decide`)."""
        covering = [self._covering(f"kms:{a.operation}") for a in accesses]
        need = [i for i, c in enumerate(covering) if c]
        if len(need) < 2 or any(a.principal == "*" for a in accesses):
            return [self.decide(a, constraint) for a in accesses]
        relevant = sorted({i for c in covering for i in c})
        sub = self._restricted(relevant)
        allows = [sub._allow(accesses[i], constraint) for i in need]
        analysis = sub._analyse(allows)
        out: list[GrantAccess | GrantDenial] = list(accesses)
        for k, i in enumerate(need):
            index = len(sub.denies) + k
            if not analysis.principals_allowed(f"kms:{accesses[i].operation}"):
                out[i] = sub._denial(accesses[i], analysis.denials, index)
            elif any(w.allowed_by == index for w in analysis.witnesses):
                out[i] = sub._kept(
                    accesses[i], constraint, analysis.witnesses, analysis.exact, index
                )
            else:
                out[i] = self.decide(accesses[i], constraint)
        return out

    def _restricted(self, positions: Sequence[int]) -> KeyPolicyCheck:
        return attrs.evolve(
            self,
            denies=tuple(self.denies[i] for i in positions),
            deny_indexes=tuple(self.deny_indexes[i] for i in positions),
            deny_actions=tuple(self.deny_actions[i] for i in positions),
        )

    def _covering(self, action: str) -> list[int]:
        """The positions of the Denies whose actions cover `action`."""
        from cmkguard.policy._glob import glob_match

        return [
            i
            for i, (patterns, negated) in enumerate(self.deny_actions)
            if any(glob_match(p, action) for p in patterns) is not negated
        ]

    def _allow(self, access: GrantAccess, constraint: GrantConstraint) -> dict[str, Any]:
        """The Allow statement standing for one grant request."""
        allow: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": _principal_field(access.principal),
            "Action": f"kms:{access.operation}",
            "Resource": "*",
        }
        cond = _condition(constraint, access.operation, self.denies)
        for operator, block in self._membership(access.principal).items():
            cond.setdefault(operator, {}).update(block)
        if cond:
            allow["Condition"] = cond
        return allow

    def _membership(self, principal: str) -> dict[str, Any]:
        """What the organization's member list says of the grantee's `aws:PrincipalOrgID`."""
        if not self.members or self.org_id is None or principal == "*":
            return {}
        parts = principal.split(":")
        account = principal if principal.isdigit() else parts[4] if len(parts) > 4 else ""
        if not account:
            return {}  # a service principal: no organization
        if account in self.members:
            return {"StringEquals": {"aws:PrincipalOrgID": self.org_id}}
        return {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": self.org_id}}

    def _analyse(self, allows: Sequence[Mapping[str, Any]]) -> PolicyAnalysis:
        from cmkguard.policy.analysis import analyze_key_policy

        doc: dict[str, Any] = {"Statement": [*self.denies, *allows]}
        if self.version is not None:
            doc["Version"] = self.version
        # JSON text, so that the analyser's memo serves every key with the same policy+grant.
        return analyze_key_policy(
            json.dumps(doc, sort_keys=True),
            key_account=self.key_account,
            org_id=self.org_id,
            key_arn=self.key_arn,
        )

    def _denial(
        self, access: GrantAccess, denials: Iterable[Denial], allow_index: int
    ) -> GrantDenial:
        denied_by: set[int] = set()
        for d in denials:
            if d.statement_index == allow_index:
                denied_by |= {self.deny_indexes[i] for i in d.denied_by}
        return GrantDenial(
            access.grant_id,
            access.principal,
            access.operation,
            tuple(sorted(denied_by)),
            access.via,
        )

    def _decide(
        self, access: GrantAccess, constraint: GrantConstraint
    ) -> GrantAccess | GrantDenial:
        analysis = self._analyse([self._allow(access, constraint)])
        allow_index = len(self.denies)
        if not analysis.principals_allowed(f"kms:{access.operation}"):
            return self._denial(access, analysis.denials, allow_index)
        kept = self._kept(access, constraint, analysis.witnesses, analysis.exact, allow_index)
        if access.principal == "*" and not analysis.is_public:
            reach = analysis.external_access | {self.key_account}
            kept = attrs.evolve(kept, reach=tuple(sorted(reach)))
        return kept

    def _kept(
        self,
        access: GrantAccess,
        constraint: GrantConstraint,
        witnesses: Iterable[AccessWitness],
        exact: bool,
        allow_index: int,
    ) -> GrantAccess:
        w = next((w for w in witnesses if w.allowed_by == allow_index), None)
        if w is None:
            return attrs.evolve(access, checked=False)
        context = access.encryption_context
        checked = exact and w.checked
        if context is not None:
            # The constraint's own pairs, plus what the witness chose for the other keys.
            own = {k.lower() for k in context}
            found = {k: v for k, v in _witness_context(w).items() if k.lower() not in own}
            found.update(context)
            if constraint.admits(found) and not _colliding(context):
                context = dict(sorted(found.items()))
            else:
                # Keys differing only by case are one condition key to the policy analyser,
                # so its answer may have looked at one of their values only.
                checked = False
        escapes = tuple(
            attrs.evolve(e, statement_index=self.deny_indexes[e.statement_index])
            for e in w.deny_escapes
        )
        return attrs.evolve(
            access, encryption_context=context, deny_escapes=escapes, checked=checked
        )


def key_policy_check(
    policy: Any,
    key_account: str,
    org_id: str | None,
    key_arn: str | None,
    members: frozenset[str] = frozenset(),
) -> KeyPolicyCheck:
    """The Deny statements of `policy` (text, mapping or `KeyPolicy`), ready to ask."""
    from cmkguard.policy.document import Effect, parse_key_policy

    parsed = parse_key_policy(policy)
    pairs = [(i, s) for i, s in enumerate(parsed.statements) if s.effect is Effect.DENY]
    return KeyPolicyCheck(
        tuple(s.render() for _, s in pairs),
        tuple(i for i, _ in pairs),
        tuple((s.actions, s.not_action) for _, s in pairs),
        parsed.version,
        key_account,
        org_id,
        key_arn,
        members,
    )
