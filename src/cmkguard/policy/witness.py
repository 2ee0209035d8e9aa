"""Witnesses: the concrete request behind every verdict of a key-policy analysis.

When the analyser says a key is public, or that an external entity can use it, it has found one
request that gets in: a caller (partition, account, principal ARN, organization), a kms action
and the values of the condition keys the policy looks at. An `AccessWitness` carries that
request, the Allow statement that admits it and, for every Deny that could have applied, why it
does not (which of its conditions the request escapes). A `Denial` says the opposite: an
Allow whose grant is entirely removed, and by which Deny statements.

Reviewers can check a witness by hand against the policy; `cmkguard policy explain` prints
them, and audit findings carry them as evidence (`witness_evidence`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["AccessWitness", "Denial", "DenyEscape", "witness_evidence"]


@attrs.frozen
class DenyEscape:
    """Why one Deny statement does not remove the witnessed request.

    `reason` is one sentence, e.g. "its condition StringNotEquals
    aws:PrincipalOrgID "o-a1b2c3d4e5" is false for this request".
    """

    statement_index: int
    sid: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"statement_index": self.statement_index, "sid": self.sid, "reason": self.reason}


ContextValue = str | tuple[str, ...] | None
"""A condition key's value in a witnessed request: one string, several, or absent (`None`)."""


def _sorted_context(context: Mapping[str, ContextValue]) -> dict[str, ContextValue]:
    return dict(sorted(context.items()))


@attrs.frozen
class AccessWitness:
    """One concrete request the key policy allows, and what decides it.

    - `entity`: the verdict it witnesses: `"*"` (public), an account id, an ARN, an org id,
      or the principal value for same-account and service grants.
    - `verdict`: `public`, `cross-account`, `ip-restricted`, `network-restricted`,
      `same-account` or `service`.
    - `caller`: the principal making the request (`aws:PrincipalArn` for IAM callers, the
      service name for service principals); `caller_kind` is `root`, `user`, `role`
      (a role session), `federated-user`, `service` or `web-identity`.
    - `partition`, `account`, `org_id`: where the caller lives (`None` when absent).
    - `action`: the kms action requested (canonical spelling; an action outside cmkguard's
      action model is shown as it would be called).
    - `context`: the condition keys the policy mentions, with the request's value (a string,
      a list for multivalued keys) or `None` when the key is absent from the request.
    - `allowed_by` / `allowed_by_sid`: the Allow statement that admits the request.
    - `deny_escapes`: for each Deny statement that names this action, why it does not apply.
    - `checked`: `False` when the analysis had reached its work bound (`PolicyAnalysis.exact`
      is then `False`): the request meets the Allow's fixed values (accounts, principal types,
      organization ids), but the Denies and pattern conditions were not all checked; the
      verdict assumes access (the safe side). `to_dict()` carries it only when `False`.
    """

    entity: str
    verdict: str
    caller: str
    caller_kind: str
    partition: str | None
    account: str | None
    org_id: str | None
    action: str
    context: Mapping[str, ContextValue] = attrs.field(converter=_sorted_context, hash=False)
    allowed_by: int = 0
    allowed_by_sid: str | None = None
    deny_escapes: tuple[DenyEscape, ...] = ()
    checked: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "entity": self.entity,
            "verdict": self.verdict,
            "caller": self.caller,
            "caller_kind": self.caller_kind,
            "partition": self.partition,
            "account": self.account,
            "org_id": self.org_id,
            "action": self.action,
            "context": {k: list(v) if isinstance(v, tuple) else v for k, v in self.context.items()},
            "allowed_by": self.allowed_by,
            "allowed_by_sid": self.allowed_by_sid,
            "deny_escapes": [d.to_dict() for d in self.deny_escapes],
            **({} if self.checked else {"checked": False}),
        }

    def describe(self) -> str:
        """The request in one line, e.g. for a terminal or a finding's evidence."""
        where = f"account {self.account}" if self.account else "no account"
        if self.partition and self.partition != "aws":
            where += f" ({self.partition})"
        org = f", org {self.org_id}" if self.org_id else ""
        ctx = ", ".join(
            f"{k}={'absent' if v is None else ','.join(v) if isinstance(v, tuple) else v}"
            for k, v in self.context.items()
        )
        ctx = f" with {ctx}" if ctx else ""
        return f"{self.caller_kind} {self.caller} ({where}{org}) calls {self.action}{ctx}"


@attrs.frozen
class Denial:
    """An Allow grant (statement and principal) that Deny statements remove entirely.

    `action` is one action it would have given (canonical spelling); `denied_by` the Deny
    statement indexes that apply to every request the grant would admit.
    """

    statement_index: int
    sid: str | None
    principal: str
    action: str
    denied_by: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "statement_index": self.statement_index,
            "sid": self.sid,
            "principal": self.principal,
            "action": self.action,
            "denied_by": list(self.denied_by),
        }


def witness_evidence(witness: AccessWitness | None) -> dict[str, Any] | None:
    """The evidence an audit finding carries for a witnessed verdict (`None` passes through).

    A plain JSON-able dict (the witness's `to_dict()` plus a `request` sentence), so the
    auditing and report code need not import policy types.
    """
    if witness is None:
        return None
    out = witness.to_dict()
    out["request"] = witness.describe()
    return out
