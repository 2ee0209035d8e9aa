"""Who can do what with a key: the key-policy analyser (key-policy-semantics.md).

The policy is reduced to *pieces*: (statement, principal, set of kms actions, scope of callers).
Every ``Allow`` statement that can apply yields pieces; every ``Deny`` then removes actions from
the pieces it covers (unconditionally) or confines them to a scope (a negated condition on a
restricting key). All answers - ``is_public``, ``external_access``, ``principals_allowed``,
findings and per-statement explanations - are read off the surviving pieces. The action space is
the finite model in ``_actions.py``, so globs, ``NotAction`` and partial Denies are set algebra.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import attrs

from cmkguard.policy._glob import ALL_ACTIONS, CANONICAL_ACTION, expand_action, glob_match
from cmkguard.policy._resources import Applies, resource_applies
from cmkguard.policy.conditions import (
    Dimension,
    Outcome,
    Scope,
    allow_outcome,
    arn_account,
    deny_cap,
    is_service_exemption,
    principal_matches_arns,
)
from cmkguard.policy.document import (
    Condition,
    Effect,
    KeyPolicy,
    Principal,
    PrincipalKind,
    Statement,
    parse_key_policy,
)
from cmkguard.policy.findings import POLICY_FINDINGS, PolicyFinding
from cmkguard.severity import Severity

__all__ = ["PolicyAnalysis", "StatementExplanation", "analyze_key_policy"]

_WILDCARD = Principal("AWS", "*", PrincipalKind.WILDCARD)
_OPEN = Scope()
_ADMIN_ACTIONS = frozenset(
    f"kms:{a}".lower()
    for a in (
        "PutKeyPolicy",
        "ScheduleKeyDeletion",
        "DisableKey",
        "DisableKeyRotation",
        "DeleteImportedKeyMaterial",
        "ImportKeyMaterial",
        "UpdatePrimaryRegion",
    )
)
_USE_ACTIONS = frozenset(
    f"kms:{a}".lower()
    for a in (
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
        "Sign",
        "GenerateMac",
        "DeriveSharedSecret",
        "Decapsulate",
    )
)
_CREATE_GRANT = "kms:creategrant"
_SOURCE_KEYS = frozenset(
    {"aws:sourceaccount", "aws:sourcearn", "aws:sourceowner", "aws:sourceorgid"}
    | {"aws:sourceorgpaths"}
)
_SUMMARY_ACTIONS = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:CreateGrant",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
)
_VERDICT_RANK = {
    "public": 6,
    "cross-account": 5,
    "ip-restricted": 4,
    "network-restricted": 3,
    "same-account": 2,
    "service": 1,
}


@attrs.frozen
class StatementExplanation:
    """Why one statement is public, cross-account, same-account, a service grant or inert.

    ``verdict`` is one of ``public``, ``cross-account``, ``ip-restricted``,
    ``network-restricted``, ``same-account``, ``service``, ``no-effect`` or ``deny``;
    ``reason`` is one sentence. ``principals`` and ``actions`` are what survives (canonical).
    """

    index: int
    sid: str | None
    effect: str
    verdict: str
    reason: str
    principals: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "index": self.index,
            "sid": self.sid,
            "effect": self.effect,
            "verdict": self.verdict,
            "reason": self.reason,
            "principals": list(self.principals),
            "actions": list(self.actions),
        }


@attrs.frozen
class _Piece:
    index: int
    principal: Principal
    actions: frozenset[str]
    scope: Scope


@attrs.frozen
class _Deny:
    index: int
    statement: Statement
    actions: frozenset[str]
    mode: str  # full | full-nonservice | cap | conditional | never | partial-resource
    cap: Scope | None
    note: str


@attrs.frozen
class PolicyAnalysis:
    """The analysis of one key policy for one key account (see :func:`analyze_key_policy`).

    ``external_access`` lists ``"*"`` when public, 12-digit account ids, ARNs of specific external
    principals and org ids; trusted accounts are listed too (their findings are downgraded).
    """

    key_account: str
    is_public: bool
    external_access: frozenset[str]
    policy: KeyPolicy = attrs.field(repr=False)
    org_id: str | None = None
    trusted_accounts: frozenset[str] = frozenset()
    _builder: _Builder | None = attrs.field(default=None, alias="builder", repr=False, eq=False)
    _cache: dict[str, frozenset[str]] = attrs.field(factory=dict, init=False, repr=False, eq=False)
    _details: list[tuple[tuple[PolicyFinding, ...], tuple[StatementExplanation, ...]]] = (
        attrs.field(factory=list, init=False, repr=False, eq=False)
    )

    @property
    def findings(self) -> tuple[PolicyFinding, ...]:
        """The findings, most severe first (computed on first access)."""
        return self._explained()[0]

    @property
    def statements(self) -> tuple[StatementExplanation, ...]:
        """One explanation per statement, in policy order (computed on first access)."""
        return self._explained()[1]

    def _explained(
        self,
    ) -> tuple[tuple[PolicyFinding, ...], tuple[StatementExplanation, ...]]:
        # Findings and sentences cost more than the verdicts; scans that only ask is_public or
        # principals_allowed never pay for them.
        if not self._details:
            assert self._builder is not None
            self._details.append(_explain(self._builder))
        return self._details[0]

    @property
    def _pieces(self) -> list[_Piece]:
        return self._builder.pieces if self._builder is not None else []

    @property
    def _denies(self) -> list[_Deny]:
        return self._builder.denies if self._builder is not None else []

    @property
    def finding_ids(self) -> frozenset[str]:
        """The ids of the findings (handy for assertions and gates)."""
        return frozenset(f.id for f in self.findings)

    def principals_allowed(self, action: str) -> frozenset[str]:
        """Every principal an effective Allow gives ``action`` (matched case-insensitively).

        Accounts appear as ``arn:aws:iam::<id>:root``, wildcard and ``NotPrincipal`` as ``"*"``
        (even when a condition narrows the caller), services by name, other ARNs as written.
        """
        low = action.lower()
        cached = self._cache.get(low)
        if cached is not None:
            return cached
        if low in ALL_ACTIONS:
            result = frozenset(p.principal.value for p in self._pieces if low in p.actions)
        else:
            result = frozenset(
                p.principal.value for p in self._pieces if self._matches_unmodelled(p, action)
            )
        self._cache[low] = result
        return result

    def _matches_unmodelled(self, piece: _Piece, action: str) -> bool:
        # An action outside the KMS model (a newer API, another service): match the patterns.
        st = self.policy.statements[piece.index]
        hit = any(glob_match(p, action) for p in st.actions) != st.not_action
        if not hit:
            return False
        for d in self._denies:
            if d.mode not in ("full", "full-nonservice") or not _deny_covers(
                d.statement, piece.principal
            ):
                continue
            if any(glob_match(p, action) for p in d.statement.actions) != d.statement.not_action:
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: verdicts, external access, key actions' principals, findings."""
        return {
            "key_account": self.key_account,
            "org_id": self.org_id,
            "is_public": self.is_public,
            "external_access": sorted(self.external_access),
            "principals_allowed": {a: sorted(self.principals_allowed(a)) for a in _SUMMARY_ACTIONS},
            "findings": [f.to_dict() for f in self.findings],
            "statements": [s.to_dict() for s in self.statements],
        }

    def _repr_html_(self) -> str:
        """An HTML summary for Jupyter: verdict, findings, then one row per statement."""
        esc = html.escape
        verdict = "PUBLIC" if self.is_public else "not public"
        ext = ", ".join(sorted(self.external_access)) or "none"
        rows = "".join(
            f"<tr><td>{esc(f.severity.value)}</td><td>{esc(f.id)}</td>"
            f"<td>{'' if f.statement_index is None else f.statement_index}</td>"
            f"<td>{esc(f.principal or '')}</td><td>{esc(f.explanation)}</td></tr>"
            for f in self.findings
        )
        srows = "".join(
            f"<tr><td>{s.index}</td><td>{esc(s.sid or '')}</td><td>{esc(s.effect)}</td>"
            f"<td>{esc(s.verdict)}</td><td>{esc(s.reason)}</td></tr>"
            for s in self.statements
        )
        return (
            f"<div><p><b>Key policy of account {esc(self.key_account)}</b>: {esc(verdict)}; "
            f"external access: {esc(ext)}</p>"
            "<table><thead><tr><th>severity</th><th>finding</th><th>statement</th>"
            f"<th>principal</th><th>why</th></tr></thead><tbody>{rows}</tbody></table>"
            "<table><thead><tr><th>#</th><th>Sid</th><th>effect</th><th>verdict</th>"
            f"<th>why</th></tr></thead><tbody>{srows}</tbody></table></div>"
        )


