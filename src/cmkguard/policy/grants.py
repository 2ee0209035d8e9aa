"""Grants (`ListGrants`): the second access path to a key, beside its policy.

A grant gives its grantee the listed operations with no key-policy Allow needed, so an external
grantee is cross-account access; its constraint decides exactly which encryption contexts get
in (`GrantConstraint`), a grant carrying `CreateGrant` can be handed on to any principal, and
an explicit Deny in the key policy overrides a grant. `analyze_grants` decides, per operation,
who can use the key through its grants, each with a witness request (`GrantAccess`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from cmkguard._html import document, table
from cmkguard.arn import is_account_id
from cmkguard.errors import ConfigurationError, PolicyParseError
from cmkguard.policy._engine import check_account, check_org_id, check_trusted
from cmkguard.policy._grant_access import (
    DECRYPT_OPERATIONS,
    PLAINTEXT_KEY_OPERATIONS,
    GrantAccess,
    GrantDenial,
    KeyPolicyCheck,
    key_policy_check,
)
from cmkguard.policy._grant_constraints import (
    ENCRYPTION_CONTEXT_OPERATIONS,
    GrantConstraint,
    parse_constraints,
    takes_context,
)
from cmkguard.policy.document import SERVICE_RE, PrincipalKind, parse_aws_principal
from cmkguard.policy.findings import _POLICY_FINDINGS, PolicyFinding
from cmkguard.severity import Severity

__all__ = [
    "DECRYPT_OPERATIONS",
    "ENCRYPTION_CONTEXT_OPERATIONS",
    "GRANT_OPERATIONS",
    "PLAINTEXT_KEY_OPERATIONS",
    "GrantAccess",
    "GrantAnalysis",
    "GrantConstraint",
    "GrantDenial",
    "GrantView",
    "analyze_grants",
]

GRANT_OPERATIONS: tuple[str, ...] = (
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
)
"""Operations a grant can carry (botocore `kms` model, shape `GrantOperation`, 1.44)."""

_OPERATIONS = {op.lower(): op for op in GRANT_OPERATIONS}
_ACCOUNT_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::([0-9]{12}):root")


@attrs.frozen
class GrantView:
    """One grant, validated: who gets which operations under which constraints.

    `grantee_account` is `None` for service principals. `constraints` holds the
    `Constraints` mapping as given (`None` when absent); `constraint` is its meaning
    (`GrantConstraint`: which encryption contexts the grant admits).
    """

    grant_id: str
    grantee: str
    grantee_account: str | None
    operations: tuple[str, ...]
    retiring_principal: str | None = None
    retiring_account: str | None = None
    issuing_account: str | None = None
    name: str | None = None
    constraints: Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    constraint: GrantConstraint = attrs.field(factory=GrantConstraint)

    @property
    def has_context_constraint(self) -> bool:
        """Whether an encryption-context constraint limits the grant (a non-empty
        `EncryptionContextEquals` or `EncryptionContextSubset` map: AWS treats an empty one
        as not specified)."""
        return self.constraint.limits_context

    def admits(self, encryption_context: Mapping[str, str]) -> bool:
        """Whether a request with this encryption context meets the grant's constraint
        (for the operations that take one; keys compare without case, values exactly)."""
        return self.constraint.admits(encryption_context)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "grant_id": self.grant_id,
            "grantee": self.grantee,
            "grantee_account": self.grantee_account,
            "operations": list(self.operations),
            "retiring_principal": self.retiring_principal,
            "issuing_account": self.issuing_account,
            "name": self.name,
            "constraints": dict(self.constraints) if self.constraints else None,
            "constraint": self.constraint.describe(),
        }


@attrs.frozen
class GrantAnalysis:
    """The analysis of a key's grants (see `analyze_grants`).

    - `external_grantees`: grantees outside the key account that some grant operation
      reaches: account ids for account roots, ARNs for specific principals (services are
      never external).
    - `outside_grantees`: those of them outside the organization too (when the caller named
      its `member_accounts`; otherwise the same as `external_grantees`).
    - `accesses`: one witness request (`GrantAccess`) per principal, operation and grant,
      `"*"` standing for any principal a `CreateGrant` grantee can hand the operation to.
    - `denials`: grant operations that the key policy's Deny statements remove (only when
      the key policy was given: `key_policy_checked`).
    """

    key_account: str
    grants: tuple[GrantView, ...]
    external_grantees: frozenset[str]
    findings: tuple[PolicyFinding, ...]
    accesses: tuple[GrantAccess, ...] = ()
    denials: tuple[GrantDenial, ...] = ()
    outside_grantees: frozenset[str] = frozenset()
    key_policy_checked: bool = False

    @property
    def finding_ids(self) -> frozenset[str]:
        """The ids of the findings."""
        return frozenset(f.id for f in self.findings)

    def grantees_for(self, operation: str) -> frozenset[str]:
        """Grantees of grants carrying `operation` (`"Decrypt"` or `"kms:Decrypt"`), as
        listed; `principals_for` is the exact answer."""
        op = operation.lower().removeprefix("kms:")
        return frozenset(g.grantee for g in self.grants if op in {o.lower() for o in g.operations})

    def witnesses_for(self, operation: str) -> tuple[GrantAccess, ...]:
        """The witness requests for `operation` (`"Decrypt"` or `"kms:Decrypt"`)."""
        op = operation.lower().removeprefix("kms:")
        return tuple(a for a in self.accesses if a.operation.lower() == op)

    def principals_for(self, operation: str) -> frozenset[str]:
        """Who can call `operation` through a grant: grantees whose grant carries it, can
        meet its constraint and is not overridden by a key-policy Deny; `"*"` when a grantee
        with `CreateGrant` can hand it to any principal."""
        return frozenset(a.principal for a in self.witnesses_for(operation))

    def decrypters(self) -> frozenset[str]:
        """Who can decrypt data stored under the key through a grant (`DECRYPT_OPERATIONS`:
        `Decrypt`, `ReEncryptFrom`); `"*"` means any principal (by re-delegation)."""
        return frozenset().union(*(self.principals_for(op) for op in DECRYPT_OPERATIONS))

    def evidence(self, grant_id: str) -> dict[str, Any]:
        """What the analysis says about one grant, JSON-able: its constraint in words, its
        witness requests and the operations a key-policy Deny removes (audit evidence)."""
        view = next((g for g in self.grants if g.grant_id == grant_id), None)
        return {
            "constraint": view.constraint.describe() if view else None,
            "witnesses": [a.to_dict() for a in self.accesses if a.grant_id == grant_id],
            "denials": [d.to_dict() for d in self.denials if d.grant_id == grant_id],
        }

    def _repr_html_(self) -> str:
        """An HTML table for Jupyter: one row per grant, then the findings (all escaped)."""
        decrypting = set(DECRYPT_OPERATIONS)
        grants = table(
            ("grant", "grantee", "operations", "constraint", "can decrypt"),
            (
                (
                    g.grant_id,
                    g.grantee,
                    ", ".join(g.operations),
                    g.constraint.describe(),
                    ", ".join(
                        sorted(
                            {
                                "any principal" if a.principal == "*" else a.principal
                                for a in self.accesses
                                if a.grant_id == g.grant_id and a.operation in decrypting
                            }
                        )
                    )
                    or "nobody",
                )
                for g in self.grants
            ),
        )
        findings = table(
            ("severity", "finding", "why"),
            ((f.severity.value, f.id, f.explanation) for f in self.findings),
        )
        witnesses, removed = _access_tables(self)
        # The shared view stylesheet, so Jupyter's CSS does not right-align text.
        return document(
            "grants",
            f"<p><b>Grants of a key in account {html.escape(self.key_account)}</b></p>",
            grants,
            findings,
            "<p><b>Who gets in through the grants</b></p>",
            witnesses,
            *(("<p><b>Removed by the key policy</b></p>", removed) if self.denials else ()),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "key_account": self.key_account,
            "external_grantees": sorted(self.external_grantees),
            "outside_grantees": sorted(self.outside_grantees),
            "decrypters": sorted(self.decrypters()),
            "key_policy_checked": self.key_policy_checked,
            "grants": [g.to_dict() for g in self.grants],
            "accesses": [a.to_dict() for a in self.accesses],
            "denials": [d.to_dict() for d in self.denials],
            "findings": [f.to_dict() for f in self.findings],
        }


def _who(principal: str) -> str:
    return "any principal" if principal == "*" else principal


def _access_tables(analysis: GrantAnalysis) -> tuple[str, str]:
    """The notebook tables of witness requests and of operations the key policy removes."""
    witnesses = table(
        ("grant", "operation", "who", "witness request"),
        ((a.grant_id, a.operation, _who(a.principal), a.describe()) for a in analysis.accesses),
    )
    removed = table(
        ("grant", "operation", "who", "removed by key-policy statements"),
        (
            (d.grant_id, d.operation, _who(d.principal), ", ".join(str(i) for i in d.denied_by))
            for d in analysis.denials
        ),
    )
    return witnesses, removed


def _str_field(grant: Mapping[str, Any], name: str, where: str, *, required: bool) -> str | None:
    value = grant.get(name)
    if value is None:
        if required:
            raise PolicyParseError(where, f"missing {name}")
        return None
    if not isinstance(value, str) or not value:
        raise PolicyParseError(f"{where}.{name}", "expected a non-empty string")
    return value


def _principal_account(value: str, where: str) -> str | None:
    """The account of a grantee/retiring principal; `None` for a service principal."""
    if value.startswith("arn:") or value.isdigit():
        p = parse_aws_principal(value, where)
        if p.kind is PrincipalKind.WILDCARD or p.has_wildcard:
            raise PolicyParseError(where, f"a grant principal cannot be a wildcard: {value!r}")
        return p.account
    if SERVICE_RE.fullmatch(value):
        return None
    raise PolicyParseError(where, f"invalid principal {value!r}")


def _operations(raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
    ops_raw = raw.get("Operations")
    if not isinstance(ops_raw, list | tuple) or not ops_raw:
        raise PolicyParseError(f"{where}.Operations", "expected a non-empty list of operations")
    ops: list[str] = []
    for j, op in enumerate(ops_raw):
        canonical = _OPERATIONS.get(op.lower()) if isinstance(op, str) else None
        if canonical is None:
            raise PolicyParseError(f"{where}.Operations[{j}]", f"unknown grant operation {op!r}")
        if canonical not in ops:
            ops.append(canonical)
    return tuple(ops)


def _view(raw: Any, where: str, key_spec: str | None = None) -> GrantView:
    if not isinstance(raw, Mapping):
        raise PolicyParseError(where, "expected an object (a ListGrants entry)")
    grant_id = _str_field(raw, "GrantId", where, required=True)
    grantee = _str_field(raw, "GranteePrincipal", where, required=False) or _str_field(
        raw, "GranteeServicePrincipal", where, required=True
    )
    assert grant_id is not None
    assert grantee is not None
    grantee_account = _principal_account(grantee, f"{where}.GranteePrincipal")
    retiring = _str_field(raw, "RetiringPrincipal", where, required=False) or _str_field(
        raw, "RetiringServicePrincipal", where, required=False
    )
    retiring_account = (
        _principal_account(retiring, f"{where}.RetiringPrincipal") if retiring else None
    )
    ops = _operations(raw, where)
    constraints = raw.get("Constraints")
    constraint = parse_constraints(constraints, ops, f"{where}.Constraints", key_spec)
    issuing = _str_field(raw, "IssuingAccount", where, required=False)
    name = raw.get("Name")
    return GrantView(
        grant_id=grant_id,
        grantee=grantee,
        grantee_account=grantee_account,
        operations=ops,
        retiring_principal=retiring,
        retiring_account=retiring_account,
        issuing_account=issuing,
        name=name if isinstance(name, str) and name else None,
        constraints=dict(constraints) if constraints else None,
        constraint=constraint,
    )


def _candidates(g: GrantView, symmetric: bool = True) -> list[GrantAccess]:
    """The requests the grant admits, before the key policy has its say: the grantee's own,
    then (with `CreateGrant`) any principal's through a child grant. An operation taking an
    encryption context is left out when no context meets the constraint."""
    c = g.constraint
    example = c.example_context()
    out: list[GrantAccess] = []
    for via, principal in (("grant", g.grantee), ("re-delegation", "*")):
        if via == "re-delegation" and "CreateGrant" not in g.operations:
            break
        for op in g.operations:
            if via == "re-delegation" and op == "CreateGrant":
                continue  # a child's CreateGrant hands on nothing the parent's does not
            takes_context = symmetric and op in ENCRYPTION_CONTEXT_OPERATIONS
            if takes_context and example is None:
                continue
            out.append(
                GrantAccess(
                    g.grant_id,
                    principal,
                    op,
                    dict(example or {}) if takes_context else None,
                    via=via,
                    delegated_by=g.grantee if via == "re-delegation" else None,
                    constraint=c.describe(),
                    source_arn=c.source_arn,
                )
            )
    return out


def _decide(
    g: GrantView, check: KeyPolicyCheck | None, symmetric: bool = True
) -> tuple[list[GrantAccess], list[GrantDenial]]:
    candidates = _candidates(g, symmetric)
    if check is None:
        return candidates, []
    own = [a for a in candidates if a.via == "grant"]
    results = check.decide_all(own, g.constraint)
    create_denied = next(
        (r for r in results if isinstance(r, GrantDenial) and r.operation == "CreateGrant"), None
    )
    for access in candidates:
        if access.via != "re-delegation":
            continue
        if create_denied is not None:
            # The grantee cannot call CreateGrant, so it can hand nothing on.
            results.append(
                GrantDenial(g.grant_id, "*", access.operation, create_denied.denied_by, access.via)
            )
        else:
            results.append(check.decide(access, g.constraint))
    kept = [r for r in results if isinstance(r, GrantAccess)]
    return kept, [r for r in results if isinstance(r, GrantDenial)]


@attrs.frozen
class _Scope:
    key_account: str
    trusted: frozenset[str]
    members: frozenset[str]


def _findings(g: GrantView, kept: list[GrantAccess], scope: _Scope) -> list[PolicyFinding]:
    findings: list[PolicyFinding] = []
    condition = g.constraint.describe() if g.constraint.limits_context else None

    def add(fid: str, text: str, severity: Severity | None = None, **kw: Any) -> None:
        sev = severity or _POLICY_FINDINGS[fid].severity
        kw.setdefault("condition", condition)
        findings.append(PolicyFinding(fid, sev, text, grant_id=g.grant_id, **kw))

    own = [a for a in kept if a.via == "grant"]
    if g.grantee_account is not None and g.grantee_account != scope.key_account:
        findings += _cross_account(g, own, scope, condition)
    if g.retiring_account is not None and g.retiring_account != scope.key_account:
        add(
            "grant-retiring-external",
            f"Grant {g.grant_id} can be retired by {g.retiring_principal}, outside account "
            f"{scope.key_account}.",
            principal=g.retiring_principal,
            condition=None,
        )
    decrypts = [a for a in own if a.operation in DECRYPT_OPERATIONS]
    decrypting = [a.operation for a in decrypts]
    if decrypts and not g.constraint.limits_context:
        add(
            "grant-decrypt-unconstrained",
            f"Grant {g.grant_id} gives {', '.join(decrypting)} to {g.grantee} with no "
            "encryption-context constraint, so it can decrypt any ciphertext of the key "
            + (
                "the key policy's Denies let through "
                if decrypts[0].deny_escapes and decrypts[0].encryption_context
                else ""
            )
            + f"(e.g. {decrypts[0].describe()}).",
            principal=g.grantee,
            action=", ".join(decrypting),
        )
    if any(a.operation == "CreateGrant" for a in own):
        findings.append(_create_grant(g, kept, condition))
    return findings


def _cross_account(
    g: GrantView, own: list[GrantAccess], scope: _Scope, condition: str | None
) -> list[PolicyFinding]:
    m = _ACCOUNT_ARN_RE.fullmatch(g.grantee)
    entity = m.group(1) if m else g.grantee
    ops = ", ".join(a.operation for a in own) or ", ".join(g.operations)
    trusted = g.grantee_account in scope.trusted or entity in scope.trusted
    member = g.grantee_account in scope.members
    text = f"Grant {g.grant_id} gives {ops} to {g.grantee}, outside account {scope.key_account}"
    severity: Severity | None = None
    if not own:
        text += ", but the key policy's Deny statements remove every operation it carries."
        severity = Severity.INFO
    elif trusted:
        text += " (trusted account: downgraded)."
        severity = Severity.INFO
    elif member:
        text += " (an account of the organization)."
        severity = Severity.MEDIUM
    else:
        text += f"; for example {own[0].describe()}."
    return [
        PolicyFinding(
            "grant-cross-account",
            severity or _POLICY_FINDINGS["grant-cross-account"].severity,
            text,
            principal=g.grantee,
            action=ops,
            condition=condition,
            downgraded=trusted and bool(own),
            grant_id=g.grant_id,
        )
    ]


def _create_grant(g: GrantView, kept: list[GrantAccess], condition: str | None) -> PolicyFinding:
    handed = [a for a in kept if a.via == "re-delegation"]
    decrypting = [a.operation for a in handed if a.operation in DECRYPT_OPERATIONS]
    words = g.constraint.describe()
    if decrypting:
        example = next(a for a in handed if a.operation in DECRYPT_OPERATIONS)
        anywhere = example.reach is None
        severity = Severity.HIGH if anywhere else Severity.MEDIUM
        who = (
            "any principal, including outside the organization"
            if anywhere
            else f"any principal of {', '.join(example.reach or ())} (the key policy's Deny "
            "statements keep others out)"
        )
        text = (
            f"Grant {g.grant_id} carries CreateGrant with {', '.join(decrypting)}: "
            f"{g.grantee} can create a grant giving {', '.join(decrypting)} to {who} "
            f"({words}); for example {example.describe()}."
        )
    elif handed:
        severity = Severity.MEDIUM
        ops = ", ".join(a.operation for a in handed)
        text = (
            f"Grant {g.grant_id} lets {g.grantee} create grants giving {ops} to any "
            f"principal ({words}); it cannot give Decrypt, which the grant does not carry."
        )
    else:
        severity = Severity.LOW
        text = (
            f"Grant {g.grant_id} lets {g.grantee} create further grants, but only ones "
            "carrying CreateGrant themselves (a child grant's operations are a subset of "
            "its parent's): no grant it creates can give Decrypt or any other operation."
        )
    return PolicyFinding(
        "grant-create-grant",
        severity,
        text,
        principal=g.grantee,
        action=", ".join(["CreateGrant", *dict.fromkeys(a.operation for a in handed)]),
        condition=condition,
        grant_id=g.grant_id,
    )


def _external(g: GrantView, own: list[GrantAccess], key_account: str) -> str | None:
    if g.grantee_account is None or g.grantee_account == key_account or not own:
        return None
    m = _ACCOUNT_ARN_RE.fullmatch(g.grantee)
    return m.group(1) if m else g.grantee


def _check_members(member_accounts: Iterable[str]) -> frozenset[str]:
    if isinstance(member_accounts, str):
        raise ConfigurationError(
            f"member_accounts must be a list, not the string {member_accounts!r}"
        )
    members = frozenset(str(a) for a in member_accounts)
    for account in sorted(members):
        if not is_account_id(account):
            raise ConfigurationError(f"member_accounts: {account!r} is not a 12-digit account id")
    return members


def analyze_grants(
    grants: Iterable[Mapping[str, Any]],
    *,
    key_account: str,
    org_id: str | None = None,
    trusted_accounts: Iterable[str] = (),
    member_accounts: Iterable[str] = (),
    key_policy: str | bytes | Mapping[str, Any] | Any | None = None,
    key_arn: str | None = None,
    key_spec: str | None = None,
) -> GrantAnalysis:
    """Analyse a key's grants (`ListGrants` entries, e.g. `Grant.to_api()`).

    A malformed entry raises `cmkguard.PolicyParseError` located as `Grants[3].Operations`
    (constraints are validated as `CreateGrant` would: an encryption-context constraint on a
    grant carrying `Sign` is refused, naming the field). `trusted_accounts` downgrades findings
    about those accounts; `member_accounts` (the organization's accounts, as an organisation
    scan knows them) makes a grantee there inside access, not outside. `key_policy` (text,
    mapping or `KeyPolicy`), when given, lets its explicit Deny statements override grants, as
    KMS does; `org_id` and `key_arn` then inform that policy's evaluation (grants themselves
    never name an organization). `key_spec` (`KeyMetadata.KeySpec`, e.g. `RSA_2048`), when
    given, says whether the key takes an encryption context at all: only `SYMMETRIC_DEFAULT`
    keys do, so on any other a constraint is refused and no witness carries a context.
    """
    check_org_id(org_id)
    key_account = check_account(key_account)
    trusted = check_trusted(trusted_accounts)
    members = _check_members(member_accounts)
    views = tuple(_view(g, f"Grants[{i}]", key_spec) for i, g in enumerate(grants))
    check = (
        key_policy_check(key_policy, key_account, org_id, key_arn, members)
        if key_policy is not None
        else None
    )
    scope = _Scope(str(key_account), frozenset(trusted), members)
    findings: list[PolicyFinding] = []
    accesses: list[GrantAccess] = []
    denials: list[GrantDenial] = []
    external: set[str] = set()
    outside: set[str] = set()
    for g in views:
        kept, denied = _decide(g, check, takes_context(key_spec))
        accesses += kept
        denials += denied
        findings += _findings(g, kept, scope)
        entity = _external(g, [a for a in kept if a.via == "grant"], scope.key_account)
        if entity is not None:
            external.add(entity)
            if g.grantee_account not in members:
                outside.add(entity)
    findings.sort(key=lambda f: (-f.severity.rank, f.grant_id or "", f.id))
    return GrantAnalysis(
        str(key_account),
        views,
        frozenset(external),
        tuple(findings),
        tuple(accesses),
        tuple(denials),
        frozenset(outside),
        check is not None,
    )
