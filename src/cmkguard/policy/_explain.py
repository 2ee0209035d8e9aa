"""Findings and one-sentence explanations, read off the engine's pieces.

Computed only when asked for (`PolicyAnalysis.findings` / `.statements`): verdicts alone are
cheaper, and a scan of thousands of keys often needs nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from cmkguard.policy._engine import Builder as _Builder
from cmkguard.policy._engine import Piece as _Piece
from cmkguard.policy._engine import cond_text as _cond_text
from cmkguard.policy._engine import is_root_of as _is_root_of
from cmkguard.policy._glob import ALL_ACTIONS, CANONICAL_ACTION
from cmkguard.policy._resources import Applies
from cmkguard.policy.document import Effect, PrincipalKind, Statement
from cmkguard.policy.findings import PolicyFinding
from cmkguard.severity import Severity

__all__ = ["StatementExplanation", "explain"]

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

    `verdict` is one of `public`, `cross-account`, `ip-restricted`,
    `network-restricted`, `same-account`, `service`, `no-effect` or `deny`;
    `reason` is one sentence. `principals` and `actions` are what survives (canonical).
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


def arn_account(arn: str) -> str:
    """The account field of an ARN (`""` when it has none or is not an ARN)."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


_POSITIVE = ("StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike")


def _outside(entity: str, key_account: str) -> str:
    # An S3 bucket or Route 53 zone ARN names no account: say so rather than guess its owner.
    if entity.startswith("arn:") and not arn_account(entity):
        return "names no account (its owner may be outside the key's account)"
    return f"is outside account {key_account}"


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
    """Whether CreateGrant in `st` is limited to AWS services or to some grant operations."""
    return any(
        (c.key_lower == "kms:grantisforawsresource" and c.base == "Bool" and c.values == ("true",))
        or (c.key_lower == "kms:grantoperations" and c.qualifier == "ForAllValues")
        or (c.key_lower == "kms:viaservice" and c.base in ("StringEquals", "StringLike"))
        for c in st.conditions
    )


def explain(
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
        _principal_findings(b, i, st)
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


def _principal_findings(b: _Builder, i: int, st: Statement) -> None:
    """Principals that match nobody as written: unique ids of deleted principals, wildcards
    inside ARNs."""
    if st.not_principal:
        return
    for p in st.principals:
        if p.kind is PrincipalKind.UNIQUE_ID:
            b.finding(
                "orphaned-principal",
                f"{p.value} is the unique id of a deleted IAM principal; it matches nobody.",
                i,
                principal=p.value,
            )
        elif p.has_wildcard:
            b.finding(
                "principal-wildcard",
                f"{p.value} has a wildcard inside a principal ARN, which IAM does not expand; "
                "name the principals or use an aws:PrincipalArn condition.",
                i,
                principal=p.value,
            )


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
        c.key_lower in _SOURCE_KEYS and c.base in _POSITIVE and not c.if_exists
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
                f"{entity} {_outside(entity, b.key_account)} and gets {acts}{pinned}"
                + (" (trusted account: downgraded)." if trusted else "."),
                i,
                principal=entity,
                action=acts,
                condition=_cond_text(restricting),
                downgraded=trusted,
                severity=sev,
            )
        if verdict == "ip-restricted" and once("source-ip-condition", "*"):
            ips = ", ".join(
                v for c in st.conditions if c.key_lower == "aws:sourceip" for v in c.values
            )
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
            nets = ", ".join(
                v
                for c in st.conditions
                if c.key_lower in ("aws:sourcevpc", "aws:sourcevpce")
                for v in c.values
            )
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
    c = b.evaluator.statements[i]
    who = ", ".join(p.value for p in st.principals)
    who = f"everyone except {who}" if st.not_principal else who
    acts = _describe_actions(c.actions) if st.actions else "nothing"
    removed = sorted(j for j, by in b.denied_by.items() if i in by)
    limited = sorted(j for j, by in b.limited_by.items() if i in by)
    when = f" when {_cond_text(st.conditions)}" if st.conditions else " unconditionally"
    if not st.actions or not st.resources:
        missing = "Action" if not st.actions else "Resource"
        reason = f"Denies nothing: it has no {missing} element, which KMS accepts and ignores."
    elif c.applies is Applies.NEVER:
        reason = "Denies nothing: its Resource cannot match this key."
    elif c.applies is Applies.MAYBE:
        reason = (
            f"Denies {acts} to {who}, but its Resource may not cover this key, so it is not "
            "counted as removing access."
        )
    else:
        effect = []
        if removed:
            effect.append("removes all of " + ", ".join(f"Statement[{j}]" for j in removed))
        if limited:
            effect.append("limits " + ", ".join(f"Statement[{j}]" for j in limited))
        tail = f" ({'; '.join(effect)})" if effect else ""
        reason = f"Denies {acts} to {who}{when}{tail}."
    principals = tuple(p.value for p in st.principals)
    actions = tuple(sorted(CANONICAL_ACTION.get(a, a) for a in c.actions))
    return StatementExplanation(i, st.sid, "Deny", "deny", reason, principals, actions)