# --------------------------------------------------------------------------------------------
# helpers


@lru_cache(maxsize=4096)
def _action_set(actions: tuple[str, ...], not_action: bool) -> frozenset[str]:
    matched: frozenset[str] = frozenset().union(*(expand_action(a) for a in actions))
    return ALL_ACTIONS - matched if not_action else matched


def _describe_actions(actions: Iterable[str]) -> str:
    acts = frozenset(actions)
    if acts >= ALL_ACTIONS:
        return "every kms action (kms:*)"
    missing = ALL_ACTIONS - acts
    if len(missing) <= 6 and len(acts) > len(missing):
        return "every kms action except " + ", ".join(sorted(CANONICAL_ACTION[a] for a in missing))
    names = sorted(CANONICAL_ACTION.get(a, a) for a in acts)
    if len(names) > 6:
        return ", ".join(names[:6]) + f" and {len(names) - 6} more"
    return ", ".join(names)


def _describe_piece(b: _Builder, st: Statement, piece: _Piece) -> str:
    # The actions as written read best ("kms:ReEncrypt*"); once a Deny has removed some, the
    # surviving set is spelled out instead.
    if piece.actions == b.statement_actions.get(piece.index) and not st.not_action:
        if piece.actions >= ALL_ACTIONS:
            return "every kms action (kms:*)"
        return ", ".join(st.actions)
    return _describe_actions(piece.actions)


