"""Who can do what with a key: the key-policy analyser (docs/policy.md).

:func:`analyze_key_policy` parses the policy, lets the engine (``_engine.py``) reduce it to
pieces and reads the verdicts off them; findings and explanations (``_explain.py``) are computed
on first access.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import attrs

from cmkguard._html import table
from cmkguard.policy._engine import (
    _CHECKED_ACCOUNTS,
    _OPEN,
    _WILDCARD,
    _action_set,
    _Builder,
    _classify_deny,
    _Deny,
    _deny_covers,
    _identity_survives,
    _Piece,
    apply_deny,
    check_account,
    entities_of,
)
from cmkguard.policy._explain import StatementExplanation, explain
from cmkguard.policy._glob import ALL_ACTIONS, glob_match
from cmkguard.policy._resources import Applies, resource_applies, resources_apply
from cmkguard.policy.conditions import Outcome, Scope, allow_outcome
from cmkguard.policy.document import (
    Condition,
    Effect,
    KeyPolicy,
    PolicyParts,
    PrincipalKind,
    Statement,
    StatementArgs,
    parse_policy_parts,
    policy_from_parts,
    statement_args,
)
from cmkguard.policy.findings import PolicyFinding

__all__ = ["PolicyAnalysis", "StatementExplanation", "analyze_key_policy"]

# Enum members read in the hot path, as module constants (~80 ns each off the class on 3.11).
_E_ALLOW = Effect.ALLOW
_A_NEVER = Applies.NEVER
_O_IMPOSSIBLE = Outcome.IMPOSSIBLE
_O_RESTRICT = Outcome.RESTRICT
_K_UNIQUE_ID = PrincipalKind.UNIQUE_ID
_K_WILDCARD = PrincipalKind.WILDCARD

_NOBODY: frozenset[str] = frozenset()

_SUMMARY_ACTIONS = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:CreateGrant",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
)


class _LazyPolicy:
    """A validated policy whose typed :class:`KeyPolicy` is built on first use.

    Equal (and hashing) as the ``KeyPolicy`` it stands for, so analyses compare as before.
    """

    __slots__ = ("_parts", "_policy")

    def __init__(self, policy: KeyPolicy | None, parts: PolicyParts | None) -> None:
        self._policy = policy
        self._parts = parts

    def get(self) -> KeyPolicy:
        policy = self._policy
        if policy is None:
            assert self._parts is not None
            policy = self._policy = policy_from_parts(self._parts)
        return policy

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _LazyPolicy):
            return self.get() == other.get()
        return isinstance(other, KeyPolicy) and self.get() == other

    def __hash__(self) -> int:
        return hash(self.get())


@attrs.frozen
class PolicyAnalysis:
    """The analysis of one key policy for one key account (see :func:`analyze_key_policy`).

    ``external_access`` lists ``"*"`` when public, 12-digit account ids, ARNs of specific external
    principals and org ids; trusted accounts are listed too (their findings are downgraded).
    """

    key_account: str
    is_public: bool
    external_access: frozenset[str]
    # A KeyPolicy when constructed with one, else the validated policy it is built from on first
    # access (analyze_key_policy); both compare and hash as the KeyPolicy.
    _policy: KeyPolicy | _LazyPolicy = attrs.field(alias="policy", repr=False)
    org_id: str | None = None
    trusted_accounts: frozenset[str] = frozenset()
    _key_arn: str | None = attrs.field(default=None, alias="key_arn", repr=False, eq=False)
    _builder: _Builder | None = attrs.field(default=None, alias="builder", repr=False, eq=False)

    @property
    def policy(self) -> KeyPolicy:
        """The parsed, normalised policy (built on first access)."""
        policy = self._policy
        return policy if isinstance(policy, KeyPolicy) else policy.get()

    def _built(self) -> _Builder:
        # The pieces, inert reasons and findings behind the verdicts, made on first use when the
        # verdicts could be read off the policy directly (see _allow_only_verdicts).
        b = self._builder
        if b is None:
            b = _build(
                self.policy, self.key_account, self.org_id, self.trusted_accounts, self._key_arn
            )
            object.__setattr__(self, "_builder", b)  # a cache: the analysis stays immutable
        return b

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
        b = self._built()
        if b.explained is None:
            b.explained = explain(b)
        return b.explained

    @property
    def _pieces(self) -> list[_Piece]:
        return self._built().pieces

    @property
    def _denies(self) -> list[_Deny]:
        return self._built().denies

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
        memo = self._built().allowed_memo
        cached = memo.get(low)
        if cached is not None:
            return cached
        if low in ALL_ACTIONS:
            result = frozenset(p.principal.value for p in self._pieces if low in p.actions)
        else:
            result = frozenset(
                p.principal.value for p in self._pieces if self._matches_unmodelled(p, action)
            )
        memo[low] = result
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
        verdict = "PUBLIC" if self.is_public else "not public"
        ext = ", ".join(sorted(self.external_access)) or "none"
        findings = table(
            ("severity", "finding", "statement", "principal", "why"),
            (
                (f.severity.value, f.id, f.statement_index, f.principal, f.explanation)
                for f in self.findings
            ),
        )
        statements = table(
            ("#", "Sid", "effect", "verdict", "why"),
            ((s.index, s.sid, s.effect, s.verdict, s.reason) for s in self.statements),
        )
        return (
            f"<div><p><b>Key policy of account {html.escape(self.key_account)}</b>: "
            f"{html.escape(verdict)}; external access: {html.escape(ext)}</p>"
            f"{findings}{statements}</div>"
        )


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
    ``Resource`` patterns be matched exactly instead of by account. A ``key_account`` that is
    not 12 digits raises :class:`cmkguard.ConfigurationError`.
    """
    if type(key_account) is not str or key_account not in _CHECKED_ACCOUNTS:
        key_account = check_account(key_account)
    trusted = frozenset(trusted_accounts) if trusted_accounts else _NOBODY
    if isinstance(policy, str):
        # Estates repeat policy texts (every AWS-managed key of a service, module-generated
        # policies): an analysis is immutable, so identical inputs share one.
        return _analyze_text(policy, key_account, org_id, trusted, key_arn)
    return _analyze(parse_policy_parts(policy), key_account, org_id, trusted, key_arn)


