"""The analysis in progress: exact grants (`_access.py`) read as pieces, reasons and denials.

A *piece* is what one Allow statement gives one principal for a group of actions, with its
verdict (public, cross-account...), the external entities it reaches and the witnesses that
prove it. Findings and explanations (`_explain.py`) are written from the pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from cmkguard.arn import is_account_id, is_org_id
from cmkguard.errors import ConfigurationError
from cmkguard.policy._access import allow_results
from cmkguard.policy._context import Setting
from cmkguard.policy._exact import Evaluator, GrantResult
from cmkguard.policy._glob import CANONICAL_ACTION
from cmkguard.policy._resources import Applies
from cmkguard.policy.document import Condition, Effect, KeyPolicy, Principal, PrincipalKind
from cmkguard.policy.findings import _POLICY_FINDINGS, PolicyFinding
from cmkguard.policy.witness import AccessWitness, Denial

__all__ = [
    "Builder",
    "Piece",
    "build",
    "check_account",
    "check_key_arn",
    "check_org_id",
    "check_trusted",
    "cond_text",
    "is_root_of",
]

_PINNING_KEYS = frozenset(
    {
        "aws:principalaccount",
        "kms:calleraccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:userid",
        "aws:principalservicename",
        "aws:principalisawsservice",
    }
)


def check_account(key_account: object) -> str:
    """`key_account` as a string, or `ConfigurationError` if it is not 12 digits."""
    text = str(key_account)
    if not is_account_id(text):
        raise ConfigurationError(f"key_account {key_account!r} is not a 12-digit account id")
    return text


def check_org_id(org_id: object) -> str | None:
    """`org_id` (`o-` and 10-32 lower-case letters or digits) or None; else `ConfigurationError`."""
    if org_id is None:
        return None
    if not isinstance(org_id, str) or not is_org_id(org_id):
        raise ConfigurationError(f"org_id {org_id!r} is not an organization id (o-...)")
    return org_id


def _is_trusted_entity(entity: object) -> bool:
    # Account ids, organization ids (and org paths o-.../r-.../ou-...), or principal ARNs.
    if not isinstance(entity, str):
        return False
    return (
        is_account_id(entity)
        or is_org_id(entity.split("/", 1)[0])
        or (entity.startswith("arn:") and entity.count(":") >= 5)
    )


def check_trusted(trusted_accounts: Iterable[object]) -> frozenset[str]:
    """The trusted entities as a set; `ConfigurationError` for a bare string (it would be read
    as its characters) or an entry that is no account id, organization id or ARN."""
    if isinstance(trusted_accounts, str):
        raise ConfigurationError(
            f"trusted_accounts must be a list, not the string {trusted_accounts!r} "
            f"(write [{trusted_accounts!r}])"
        )
    entities = tuple(trusted_accounts)
    for entity in entities:
        if not _is_trusted_entity(entity):
            raise ConfigurationError(
                f"trusted_accounts: {entity!r} is not a 12-digit account id, an organization "
                "id (o-...) or an ARN"
            )
    return frozenset(str(e) for e in entities)


def check_key_arn(key_arn: object) -> str | None:
    """`key_arn` (`arn:<partition>:kms:<region>:<account>:key/<id>`) or None."""
    if key_arn is None:
        return None
    parts = key_arn.split(":", 5) if isinstance(key_arn, str) else []
    if (
        not isinstance(key_arn, str)
        or len(parts) != 6
        or parts[0] != "arn"
        or parts[2] != "kms"
        or not is_account_id(parts[4])
        or not parts[5].startswith("key/")
    ):
        raise ConfigurationError(
            f"key_arn {key_arn!r} is not a KMS key ARN (arn:aws:kms:REGION:123456789012:key/KEY-ID)"
        )
    return key_arn


@attrs.frozen
class Piece:
    """Statement `index` gives `principal` these lower-cased `actions`: `verdict`,
    the external `entities` reached, and the witnesses."""

    index: int
    principal: Principal
    actions: frozenset[str]
    verdict: str
    entities: frozenset[str]
    witnesses: tuple[AccessWitness, ...]


def cond_text(conds: Iterable[Condition]) -> str | None:
    """Conditions as one `; `-separated text (`None` when there are none)."""
    text = "; ".join(str(c) for c in conds)
    return text or None


def is_root_of(p: Principal, account: str) -> bool:
    """Whether `p` is the root of `account`."""
    return p.kind is PrincipalKind.ACCOUNT and p.account == account


class Builder:
    """Everything the verdicts, findings and explanations of one analysis are read from."""

    def __init__(
        self,
        policy: KeyPolicy,
        key_account: str,
        org_id: str | None,
        trusted: frozenset[str],
        key_arn: str | None,
    ) -> None:
        partition = key_partition(policy, key_account, key_arn)
        policy = in_partition(policy, partition)
        self.policy = policy
        self.key_account = key_account
        self.org_id = org_id
        self.trusted = trusted
        self.key_arn = key_arn
        self.setting = Setting(key_account, partition, org_id)
        self.evaluator = Evaluator(policy, self.setting, key_arn)
        self.results: list[GrantResult] = allow_results(self.evaluator)
        self.pieces: list[Piece] = [
            Piece(r.index, r.principal, r.actions, r.verdict, r.entities, r.witnesses)
            for r in self.results
            if r.verdict is not None
        ]
        self.findings: list[PolicyFinding] = []
        self.inert: dict[int, str] = {}
        self.denied_by: dict[int, set[int]] = {}
        self.limited_by: dict[int, set[int]] = {}
        self.statement_actions: dict[int, frozenset[str]] = {}
        self.restricting: dict[int, list[Condition]] = {}
        self.loose: dict[int, list[Condition]] = {}
        self.denials: list[Denial] = []
        self.allowed_memo: dict[str, frozenset[str]] = {}
        self.explained: tuple[tuple[PolicyFinding, ...], tuple[Any, ...]] | None = None
        self._read_results()

    def _read_results(self) -> None:
        by_statement: dict[int, list[GrantResult]] = {}
        for r in self.results:
            by_statement.setdefault(r.index, []).append(r)
            for w in r.witnesses:
                for e in w.deny_escapes:
                    if e.reason.startswith("its condition"):
                        self.limited_by.setdefault(r.index, set()).add(e.statement_index)
        for c in self.evaluator.statements:
            st = c.statement
            if st.effect is Effect.DENY:
                continue
            i = c.index
            self.restricting[i] = [x for x in st.conditions if x.key.lower() in _PINNING_KEYS]
            self.loose[i] = [x for x in st.conditions if x.key.lower() not in _PINNING_KEYS]
            self.statement_actions[i] = c.actions
            reason = self._inert_reason(i, by_statement.get(i, []))
            if reason is not None:
                self.inert[i] = reason
        for r in self.results:
            if r.verdict is None and r.denied_by:
                self.denied_by.setdefault(r.index, set()).update(r.denied_by)
                sid = self.policy.statements[r.index].sid
                first = sorted(r.actions)[0]
                action = CANONICAL_ACTION.get(first, first)
                self.denials.append(Denial(r.index, sid, r.principal.value, action, r.denied_by))

    def _inert_reason(self, i: int, results: list[GrantResult]) -> str | None:
        c = self.evaluator.statements[i]
        st = c.statement
        if not st.actions or not st.resources:
            missing = "Action (or NotAction)" if not st.actions else "Resource (or NotResource)"
            return f"it has no {missing} element, which KMS accepts and ignores"
        if c.applies is Applies.NEVER:
            where = ", ".join(st.resources)
            kind = "NotResource" if st.not_resource else "Resource"
            return f"its {kind} ({where}) cannot match a key of account {self.key_account}"
        if not self.evaluator.action_groups(c):
            return f"it names no kms action ({', '.join(st.actions)})"
        if st.not_principal and any(p.kind is PrincipalKind.WILDCARD for p in st.principals):
            return "NotPrincipal '*' with Allow excludes every caller"
        if any(r.verdict is not None for r in results):
            return None
        if any(r.denied_by for r in results):
            return None  # removed by Denies: said by denied_by
        if all(p.kind is PrincipalKind.UNIQUE_ID for p in st.principals) and not st.not_principal:
            return "it names no principal that still exists"
        conds = cond_text(st.conditions)
        if conds:
            return f"its conditions ({conds}) can never be met by a request of its principals"
        return "none of its principals can make a request to this key"

    def finding(self, fid: str, explanation: str, index: int | None = None, **kw: Any) -> None:
        sid = self.policy.statements[index].sid if index is not None else None
        severity = kw.pop("severity", _POLICY_FINDINGS[fid].severity)
        self.findings.append(PolicyFinding(fid, severity, explanation, index, sid, **kw))

    def entities(self, piece: Piece) -> tuple[str, frozenset[str]]:
        """`(verdict, external entities)` of one piece."""
        return piece.verdict, piece.entities

    def is_trusted(self, entity: str) -> bool:
        return entity in self.trusted or _arn_account(entity) in self.trusted


def _arn_account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def key_partition(policy: KeyPolicy, key_account: str, key_arn: str | None) -> str:
    """The key's partition (docs/policy.md, "The key's partition"): its ARN's; else, by tiers,
    the partitions of the Resource ARNs that can name this key (kms ARNs of the key's account),
    else of the key account's principal ARNs, else of any principal ARN (a bare account id
    names no partition, so it does not vote); else `aws`. The first tier that names any
    decides: one partition is it, several give `aws` if among them, else the first in
    alphabetical order (so statement order never matters)."""
    if key_arn and key_arn.startswith("arn:"):
        return key_arn.split(":", 2)[1]
    resources: set[str] = set()
    own: set[str] = set()
    anyone: set[str] = set()
    for st in policy.statements:
        for r in st.resources:
            parts = r.split(":", 5)
            got = _arn_partition(r)
            if got is not None and parts[2] == "kms" and parts[4] == key_account:
                resources.add(got)
        for p in st.principals:
            if p.kind in (PrincipalKind.ACCOUNT, PrincipalKind.ARN) and not p.bare:
                got = _arn_partition(p.value)
                if got is not None:
                    (own if p.account == key_account else anyone).add(got)
    for tier in (resources, own, own | anyone):
        if tier:
            return "aws" if "aws" in tier else min(tier)
    return "aws"


def _arn_partition(text: str) -> str | None:
    """The partition field of an ARN (`None`: not an ARN, or a wildcard partition)."""
    parts = text.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not parts[1].startswith("aws"):
        return None
    return None if "*" in parts[1] or "?" in parts[1] else parts[1]


def in_partition(policy: KeyPolicy, partition: str) -> KeyPolicy:
    """`policy` with every bare account id read as that account's root in `partition`, and
    each statement's principals that are then equal listed once (a bare id next to its
    explicit root ARN in the same partition)."""
    statements = []
    changed = False
    for st in policy.statements:
        if any(p.bare for p in st.principals):
            principals: list[Principal] = []
            for p in st.principals:
                if p.bare and partition != "aws":  # bare ids are parsed as `aws` roots
                    p = attrs.evolve(p, value=f"arn:{partition}:iam::{p.account}:root")
                if p not in principals:
                    principals.append(p)
            if partition != "aws" or len(principals) < len(st.principals):
                st = attrs.evolve(st, principals=tuple(principals))
                changed = True
        statements.append(st)
    return attrs.evolve(policy, statements=tuple(statements)) if changed else policy


def build(
    policy: KeyPolicy,
    key_account: str,
    org_id: str | None,
    trusted: frozenset[str],
    key_arn: str | None,
) -> Builder:
    """The `Builder` of one analysis."""
    return Builder(policy, key_account, org_id, trusted, key_arn)


Note = Callable[[], str]