def _grant_constrained(st: Statement) -> bool:
    """Whether CreateGrant in ``st`` is limited to AWS services or to some grant operations."""
    return any(
        (c.key_lower == "kms:grantisforawsresource" and c.base == "Bool" and c.values == ("true",))
        or (c.key_lower == "kms:grantoperations" and c.qualifier == "ForAllValues")
        or (c.key_lower == "kms:viaservice" and c.base in ("StringEquals", "StringLike"))
        for c in st.conditions
    )


def _is_root_of(p: Principal, account: str) -> bool:
    return p.kind is PrincipalKind.ACCOUNT and p.account == account


def _identity_survives(p: Principal, scope: Scope, key_account: str, org_id: str | None) -> bool:
    """Whether a named principal can still satisfy identity pins (accounts, ARNs, org)."""
    if p.kind not in (PrincipalKind.ACCOUNT, PrincipalKind.ARN) or p.account is None:
        return True
    if scope.accounts is not None and p.account not in scope.accounts:
        return False
    if scope.arns is not None:
        if p.kind is PrincipalKind.ARN and not p.has_wildcard:
            if not principal_matches_arns(p.value, scope.arns):
                return False
        elif not any(arn_account(a) == p.account for a in scope.arns):
            return False
    # The key account belongs to org_id, so a pin to another organization excludes it.
    return not (
        scope.orgs is not None
        and org_id is not None
        and p.account == key_account
        and org_id not in scope.orgs
    )


def _deny_covers(deny: Statement, p: Principal) -> bool:
    """Whether a Deny's principals certainly include every caller behind ``p``."""
    return _survivors(deny, p) == ()


def _survivors(deny: Statement, p: Principal) -> tuple[Principal, ...] | None:
    """Who behind ``p`` escapes the Deny's principals.

    ``None``: the Deny does not (certainly) reach ``p``, keep it whole. ``()``: every caller
    behind ``p`` is denied. Otherwise the exempt principals of a ``NotPrincipal`` Deny that are
    all that is left of ``p`` (``"*"`` narrows to exactly the listed principals).
    """
    if not deny.not_principal:
        for d in deny.principals:
            if d.kind is PrincipalKind.WILDCARD or d.value == p.value:
                return ()
            if (
                d.kind is PrincipalKind.ACCOUNT
                and p.kind in (PrincipalKind.ACCOUNT, PrincipalKind.ARN)
                and p.account == d.account
            ):
                return ()
        return None
    exempt = deny.principals
    if any(e.kind is PrincipalKind.WILDCARD or e.value == p.value for e in exempt):
        return None
    if p.kind is PrincipalKind.WILDCARD:
        return tuple(e for e in exempt if e.kind is not PrincipalKind.UNIQUE_ID)
    if p.kind is PrincipalKind.ACCOUNT:
        return tuple(e for e in exempt if e.account == p.account)
    if p.kind is PrincipalKind.ARN and any(
        e.account == p.account and (e.kind is PrincipalKind.ACCOUNT or p.has_wildcard)
        for e in exempt
    ):
        return None  # the account (or a match of the wildcard) is exempt: keep, to be safe
    return ()


def _cond_text(conds: Iterable[Condition]) -> str | None:
    text = "; ".join(str(c) for c in conds)
    return text or None


