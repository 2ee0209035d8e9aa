"""Who can do what with a key: the key-policy analyser (docs/policy.md).

`analyze_key_policy` parses the policy, lets the engine (`_engine.py`) reduce it to
pieces and reads the verdicts off them; findings and explanations (`_explain.py`) are computed
on first access.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from cmkguard._html import document, table
from cmkguard.policy._access import evaluate_grant, grant_principals
from cmkguard.policy._engine import (
    Builder,
    build,
    check_account,
    check_key_arn,
    check_org_id,
    check_trusted,
)
from cmkguard.policy._explain import StatementExplanation, explain
from cmkguard.policy._glob import ALL_ACTIONS
from cmkguard.policy._memo import MEMOS, remember
from cmkguard.policy._predicates import parse_date
from cmkguard.policy._screen import screen_external, screen_public
from cmkguard.policy.document import (
    KeyPolicy,
    fast_policy_parts,
    parse_key_policy,
    policy_from_parts,
)
from cmkguard.policy.findings import PolicyFinding
from cmkguard.policy.witness import AccessWitness, Denial

__all__ = ["PolicyAnalysis", "StatementExplanation", "analyze_key_policy"]

_NOBODY: frozenset[str] = frozenset()

_SUMMARY_ACTIONS = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:CreateGrant",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
)
_VERDICT_ORDER = {
    "public": 0,
    "cross-account": 1,
    "ip-restricted": 2,
    "network-restricted": 3,
    "same-account": 4,
    "service": 5,
}


@attrs.frozen(eq=False, repr=False)
class PolicyAnalysis:
    """The analysis of one key policy for one key account (see `analyze_key_policy`).

    `external_access` lists `"*"` when public, 12-digit account ids, ARNs of specific external
    principals and org ids; trusted accounts are listed too (their findings are downgraded).

    Every answer is computed on first access and then kept (the analysis stays immutable):
    `analyze_key_policy` only parses, and a scan that reads `is_public` alone often never runs
    the full evaluation (docs/policy.md, "Performance"). Built by hand, `is_public=None` or
    `external_access=None` means "compute it from the policy".
    """

    key_account: str
    _is_public: bool | None = attrs.field(alias="is_public")
    _external_access: frozenset[str] | None = attrs.field(alias="external_access")
    policy: KeyPolicy
    org_id: str | None = None
    trusted_accounts: frozenset[str] = frozenset()
    _key_arn: str | None = attrs.field(default=None, alias="key_arn")
    _builder: Builder | None = attrs.field(default=None, alias="builder")

    @property
    def is_public(self) -> bool:
        """Whether some effective Allow gives some kms action to an unbounded set of callers."""
        public = self._is_public
        if public is None:
            public = screen_public(self.policy, self.key_account, self._key_arn)
            if public is None:  # not one of the screened shapes: the full evaluation decides
                public = any(p.verdict == "public" for p in self._built().pieces)
            object.__setattr__(self, "_is_public", public)  # a cache, as in _built
        return public

    @property
    def external_access(self) -> frozenset[str]:
        """The external entities that get some kms action (`"*"` when public)."""
        external = self._external_access
        if external is None:
            external = screen_external(
                self.policy, self.key_account, self.org_id, self.trusted_accounts, self._key_arn
            )
            if external is None:
                found: set[str] = set()
                for p in self._built().pieces:
                    if p.verdict in ("public", "cross-account"):
                        found |= p.entities
                external = frozenset(found)
            object.__setattr__(self, "_external_access", external)
        return external

    def _identity(self) -> tuple[Any, ...]:
        # What equality and hashing compare (the public fields, as when they were attrs fields).
        return (
            self.key_account,
            self.is_public,
            self.external_access,
            self.policy,
            self.org_id,
            self.trusted_accounts,
        )

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, PolicyAnalysis)
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        return (
            f"PolicyAnalysis(key_account={self.key_account!r}, is_public={self.is_public!r}, "
            f"external_access={self.external_access!r}, org_id={self.org_id!r}, "
            f"trusted_accounts={self.trusted_accounts!r})"
        )

    def _built(self) -> Builder:
        b = self._builder
        if b is None:
            b = build(
                self.policy, self.key_account, self.org_id, self.trusted_accounts, self._key_arn
            )
            object.__setattr__(self, "_builder", b)  # a cache: the analysis stays immutable
        return b

    @property
    def exact(self) -> bool:
        """Whether every answer is exact: `False` when the analysis reached its work bound
        (docs/policy.md, "The bound") and the questions left took the safe side, reporting
        access (public, external) that a full search might have ruled out. Never the other
        way: an inexact analysis can over-report, never under-report."""
        return self._built().evaluator.exact

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
    def finding_ids(self) -> frozenset[str]:
        """The ids of the findings (handy for assertions and gates)."""
        return frozenset(f.id for f in self.findings)

    @property
    def witnesses(self) -> tuple[AccessWitness, ...]:
        """One witness request per verdict, most severe first: `"*"` when public, each
        external entity, then same-account and service grants (see `AccessWitness`)."""
        seen: dict[tuple[str, str, int], AccessWitness] = {}
        for piece in self._built().pieces:
            for w in piece.witnesses:
                seen.setdefault((w.verdict, w.entity, w.allowed_by), w)
        return tuple(
            sorted(seen.values(), key=lambda w: (_VERDICT_ORDER[w.verdict], w.entity, w.allowed_by))
        )

    def witness(self, entity: str) -> AccessWitness | None:
        """The witness for one entity of `external_access` (`"*"` when public), or for a
        same-account or service principal; `None` when it gets nothing."""
        for w in self.witnesses:
            if w.entity == entity:
                return w
        return None

    @property
    def denials(self) -> tuple[Denial, ...]:
        """Allow grants that Deny statements remove entirely, with the Denies that do."""
        return tuple(self._built().denials)

    def principals_allowed(self, action: str) -> frozenset[str]:
        """Every principal an effective Allow gives `action` (matched case-insensitively).

        Accounts appear as `arn:aws:iam::<id>:root`, wildcard and `NotPrincipal` as `"*"`
        (even when a condition narrows the caller), services by name, other ARNs as written.
        """
        low = action.lower()
        b = self._built()
        cached = b.allowed_memo.get(low)
        if cached is not None:
            return cached
        if low in ALL_ACTIONS:
            result = frozenset(p.principal.value for p in b.pieces if low in p.actions)
        else:
            result = _unmodelled_allowed(b, low)
        b.allowed_memo[low] = result
        return result

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: verdicts, external access, key actions' principals, findings."""
        return {
            "key_account": self.key_account,
            "org_id": self.org_id,
            "is_public": self.is_public,
            "exact": self.exact,
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
        # The shared view stylesheet, so Jupyter's CSS does not right-align text.
        return document(
            "policy",
            f"<p><b>Key policy of account {html.escape(self.key_account)}</b>: "
            f"{html.escape(verdict)}; external access: {html.escape(ext)}</p>",
            findings,
            statements,
        )


def analyze_key_policy(
    policy: str | bytes | Mapping[str, Any] | KeyPolicy,
    *,
    key_account: str,
    org_id: str | None = None,
    trusted_accounts: Iterable[str] = (),
    key_arn: str | None = None,
) -> PolicyAnalysis:
    """Analyse a key policy for the key in `key_account` (pure: never calls AWS).

    `policy` is JSON text, a decoded mapping or a `KeyPolicy`; malformed input raises
    `cmkguard.PolicyParseError`. `org_id` is the key account's organization;
    `trusted_accounts` are external accounts (or org ids) whose access is intended: still
    listed in `external_access`, with downgraded findings. `key_arn` (optional) lets
    `Resource` patterns be matched exactly instead of by account, and gives the key's
    partition. A `key_account` that is not 12 digits raises `cmkguard.ConfigurationError`.

    The verdicts are exact over every possible request (docs/policy.md, "Method"); each comes
    with a witness request (`PolicyAnalysis.witnesses`).
    """
    key_account = check_account(key_account)
    org_id = check_org_id(org_id)
    key_arn = check_key_arn(key_arn)
    trusted = check_trusted(trusted_accounts) if trusted_accounts else _NOBODY
    # Estates repeat policies (every AWS-managed key of a service, module-generated policies):
    # an analysis is immutable and a pure function of its inputs, so identical inputs share one
    # (its answers are computed once, when first read).
    parsed: KeyPolicy | None = None
    parts = None if isinstance(policy, str) else fast_policy_parts(policy)
    if isinstance(policy, str) or parts is not None:
        # Texts are looked up before parsing; the usual decoded policy by its validated parts
        # (tuples of memoised principals, actions and conditions: cheap to hash and compare).
        identity: Any = policy if parts is None else parts
    else:
        parsed = identity = parse_key_policy(policy)
    memo_key = (identity, key_account, org_id, trusted, key_arn)
    hit = _remembered(memo_key)
    if hit is not None:
        return hit
    if parsed is None:
        parsed = parse_key_policy(policy) if parts is None else policy_from_parts(parts)
    analysis = _analyze(parsed, key_account, org_id, trusted, key_arn)
    now = time.time()
    until = _valid_until(parsed, now)
    if until > now:
        remember(_ANALYSES, memo_key, (analysis, until), _ANALYSES_LIMIT)
    return analysis


# Analyses by (policy text or parsed KeyPolicy, key account, org id, trusted, key ARN), each
# with the time (epoch seconds) until which its answers hold.
_ANALYSES: dict[tuple[Any, ...], tuple[PolicyAnalysis, float]] = MEMOS.table()
_ANALYSES_LIMIT = 2048
_TIME_KEYS = frozenset({"aws:currenttime", "aws:epochtime"})
_FOREVER = float("inf")


def _remembered(memo_key: tuple[Any, ...]) -> PolicyAnalysis | None:
    hit = _ANALYSES.get(memo_key)
    if hit is None:
        return None
    analysis, until = hit
    if until != _FOREVER and time.time() >= until:
        return None  # a time window in the policy opened or closed since: evaluate again
    return analysis


def _valid_until(policy: KeyPolicy, now: float) -> float:
    """Until when an analysis made `now` stays right.

    The clock enters the evaluation only as "the request's `aws:CurrentTime`/`aws:EpochTime`
    is now or later" (docs/policy.md, "Method"), so the answers change only when now passes
    one of the policy's time constants: the first constant not yet passed bounds the memo.
    A time value that is not a constant (a policy variable, odd text) is never memoised.
    """
    until = _FOREVER
    for st in policy.statements:
        for c in st.conditions:
            if c.key_lower not in _TIME_KEYS:
                continue
            for value in c.values:
                moment = parse_date(value)
                if moment is None:
                    return now
                if now <= moment < until:
                    until = moment
    return until


def _analyze(
    policy: KeyPolicy,
    key_account: str,
    org_id: str | None,
    trusted: frozenset[str],
    key_arn: str | None,
) -> PolicyAnalysis:
    # Nothing is evaluated yet: each answer is computed when first read (PolicyAnalysis).
    return PolicyAnalysis(key_account, None, None, policy, org_id, trusted, key_arn)


def _unmodelled_allowed(b: Builder, action: str) -> frozenset[str]:
    """`principals_allowed` for an action outside the KMS model (a newer API, another
    service): evaluated for that action's own Deny coverage."""
    ev = b.evaluator
    out: set[str] = set()
    sig = tuple(d.index for d in ev.denies if d.covers(action))
    for allow in ev.statements:
        if allow.is_deny or allow.applies.value == "never" or not allow.covers(action):
            continue
        for test, principal in grant_principals(allow):
            for r in evaluate_grant(ev, allow, test, principal, sig, frozenset({action})):
                if r.verdict is not None:
                    out.add(r.principal.value)
    return frozenset(out)


def clear_memos() -> None:
    """Forget every memoised part and analysis (benchmarks: measure on unseen policies)."""
    MEMOS.clear()


def clear_analysis_memo() -> None:
    """Forget the memoised analyses only, keeping the memoised parts (benchmarks: policies
    seen for the first time, made of parts an estate's earlier keys already used)."""
    _ANALYSES.clear()


_clear_memos = clear_memos  # the name benchmarks/policy.py used