@lru_cache(maxsize=1024)
def _analyze_text(
    text: str, key_account: str, org_id: str | None, trusted: frozenset[str], key_arn: str | None
) -> PolicyAnalysis:
    return _analyze(parse_policy_parts(text), key_account, org_id, trusted, key_arn)


def _analyze(
    parsed: KeyPolicy | PolicyParts,
    key_account: str,
    org_id: str | None,
    trusted: frozenset[str],
    key_arn: str | None,
) -> PolicyAnalysis:
    if isinstance(parsed, KeyPolicy):
        lazy = _LazyPolicy(parsed, None)
        statements = tuple(statement_args(st) for st in parsed.statements)
        version = parsed.version
    else:
        lazy = object.__new__(_LazyPolicy)  # no __init__ call: this runs for every analysis
        lazy._policy = None
        lazy._parts = parsed
        statements, version, _ = parsed
    public, external = _verdicts(statements, version or "2008-10-17", key_account, org_id, key_arn)
    # The verdicts need neither findings nor the typed policy: the builder that explains them is
    # made on first use of findings, statements or principals_allowed, the KeyPolicy on first
    # use of it.
    return PolicyAnalysis(key_account, public, external, lazy, org_id, trusted, key_arn)


# _OPEN.intersect(the scope a condition pins), by (condition, version): a pure function of them.
_FIRST_SCOPE: dict[tuple[Condition, str], Scope | None] = {}