def _classify_deny(index: int, st: Statement, version: str, applies: Applies) -> _Deny:
    actions = _action_set(st.actions, st.not_action)
    if applies is Applies.NEVER:
        return _Deny(index, st, actions, "never", None, "its Resource cannot match this key")
    if applies is Applies.MAYBE:
        note = "its Resource may not cover this key, so it is not counted as removing access"
        return _Deny(index, st, actions, "partial-resource", None, note)
    if not st.conditions:
        return _Deny(index, st, actions, "full", None, "unconditionally")
    caps: list[tuple[Condition, Scope]] = []
    others: list[Condition] = []
    exempt = False
    for c in st.conditions:
        if allow_outcome(c, version)[0] is Outcome.IMPOSSIBLE:
            return _Deny(index, st, actions, "never", None, f"its condition {c} can never be met")
        cap = deny_cap(c, version)
        if cap is True:
            return _Deny(index, st, actions, "never", None, f"its condition {c} is never true")
        if isinstance(cap, Scope):
            caps.append((c, cap))
        elif is_service_exemption(c):
            exempt = True
        else:
            others.append(c)
    if others:
        note = (
            f"only when {_cond_text(others)}; a caller can avoid that, "
            "so it is not counted as removing access"
        )
        return _Deny(index, st, actions, "conditional", None, note)
    if not caps:
        return _Deny(index, st, actions, "full-nonservice", None, "for every caller but services")
    merged = caps[0][1]
    for _, other in caps[1:]:
        dims = [d for d in Dimension if merged.get(d) is not None]
        odims = [d for d in Dimension if other.get(d) is not None]
        if dims != odims or len(dims) != 1:
            note = (
                f"only when all of {_cond_text(c for c, _ in caps)} hold; a caller meeting any "
                "one escapes it, so it is not counted"
            )
            return _Deny(index, st, actions, "conditional", None, note)
        (dim,) = dims
        union = (merged.get(dim) or frozenset()) | (other.get(dim) or frozenset())
        merged = Scope(**{dim.name.lower(): union})
    mode = "cap"
    note = f"unless {_cond_text(c for c, _ in caps)}" + (" (AWS services exempt)" if exempt else "")
    return _Deny(index, st, actions, mode, merged, note)


# --------------------------------------------------------------------------------------------
# the analyser


