"""The analysis engine: a policy reduced to pieces (statement, principal, actions, scope).

Every ``Allow`` that can apply yields pieces; every ``Deny`` then removes actions from the pieces it
covers (unconditionally), narrows ``"*"`` to the exempt principals (``NotPrincipal``), or confines
them to a scope (a negated condition on a restricting key). The action space is the finite model
in ``_actions.py``, so globs, ``NotAction`` and partial Denies are set algebra.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

import attrs

from cmkguard.arn import is_account_id
from cmkguard.errors import ConfigurationError
from cmkguard.policy._glob import ALL_ACTIONS, expand_action
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
    KeyPolicy,
    Principal,
    PrincipalKind,
    Statement,
)
from cmkguard.policy.findings import POLICY_FINDINGS, PolicyFinding

# Enum members as module constants: reading one off its Enum class costs ~80 ns on Python 3.11
# (a lookup through the metaclass), and these are read in the analyser's innermost loops.
_K_ACCOUNT = PrincipalKind.ACCOUNT
_K_ARN = PrincipalKind.ARN
_K_FEDERATED = PrincipalKind.FEDERATED
_K_SERVICE = PrincipalKind.SERVICE
_K_UNIQUE_ID = PrincipalKind.UNIQUE_ID
_K_WILDCARD = PrincipalKind.WILDCARD
_O_IMPOSSIBLE = Outcome.IMPOSSIBLE
_O_RESTRICT = Outcome.RESTRICT
_A_MAYBE = Applies.MAYBE
_A_NEVER = Applies.NEVER


_CHECKED_ACCOUNTS: set[str] = set()


def check_account(key_account: object) -> str:
    """``key_account`` as a string, or :class:`ConfigurationError` if it is not 12 digits."""
    if type(key_account) is str and key_account in _CHECKED_ACCOUNTS:
        return key_account  # the same few accounts are checked for every key of an estate
    text = str(key_account)
    if not is_account_id(text):
        raise ConfigurationError(f"key_account {key_account!r} is not a 12-digit account id")
    if type(key_account) is str and len(_CHECKED_ACCOUNTS) < 4096:
        _CHECKED_ACCOUNTS.add(text)
    return text


_WILDCARD = Principal("AWS", "*", _K_WILDCARD)
_OPEN = Scope()


@attrs.frozen
class _Piece:
    """Statement ``index`` gives ``principal`` these lower-cased ``actions`` within ``scope``."""

    index: int
    principal: Principal
    actions: frozenset[str]
    scope: Scope


@attrs.frozen
class _Deny:
    """A Deny statement classified: how it acts on the pieces it covers (``mode``) and why."""

    index: int
    statement: Statement
    actions: frozenset[str]
    mode: str  # full | full-nonservice | cap | conditional | never | partial-resource
    cap: Scope | None
    # The sentence is only needed for explanations (rendering conditions costs more than
    # classifying them): the ones naming conditions are made on first use.
    _note: str | Callable[[], str] = attrs.field(alias="note")

    @property
    def note(self) -> str:
        """Why the Deny acts as ``mode`` says (a clause of the explanation)."""
        return self._note if isinstance(self._note, str) else self._note()


# --------------------------------------------------------------------------------------------
# helpers


@lru_cache(maxsize=4096)
def _action_set(actions: tuple[str, ...], not_action: bool) -> frozenset[str]:
    matched: frozenset[str] = frozenset().union(*(expand_action(a) for a in actions))
    return ALL_ACTIONS - matched if not_action else matched


def _is_root_of(p: Principal, account: str) -> bool:
    return p.kind is _K_ACCOUNT and p.account == account


def _identity_survives(p: Principal, scope: Scope, key_account: str, org_id: str | None) -> bool:
    """Whether a named principal can still satisfy identity pins (accounts, ARNs, org)."""
    if p.kind not in (_K_ACCOUNT, _K_ARN) or p.account is None:
        return True
    if scope.accounts is not None and p.account not in scope.accounts:
        return False
    if scope.arns is not None:
        if p.kind is _K_ARN and not p.has_wildcard:
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
            if d.kind is _K_WILDCARD or d.value == p.value:
                return ()
            if d.kind is _K_ACCOUNT and p.kind in (_K_ACCOUNT, _K_ARN) and p.account == d.account:
                return ()
        return None
    exempt = deny.principals
    if any(e.kind is _K_WILDCARD or e.value == p.value for e in exempt):
        return None
    if p.kind is _K_WILDCARD:
        return tuple(e for e in exempt if e.kind is not _K_UNIQUE_ID)
    if p.kind is _K_ACCOUNT:
        return tuple(e for e in exempt if e.account == p.account)
    if p.kind is _K_ARN and any(
        e.account == p.account and (e.kind is _K_ACCOUNT or p.has_wildcard) for e in exempt
    ):
        return None  # the account (or a match of the wildcard) is exempt: keep, to be safe
    return ()


def _cond_text(conds: Iterable[Condition]) -> str | None:
    text = "; ".join(str(c) for c in conds)
    return text or None


def _condition_note(c: Condition, what: str) -> Callable[[], str]:
    return lambda: f"its condition {c} {what}"


def _classify_deny(index: int, st: Statement, version: str, applies: Applies) -> _Deny:
    actions = _action_set(st.actions, st.not_action)
    if applies is _A_NEVER:
        return _Deny(index, st, actions, "never", None, "its Resource cannot match this key")
    if applies is _A_MAYBE:
        note = "its Resource may not cover this key, so it is not counted as removing access"
        return _Deny(index, st, actions, "partial-resource", None, note)
    if not st.conditions:
        return _Deny(index, st, actions, "full", None, "unconditionally")
    caps: list[tuple[Condition, Scope]] = []
    others: list[Condition] = []
    exempt = False
    for c in st.conditions:
        if allow_outcome(c, version)[0] is _O_IMPOSSIBLE:
            return _Deny(index, st, actions, "never", None, _condition_note(c, "can never be met"))
        cap = deny_cap(c, version)
        if cap is True:
            return _Deny(index, st, actions, "never", None, _condition_note(c, "is never true"))
        if isinstance(cap, Scope):
            caps.append((c, cap))
        elif is_service_exemption(c):
            exempt = True
        else:
            others.append(c)
    if others:

        def conditional() -> str:
            return (
                f"only when {_cond_text(others)}; a caller can avoid that, "
                "so it is not counted as removing access"
            )

        return _Deny(index, st, actions, "conditional", None, conditional)
    if not caps:
        return _Deny(index, st, actions, "full-nonservice", None, "for every caller but services")
    merged = caps[0][1]
    for _, other in caps[1:]:
        dims = [d for d in Dimension if merged.get(d) is not None]
        odims = [d for d in Dimension if other.get(d) is not None]
        if dims != odims or len(dims) != 1:

            def anded() -> str:
                return (
                    f"only when all of {_cond_text(c for c, _ in caps)} hold; a caller meeting "
                    "any one escapes it, so it is not counted"
                )

            return _Deny(index, st, actions, "conditional", None, anded)
        (dim,) = dims
        union = (merged.get(dim) or frozenset()) | (other.get(dim) or frozenset())
        merged = Scope(**{dim.name.lower(): union})

    def unless() -> str:
        return f"unless {_cond_text(c for c, _ in caps)}" + (
            " (AWS services exempt)" if exempt else ""
        )

    return _Deny(index, st, actions, "cap", merged, unless)


def apply_deny(
    pieces: list[_Piece],
    d: _Deny,
    key_account: str,
    org_id: str | None,
    denied_by: dict[int, set[int]],
    limited_by: dict[int, set[int]],
) -> list[_Piece]:
    """``pieces`` once the Deny ``d`` acted on them; which statements it denied or limited is
    recorded in ``denied_by``/``limited_by`` (statement index -> Deny indexes)."""
    if d.mode not in ("full", "full-nonservice", "cap"):
        return pieces
    out: list[_Piece] = []
    for piece in pieces:
        inter = piece.actions & d.actions
        survivors = _survivors(d.statement, piece.principal) if inter else None
        is_service = piece.principal.kind is _K_SERVICE
        if survivors is None or (d.mode == "full-nonservice" and is_service):
            out.append(piece)
            continue
        if d.mode == "cap" and survivors:
            out.append(piece)  # a conditional NotPrincipal Deny: too partial to count
            continue
        keep = piece.actions - d.actions
        if d.mode == "cap":
            assert d.cap is not None
            if piece.principal.kind is _K_WILDCARD:
                narrowed = piece.scope.intersect(d.cap)
                if narrowed is not None:
                    out.append(_Piece(piece.index, piece.principal, inter, narrowed))
                    limited_by.setdefault(piece.index, set()).add(d.index)
                else:
                    denied_by.setdefault(piece.index, set()).add(d.index)
            elif is_service or _identity_survives(piece.principal, d.cap, key_account, org_id):
                keep = piece.actions
            else:
                denied_by.setdefault(piece.index, set()).add(d.index)
        else:
            denied_by.setdefault(piece.index, set()).add(d.index)
            # NotPrincipal Deny: the exempt principals are all that is left of the piece.
            for e in survivors:
                if _identity_survives(e, piece.scope, key_account, org_id):
                    out.append(_Piece(piece.index, e, inter, piece.scope))
        if keep:
            out.append(_Piece(piece.index, piece.principal, keep, piece.scope))
    return out


# --------------------------------------------------------------------------------------------
# the analyser


class _Builder:
    """The analysis in progress (a plain slotted class: it is built once per policy, so its
    construction cost shows in the analyses-per-second figure)."""

    __slots__ = (
        "allowed_memo",
        "denied_by",
        "denies",
        "excluded",
        "explained",
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
        # Filled in by PolicyAnalysis on demand (the analysis itself is frozen).
        self.allowed_memo: dict[str, frozenset[str]] = {}
        self.explained: tuple[tuple[PolicyFinding, ...], tuple[Any, ...]] | None = None

    def finding(self, fid: str, explanation: str, index: int | None = None, **kw: Any) -> None:
        sid = self.policy.statements[index].sid if index is not None else None
        severity = kw.pop("severity", POLICY_FINDINGS[fid].severity)
        self.findings.append(PolicyFinding(fid, severity, explanation, index, sid, **kw))

    # -- Allow statements -------------------------------------------------------------------

    def add_allow(self, i: int, st: Statement) -> None:
        version = self.policy.effective_version
        applies = resource_applies(st, self.key_account, self.key_arn)
        if applies is _A_NEVER:
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
            if outcome is _O_IMPOSSIBLE:
                self.inert[i] = f"its condition {c} can never be met by a real request"
                return
            if outcome is _O_RESTRICT:
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
            if p.kind is _K_UNIQUE_ID:
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
            if scope is not _OPEN and not _identity_survives(
                p, scope, self.key_account, self.org_id
            ):
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
        self.pieces = apply_deny(
            self.pieces, d, self.key_account, self.org_id, self.denied_by, self.limited_by
        )

    # -- reading the answers off the pieces -------------------------------------------------

    def entities(self, piece: _Piece) -> tuple[str, frozenset[str]]:
        """``(verdict, external entities)`` of one piece."""
        return entities_of(piece.principal, piece.scope, self.key_account)

    def is_trusted(self, entity: str) -> bool:
        return entity in self.trusted or arn_account(entity) in self.trusted


_NONE: frozenset[str] = frozenset()
_SERVICE = ("service", _NONE)
_SAME = ("same-account", _NONE)
_PUBLIC = ("public", frozenset({"*"}))
_IP_RESTRICTED = ("ip-restricted", _NONE)
_NETWORK_RESTRICTED = ("network-restricted", _NONE)


def entities_of(p: Principal, scope: Scope, key: str) -> tuple[str, frozenset[str]]:
    """``(verdict, external entities)`` of ``p`` reaching the key of account ``key`` in ``scope``.

    The returned sets may be shared between calls: they are frozen.
    """
    kind = p.kind
    if kind is _K_ACCOUNT or kind is _K_ARN:
        if p.account == key:
            return _SAME
        entity = p.account if kind is _K_ACCOUNT and p.account else p.value
        return "cross-account", frozenset({entity})
    if kind is _K_SERVICE:
        return _SERVICE
    if kind is _K_FEDERATED:
        return "cross-account", frozenset({p.value})
    if scope is _OPEN:
        return _PUBLIC
    who, values = scope.who()
    if who == "open":
        return _PUBLIC
    if who == "ips":
        return _IP_RESTRICTED
    if who == "networks":
        return _NETWORK_RESTRICTED
    if who == "orgs":
        return "cross-account", values
    if who in ("accounts", "source-accounts"):
        ext = values - {key}
    else:
        ext = frozenset(a for a in values if arn_account(a) != key)
    return ("cross-account" if ext else "same-account"), ext