def _verdicts(
    statements: tuple[StatementArgs, ...],
    version: str,
    key_account: str,
    org_id: str | None,
    key_arn: str | None,
) -> tuple[bool, frozenset[str]]:
    """``(is_public, external_access)`` of a validated policy.

    The same rules as :func:`_build` followed by :func:`_assemble` (``_Builder.add_allow``,
    ``_classify_deny``, ``apply_deny``), without recording the inert reasons and findings that
    only explanations need. ``version`` is the effective version.
    """
    public = False
    external: frozenset[str] = _NOBODY
    pieces: list[_Piece] | None = None  # only when a Deny may remove some (pieces are costly)
    for st in statements:
        if st[0] is not _E_ALLOW:
            pieces = []
            break
    denies: list[_Deny] = []
    for i, st in enumerate(statements):
        effect, principals, actions, resources, conditions, _, not_principal, not_action, nr = st
        if effect is not _E_ALLOW:
            applies = resources_apply(resources, nr, key_account, key_arn)
            denies.append(_classify_deny(i, Statement(*st), version, applies))
            continue
        if (
            pieces is None
            and not not_principal
            and len(principals) == 1
            and principals[0].account == key_account
        ):
            continue  # one principal of the key's own account: it adds no verdict (no Deny)
        if resources == ("*",) and not nr:
            pass  # the usual case: this key
        elif resources_apply(resources, nr, key_account, key_arn) is _A_NEVER:
            continue
        action_set = _action_set(actions, not_action)
        if not action_set:
            continue
        scope = _OPEN
        for c in conditions:
            outcome, pinned = allow_outcome(c, version)
            if outcome is _O_IMPOSSIBLE:
                break
            if outcome is _O_RESTRICT:
                assert pinned is not None
                if scope is _OPEN:  # the first restricting condition: its scope, made consistent
                    memo = (c, version)
                    narrowed = _FIRST_SCOPE.get(memo, _OPEN)
                    if narrowed is _OPEN:
                        narrowed = _OPEN.intersect(pinned)
                        if len(_FIRST_SCOPE) >= 4096:
                            _FIRST_SCOPE.clear()
                        _FIRST_SCOPE[memo] = narrowed
                else:
                    narrowed = scope.intersect(pinned)
                if narrowed is None:
                    break
                scope = narrowed
        else:
            if not_principal:
                if any(p.kind is _K_WILDCARD for p in principals):
                    continue  # as Statement.has_wildcard_principal
                principals = (_WILDCARD,)
            for p in principals:
                if p.kind is _K_UNIQUE_ID:
                    continue
                if scope is not _OPEN and not _identity_survives(p, scope, key_account, org_id):
                    continue
                if pieces is None and p.account == key_account:
                    continue  # the key account's own principal: same-account, nothing to add
                if pieces is not None:
                    pieces.append(_Piece(i, p, action_set, scope))
                    continue
                verdict, ext = entities_of(p, scope, key_account)
                if ext:
                    external = external | ext
                if verdict == "public":
                    public = True
    if pieces is not None:
        for d in denies:
            pieces = apply_deny(pieces, d, key_account, org_id, {}, {})
        for piece in pieces:
            if not piece.actions:
                continue
            verdict, ext = entities_of(piece.principal, piece.scope, key_account)
            if ext:
                external = external | ext
            if verdict == "public":
                public = True
    return public, external


def _build(
    doc: KeyPolicy,
    key_account: str,
    org_id: str | None,
    trusted: frozenset[str],
    key_arn: str | None,
) -> _Builder:
    b = _Builder(doc, key_account, org_id, trusted, key_arn)
    version = doc.effective_version
    for i, st in enumerate(doc.statements):
        if st.effect is _E_ALLOW:
            b.add_allow(i, st)
        else:
            b.denies.append(
                _classify_deny(i, st, version, resource_applies(st, b.key_account, key_arn))
            )
    for d in b.denies:
        b.apply_deny(d)
    b.pieces = [p for p in b.pieces if p.actions]
    return b


def _clear_memos() -> None:
    """Forget every memoised principal, action list, condition and outcome (benchmarks only:
    it measures the analyser on policies made of parts it has never seen)."""
    from cmkguard.policy import _engine, _glob, conditions, document

    memos: tuple[dict[Any, Any], ...] = (
        document._PRINCIPAL_CACHE,
        document._ACTION_LISTS,
        document._ONE_ACTION,
        document._CONDITIONS,
        document._ONE_CONDITION,
        conditions._OUTCOMES,
        conditions._CAPS,
        _FIRST_SCOPE,
        *document._ONE_PRINCIPAL.values(),
    )
    for memo in memos:
        memo.clear()
    document._VALID_ACTIONS.intersection_update({"*"})
    _engine._CHECKED_ACCOUNTS.clear()
    for cached in (
        _engine._action_set,
        _glob._compile,
        _glob.expand_action,
        document._operator,
        document.canonical_condition_key,
    ):
        cached.cache_clear()
    _analyze_text.cache_clear()