class _Builder:
    """The analysis in progress (a plain slotted class: it is built once per policy, so its
    construction cost shows in the analyses-per-second figure)."""

    __slots__ = (
        "denied_by",
        "denies",
        "excluded",
        "findings",
        "inert",
        "key_account",
        "key_arn",
        "limited_by",
        "loose",
        "org_id",
        "pieces",
        "policy",
        "restricting",
        "statement_actions",
        "trusted",
    )

    def __init__(
        self,
        policy: KeyPolicy,
        key_account: str,
        org_id: str | None,
        trusted: frozenset[str],
        key_arn: str | None,
    ) -> None:
        self.policy = policy
        self.key_account = key_account
        self.org_id = org_id
        self.trusted = trusted
        self.key_arn = key_arn
        self.pieces: list[_Piece] = []
        self.denies: list[_Deny] = []
        self.findings: list[PolicyFinding] = []
        self.inert: dict[int, str] = {}
        self.restricting: dict[int, list[Condition]] = {}
        self.loose: dict[int, list[Condition]] = {}
        self.excluded: dict[int, list[str]] = {}
        self.denied_by: dict[int, set[int]] = {}
        self.limited_by: dict[int, set[int]] = {}
        self.statement_actions: dict[int, frozenset[str]] = {}

    def finding(self, fid: str, explanation: str, index: int | None = None, **kw: Any) -> None:
        sid = self.policy.statements[index].sid if index is not None else None
        severity = kw.pop("severity", POLICY_FINDINGS[fid].severity)
        self.findings.append(PolicyFinding(fid, severity, explanation, index, sid, **kw))

    # -- Allow statements -------------------------------------------------------------------

    def add_allow(self, i: int, st: Statement) -> None:
        version = self.policy.effective_version
        applies = resource_applies(st, self.key_account, self.key_arn)
        if applies is Applies.NEVER:
            where = ", ".join(st.resources)
            self.inert[i] = f"its {'NotResource' if st.not_resource else 'Resource'} ({where}) "
            self.inert[i] += f"cannot match a key of account {self.key_account}"
            return
        actions = _action_set(st.actions, st.not_action)
        self.statement_actions[i] = actions
        if not actions:
            self.inert[i] = f"it names no kms action ({', '.join(st.actions)})"
            return
        scope = _OPEN
        restricting: list[Condition] = []
        loose: list[Condition] = []
        for c in st.conditions:
            outcome, pinned = allow_outcome(c, version)
            if outcome is Outcome.IMPOSSIBLE:
                self.inert[i] = f"its condition {c} can never be met by a real request"
                return
            if outcome is Outcome.RESTRICT:
                assert pinned is not None
                restricting.append(c)
                narrowed = scope.intersect(pinned)
                if narrowed is None:
                    self.inert[i] = (
                        f"its conditions {_cond_text(restricting)} contradict each other"
                    )
                    return
                scope = narrowed
            else:
                loose.append(c)
        self.restricting[i], self.loose[i] = restricting, loose
        if st.not_principal:
            if st.has_wildcard_principal:
                self.inert[i] = "NotPrincipal '*' with Allow excludes every caller"
                return
            principals: tuple[Principal, ...] = (_WILDCARD,)
        else:
            principals = st.principals
        before = len(self.pieces)
        for p in principals:
            if p.kind is PrincipalKind.UNIQUE_ID:
                self.finding(
                    "orphaned-principal",
                    f"{p.value} is the unique id of a deleted IAM principal; it matches nobody.",
                    i,
                    principal=p.value,
                )
                continue
            if p.has_wildcard:
                self.finding(
                    "principal-wildcard",
                    f"{p.value} has a wildcard inside a principal ARN, which IAM does not "
                    "expand; name the principals or use an aws:PrincipalArn condition.",
                    i,
                    principal=p.value,
                )
            if not _identity_survives(p, scope, self.key_account, self.org_id):
                self.excluded.setdefault(i, []).append(p.value)
                continue
            self.pieces.append(_Piece(i, p, actions, scope))
        if len(self.pieces) == before:
            if i in self.excluded:
                self.inert[i] = (
                    f"its conditions ({_cond_text(restricting)}) exclude its own principals "
                    f"({', '.join(self.excluded[i])})"
                )
            else:
                self.inert[i] = "it names no principal that still exists"

    # -- Deny statements --------------------------------------------------------------------

    def apply_deny(self, d: _Deny) -> None:
        if d.mode not in ("full", "full-nonservice", "cap"):
            return
        out: list[_Piece] = []
        for piece in self.pieces:
            inter = piece.actions & d.actions
            survivors = _survivors(d.statement, piece.principal) if inter else None
            is_service = piece.principal.kind is PrincipalKind.SERVICE
            if survivors is None or (d.mode == "full-nonservice" and is_service):
                out.append(piece)
                continue
            if d.mode == "cap" and survivors:
                out.append(piece)  # a conditional NotPrincipal Deny: too partial to count
                continue
            keep = piece.actions - d.actions
            if d.mode == "cap":
                assert d.cap is not None
                if piece.principal.kind is PrincipalKind.WILDCARD:
                    narrowed = piece.scope.intersect(d.cap)
                    if narrowed is not None:
                        out.append(attrs.evolve(piece, actions=inter, scope=narrowed))
                        self.limited_by.setdefault(piece.index, set()).add(d.index)
                    else:
                        self.denied_by.setdefault(piece.index, set()).add(d.index)
                elif is_service or _identity_survives(
                    piece.principal, d.cap, self.key_account, self.org_id
                ):
                    keep = piece.actions
                else:
                    self.denied_by.setdefault(piece.index, set()).add(d.index)
            else:
                self.denied_by.setdefault(piece.index, set()).add(d.index)
                # NotPrincipal Deny: the exempt principals are all that is left of the piece.
                for e in survivors:
                    if _identity_survives(e, piece.scope, self.key_account, self.org_id):
                        out.append(attrs.evolve(piece, principal=e, actions=inter))
            if keep:
                out.append(attrs.evolve(piece, actions=keep))
        self.pieces = out

    # -- reading the answers off the pieces -------------------------------------------------

    def entities(self, piece: _Piece) -> tuple[str, frozenset[str]]:
        """``(verdict, external entities)`` of one piece."""
        p, key = piece.principal, self.key_account
        if p.kind is PrincipalKind.SERVICE:
            return "service", frozenset()
        if p.kind is PrincipalKind.FEDERATED:
            return "cross-account", frozenset({p.value})
        if p.kind in (PrincipalKind.ACCOUNT, PrincipalKind.ARN):
            if p.account == key:
                return "same-account", frozenset()
            entity = p.account if p.kind is PrincipalKind.ACCOUNT and p.account else p.value
            return "cross-account", frozenset({entity})
        kind, values = piece.scope.who()
        if kind == "open":
            return "public", frozenset({"*"})
        if kind == "ips":
            return "ip-restricted", frozenset()
        if kind == "networks":
            return "network-restricted", frozenset()
        if kind == "orgs":
            return "cross-account", values
        if kind in ("accounts", "source-accounts"):
            ext = values - {key}
        else:
            ext = frozenset(a for a in values if arn_account(a) != key)
        return ("cross-account" if ext else "same-account"), ext

    def is_trusted(self, entity: str) -> bool:
        return entity in self.trusted or arn_account(entity) in self.trusted


def analyze_key_policy(
    policy: str | bytes | Mapping[str, Any] | KeyPolicy,
    *,
    key_account: str,
    org_id: str | None = None,
    trusted_accounts: Iterable[str] = (),
    key_arn: str | None = None,
) -> PolicyAnalysis:
    """Analyse a key policy for the key in ``key_account`` (pure: never calls AWS).

    ``policy`` is JSON text, a decoded mapping or a :class:`KeyPolicy`; malformed input raises
    :class:`cmkguard.PolicyParseError`. ``org_id`` is the key account's organization;
    ``trusted_accounts`` are external accounts (or org ids) whose access is intended: still
    listed in ``external_access``, with downgraded findings. ``key_arn`` (optional) lets
    ``Resource`` patterns be matched exactly instead of by account.
    """
    doc = parse_key_policy(policy)
    b = _Builder(doc, str(key_account), org_id, frozenset(trusted_accounts), key_arn)
    version = doc.effective_version
    for i, st in enumerate(doc.statements):
        if st.effect is Effect.ALLOW:
            b.add_allow(i, st)
        else:
            b.denies.append(
                _classify_deny(i, st, version, resource_applies(st, b.key_account, key_arn))
            )
    for d in b.denies:
        b.apply_deny(d)
    b.pieces = [p for p in b.pieces if p.actions]
    return _assemble(b)


def _assemble(b: _Builder) -> PolicyAnalysis:
    public = False
    external: set[str] = set()
    for piece in b.pieces:
        verdict, ext = b.entities(piece)
        if ext:
            external |= ext
        if verdict == "public":
            public = True
    return PolicyAnalysis(
        key_account=b.key_account,
        is_public=public,
        external_access=frozenset(external),
        policy=b.policy,
        org_id=b.org_id,
        trusted_accounts=b.trusted,
        builder=b,
    )


def _explain(
    b: _Builder,
) -> tuple[tuple[PolicyFinding, ...], tuple[StatementExplanation, ...]]:
    by_statement: dict[int, list[_Piece]] = {}
    for piece in b.pieces:
        by_statement.setdefault(piece.index, []).append(piece)
    explanations: list[StatementExplanation] = []
    for i, st in enumerate(b.policy.statements):
        if st.effect is Effect.DENY:
            explanations.append(_explain_deny(b, i, st))
            continue
        pieces = by_statement.get(i, [])
        if not pieces:
            reason = b.inert.get(i)
            if reason is None:
                by = ", ".join(f"Statement[{j}]" for j in sorted(b.denied_by.get(i, ())))
                reason = f"the Deny in {by} removes everything it grants"
            b.finding("ineffective-statement", f"It grants nothing: {reason}.", i)
            explanations.append(
                StatementExplanation(i, st.sid, "Allow", "no-effect", f"Grants nothing: {reason}.")
            )
            continue
        worst, parts = "service", []
        for piece in pieces:
            verdict, ext = b.entities(piece)
            if _VERDICT_RANK[verdict] > _VERDICT_RANK[worst]:
                worst = verdict
            parts.append((verdict, piece, ext))
        _statement_findings(b, i, st, parts)
        explanations.append(_explain_allow(b, i, st, worst, parts))
    _policy_findings(b)
    findings = sorted(
        b.findings,
        key=lambda f: (
            -f.severity.rank,
            -1 if f.statement_index is None else f.statement_index,
            f.id,
            f.principal or "",
        ),
    )
    return tuple(findings), tuple(explanations)


def _statement_findings(
    b: _Builder, i: int, st: Statement, parts: list[tuple[str, _Piece, frozenset[str]]]
) -> None:
    restricting = b.restricting.get(i, [])
    loose = b.loose.get(i, [])
    seen: set[tuple[str, str]] = set()

    def once(fid: str, who: str) -> bool:
        if (fid, who) in seen:
            return False
        seen.add((fid, who))
        return True

    constrained_grant = _grant_constrained(st)
    source_pinned = any(
        (
            c.key_lower in _SOURCE_KEYS
            and allow_outcome(c, b.policy.effective_version)[0] is Outcome.RESTRICT
        )
        or (c.key_lower in ("aws:sourceorgid", "aws:sourceorgpaths") and c.base == "StringEquals")
        for c in st.conditions
    )
    all_actions = st.not_action or b.statement_actions.get(i, frozenset()) >= ALL_ACTIONS
    for verdict, piece, ext in parts:
        p = piece.principal
        acts = _describe_piece(b, st, piece)
        if verdict == "public" and once("public-access", "*"):
            why = f" (its condition {_cond_text(loose)} does not pin the caller)" if loose else ""
            via = "NotPrincipal with Allow" if st.not_principal else "Principal '*'"
            b.finding(
                "public-access",
                f"{via} gives {acts} to any AWS principal with no condition pinning the "
                f"caller{why}.",
                i,
                principal="*",
                action=acts,
                condition=_cond_text(loose),
            )
        for entity in sorted(ext):
            if verdict != "cross-account" or not once("cross-account-access", entity):
                continue
            trusted = b.is_trusted(entity)
            sev = Severity.HIGH
            if entity.startswith("o-") and entity == b.org_id:
                sev = Severity.MEDIUM
            if trusted:
                sev = Severity.INFO
            pinned = (
                f", pinned by {_cond_text(restricting)}" if p.kind is PrincipalKind.WILDCARD else ""
            )
            b.finding(
                "cross-account-access",
                f"{entity} is outside account {b.key_account} and gets {acts}{pinned}"
                + (" (trusted account: downgraded)." if trusted else "."),
                i,
                principal=entity,
                action=acts,
                condition=_cond_text(restricting),
                downgraded=trusted,
                severity=sev,
            )
        if verdict == "ip-restricted" and once("source-ip-condition", "*"):
            ips = ", ".join(sorted(piece.scope.ips or ()))
            b.finding(
                "source-ip-condition",
                f"Principal '*' gets {acts} from {ips}: any account calling from that range "
                "gets in, so this is neither private nor plainly public.",
                i,
                principal="*",
                action=acts,
                condition=_cond_text(restricting),
            )
        if verdict == "network-restricted" and once("network-restricted", "*"):
            nets = ", ".join(sorted(piece.scope.networks or ()))
            b.finding(
                "network-restricted",
                f"Principal '*' gets {acts} through {nets}, whoever the caller's account is.",
                i,
                principal="*",
                action=acts,
                condition=_cond_text(restricting),
            )
        is_root = _is_root_of(p, b.key_account)
        if all_actions and is_root and once("root-delegation", p.value):
            cond = f" when {_cond_text(st.conditions)}" if st.conditions else ""
            b.finding(
                "root-delegation",
                f"kms:* to {p.value}{cond}: IAM policies in account {b.key_account} decide who "
                "can use and administer the key.",
                i,
                principal=p.value,
                action="kms:*",
            )
        if all_actions and not is_root and once("wildcard-actions", p.value):
            how = "NotAction with Allow" if st.not_action else "kms:*"
            external = verdict in ("public", "cross-account")
            b.finding(
                "wildcard-actions",
                f"{how} gives {p.value} every kms action, administration included.",
                i,
                principal=p.value,
                action="NotAction" if st.not_action else "kms:*",
                severity=Severity.HIGH if external else Severity.MEDIUM,
            )
        if (
            _CREATE_GRANT in piece.actions
            and not is_root
            and not constrained_grant
            and p.kind is not PrincipalKind.SERVICE
            and once("create-grant-unconstrained", p.value)
        ):
            b.finding(
                "create-grant-unconstrained",
                f"{p.value} can call kms:CreateGrant without kms:GrantIsForAWSResource, so it "
                "can grant itself or others any grant operation, Decrypt included.",
                i,
                principal=p.value,
                action="kms:CreateGrant",
                condition=_cond_text(st.conditions),
            )
        if (
            p.kind is PrincipalKind.SERVICE
            and not source_pinned
            and once("service-principal-unconditioned", p.value)
        ):
            b.finding(
                "service-principal-unconditioned",
                f"Service principal {p.value} gets {acts} with no aws:SourceAccount or "
                "aws:SourceArn condition, so it can act for resources of any account.",
                i,
                principal=p.value,
                action=acts,
                condition=_cond_text(st.conditions),
            )


def _policy_findings(b: _Builder) -> None:
    managers = [
        p
        for p in b.pieces
        if "kms:putkeypolicy" in p.actions
        and p.principal.kind in (PrincipalKind.WILDCARD, PrincipalKind.ACCOUNT, PrincipalKind.ARN)
    ]
    if not managers:
        b.finding(
            "lockout-risk",
            "No account or IAM principal can call kms:PutKeyPolicy, so nobody can manage this "
            "key's policy any more.",
            action="kms:PutKeyPolicy",
        )
    # Separation of duties: aggregate each principal's actions over all statements.
    admin: dict[str, tuple[int, set[str]]] = {}
    use: dict[str, set[str]] = {}
    for piece in b.pieces:
        p = piece.principal
        if p.kind is PrincipalKind.SERVICE or _is_root_of(p, b.key_account):
            continue
        st = b.policy.statements[piece.index]
        adm = set(piece.actions & _ADMIN_ACTIONS)
        if _CREATE_GRANT in piece.actions and not _grant_constrained(st):
            adm.add(_CREATE_GRANT)
        if adm:
            first = admin.get(p.value, (piece.index, set()))
            admin[p.value] = (min(first[0], piece.index), first[1] | adm)
        u = piece.actions & _USE_ACTIONS
        if u:
            use.setdefault(p.value, set()).update(u)
    for who in sorted(set(admin) & set(use)):
        index, adm = admin[who]
        b.finding(
            "separation-of-duties",
            f"{who} can both administer the key ({_describe_actions(adm)}) and use it "
            f"({_describe_actions(use[who])}).",
            index,
            principal=who,
            action=f"{_describe_actions(adm)} + {_describe_actions(use[who])}",
        )


def _explain_allow(
    b: _Builder,
    i: int,
    st: Statement,
    worst: str,
    parts: list[tuple[str, _Piece, frozenset[str]]],
) -> StatementExplanation:
    acts_all: set[str] = set()
    principals: list[str] = []
    for _, piece, _ in parts:
        acts_all |= piece.actions
        if piece.principal.value not in principals:
            principals.append(piece.principal.value)
    acts = _describe_actions(acts_all)
    if all(pc.actions == b.statement_actions.get(i) for _, pc, _ in parts):
        acts = _describe_piece(b, st, parts[0][1])
    restricting = _cond_text(b.restricting.get(i, []))
    loose = _cond_text(b.loose.get(i, []))
    ext = sorted({e for v, _, es in parts if v == worst for e in es})
    who = ", ".join(principals)
    if worst == "public":
        why = f" (its condition {loose} does not pin the caller)" if loose else ""
        reason = f"Gives {acts} to every AWS principal ('*') with nothing pinning the caller{why}."
    elif worst == "cross-account":
        pinned = f" (pinned by {restricting})" if restricting else ""
        reason = f"Gives {acts} to {', '.join(ext)} outside account {b.key_account}{pinned}."
    elif worst == "ip-restricted":
        reason = f"Gives {acts} to any caller from the IP ranges of {restricting}: a range is not "
        reason += "an account."
    elif worst == "network-restricted":
        reason = f"Gives {acts} to any caller reaching KMS through {restricting}."
    elif worst == "same-account" and "*" in principals:
        pinned = f" by {restricting}" if restricting else ""
        reason = f"Gives {acts} to '*' pinned{pinned} to callers of account {b.key_account}."
    elif worst == "same-account":
        reason = f"Gives {acts} to {who}, all in account {b.key_account}."
    else:
        scoped = f", scoped by {restricting}" if restricting else ", for any source account"
        reason = f"Gives {acts} to the AWS service {who}{scoped}."
    touched = b.denied_by.get(i, set()) | b.limited_by.get(i, set())
    if touched:
        by = ", ".join(f"Statement[{j}]" for j in sorted(touched))
        reason = reason[:-1] + f" (as limited by the Deny in {by})."
    actions = tuple(sorted(CANONICAL_ACTION.get(a, a) for a in acts_all))
    return StatementExplanation(i, st.sid, "Allow", worst, reason, tuple(principals), actions)


def _explain_deny(b: _Builder, i: int, st: Statement) -> StatementExplanation:
    d = next(d for d in b.denies if d.index == i)
    who = ", ".join(p.value for p in st.principals)
    who = f"everyone except {who}" if st.not_principal else who
    acts = _describe_actions(d.actions)
    if d.mode == "full":
        reason = f"Denies {acts} to {who} unconditionally, overriding every Allow."
    elif d.mode == "full-nonservice":
        reason = f"Denies {acts} to {who} except AWS services, overriding every Allow."
    elif d.mode == "cap":
        assert d.cap is not None
        _, pinned = d.cap.who()
        to = ", ".join(sorted(pinned)) or "no one"
        reason = f"Denies {acts} to {who} {d.note}: those actions stay confined to {to}."
    elif d.mode == "never":
        reason = f"Denies nothing: {d.note}."
    elif d.mode == "partial-resource":
        reason = f"Denies {acts} to {who}, but {d.note}."
    else:
        reason = f"Denies {acts} to {who} {d.note}."
    principals = tuple(p.value for p in st.principals)
    actions = tuple(sorted(CANONICAL_ACTION.get(a, a) for a in d.actions))
    return StatementExplanation(i, st.sid, "Deny", "deny", reason, principals, actions)
