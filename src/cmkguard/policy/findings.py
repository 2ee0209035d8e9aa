"""The key-policy and grant finding catalogue, and the finding value type.

Ids are stable slugs: tests, suppressions and the audit catalogue (which merges this one) rely on
them. Add ids; never rename one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from cmkguard.severity import Severity

__all__ = ["FindingSpec", "PolicyFinding", "catalogue_markdown"]


@attrs.frozen
class FindingSpec:
    """A catalogue entry: the finding's id, default severity, title, why it matters, the fix."""

    id: str
    severity: Severity
    title: str
    rationale: str
    remediation: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "id": self.id,
            "severity": self.severity.value,
            "title": self.title,
            "rationale": self.rationale,
            "remediation": self.remediation,
        }


@attrs.frozen
class PolicyFinding:
    """One finding about a key policy or a key's grants.

    `statement_index` is the 0-based index of the statement responsible (`None` for findings
    about the policy as a whole or about grants); `principal`, `action` and `condition` name
    what made it happen. `downgraded` is true when only trusted accounts are involved (the
    severity was lowered). `grant_id` names the grant for grant findings.
    """

    id: str
    severity: Severity
    explanation: str
    statement_index: int | None = None
    sid: str | None = None
    principal: str | None = None
    action: str | None = None
    condition: str | None = None
    downgraded: bool = False
    grant_id: str | None = None

    @property
    def spec(self) -> FindingSpec:
        """The catalogue entry for this finding's id."""
        return _POLICY_FINDINGS[self.id]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "id": self.id,
            "severity": self.severity.value,
            "statement_index": self.statement_index,
            "sid": self.sid,
            "principal": self.principal,
            "action": self.action,
            "condition": self.condition,
            "explanation": self.explanation,
            "downgraded": self.downgraded,
            "grant_id": self.grant_id,
        }


def _spec(id: str, severity: Severity, title: str, rationale: str, remediation: str) -> FindingSpec:
    return FindingSpec(id, severity, title, rationale, remediation)


_SPECS = (
    _spec(
        "public-access",
        Severity.CRITICAL,
        "Key usable by anyone",
        "An effective Allow gives a kms action to an unbounded set of callers: any AWS account "
        "can call it (even kms:DescribeKey leaks key metadata and confirms the key exists).",
        "Name the principals, or pin a wildcard principal with kms:CallerAccount, "
        "aws:PrincipalAccount or aws:PrincipalOrgID (StringEquals, fixed values).",
    ),
    _spec(
        "cross-account-access",
        Severity.HIGH,
        "Key usable from another account or organization",
        "An effective Allow reaches an account, principal or organization outside the key's own "
        "account: that account's IAM policies now decide who there can use the key.",
        "Remove the external principal, or list the account in trusted accounts if the sharing "
        "is intended (its findings are then downgraded).",
    ),
    _spec(
        "wildcard-actions",
        Severity.MEDIUM,
        "Every kms action to a principal other than the account root",
        "kms:*, * or NotAction with Allow gives administration (PutKeyPolicy, "
        "ScheduleKeyDeletion) along with use; only the root delegation statement needs it.",
        "List the actions the principal needs (key administrators or key users, not both).",
    ),
    _spec(
        "separation-of-duties",
        Severity.MEDIUM,
        "One principal both administers and uses the key",
        "A principal that can change the policy, disable or delete the key or create "
        "unconstrained grants can also decrypt: one compromised identity does both.",
        "Split key administrators from key users.",
    ),
    _spec(
        "create-grant-unconstrained",
        Severity.MEDIUM,
        "kms:CreateGrant without kms:GrantIsForAWSResource",
        "A principal that can create grants can give itself (or anyone) every operation a grant "
        "can carry, including Decrypt: an indirect route around the key policy.",
        'Add "Bool": {"kms:GrantIsForAWSResource": "true"} (or limit kms:GrantOperations).',
    ),
    _spec(
        "service-principal-unconditioned",
        Severity.LOW,
        "Service principal without aws:SourceAccount / aws:SourceArn",
        "The service can be asked to use the key on behalf of a resource in any account "
        "(confused deputy).",
        "Add aws:SourceAccount and/or aws:SourceArn conditions naming your resources.",
    ),
    _spec(
        "source-ip-condition",
        Severity.MEDIUM,
        "Wildcard principal limited only by aws:SourceIp",
        "An IP range is not an account: any AWS account calling from that range gets in, and "
        "calls made through AWS services carry the service's address.",
        "Pin the caller with kms:CallerAccount, aws:PrincipalAccount or aws:PrincipalOrgID.",
    ),
    _spec(
        "network-restricted",
        Severity.LOW,
        "Wildcard principal limited only by aws:SourceVpc / aws:SourceVpce",
        "Anyone who can send requests through that VPC or endpoint gets in; the policy does not "
        "say who owns the network.",
        "Also pin the caller's account (kms:CallerAccount or aws:PrincipalAccount).",
    ),
    _spec(
        "lockout-risk",
        Severity.HIGH,
        "Nobody can manage the key policy",
        "No effective Allow gives kms:PutKeyPolicy to an account or IAM principal: the key can no "
        "longer be administered without AWS support.",
        "Keep the root delegation statement (kms:* to arn:aws:iam::<account>:root) or name a key "
        "administrator with kms:PutKeyPolicy.",
    ),
    _spec(
        "root-delegation",
        Severity.INFO,
        "Key access delegated to the account's IAM policies",
        "kms:* to the key account's root means any IAM principal of the account whose IAM policy "
        "allows kms actions on this key can use and administer it (the default key policy).",
        "Intended in most accounts; review the IAM policies that grant kms:* on Resource '*'.",
    ),
    _spec(
        "principal-wildcard",
        Severity.INFO,
        "Wildcard inside a principal ARN",
        "IAM does not expand wildcards in principal ARNs; a principal like role/* is at best "
        "ambiguous and at worst matches no one.",
        "Name the roles, or use Principal '*' with an aws:PrincipalArn ArnLike condition.",
    ),
    _spec(
        "orphaned-principal",
        Severity.INFO,
        "Principal shown as a unique id (deleted IAM principal)",
        "KMS shows AIDA.../AROA... ids for principals deleted after the policy named them; the "
        "statement matches nobody, and re-creating the role does not restore access.",
        "Remove the id, or put the re-created principal's ARN back in the policy.",
    ),
    _spec(
        "ineffective-statement",
        Severity.INFO,
        "Statement that can never grant anything",
        "Its Resource cannot match this key, its condition cannot be met, it names no kms "
        "action, or a Deny removes everything it grants: whatever it was meant to do, it does "
        "not.",
        "Fix or delete the statement (it misleads readers of the policy).",
    ),
    _spec(
        "grant-cross-account",
        Severity.HIGH,
        "Grant to a principal of another account",
        "Grants are a second access path beside the key policy: the grantee can use the "
        "granted operations whatever the policy says.",
        "Retire or revoke the grant if the sharing is not intended.",
    ),
    _spec(
        "grant-retiring-external",
        Severity.MEDIUM,
        "Grant retirable by a principal of another account",
        "An external retiring principal can remove the grant, breaking the service that uses it.",
        "Re-create the grant with a retiring principal of the key's account.",
    ),
    _spec(
        "grant-decrypt-unconstrained",
        Severity.MEDIUM,
        "Grant allowing Decrypt without an encryption-context constraint",
        "Without EncryptionContextEquals/EncryptionContextSubset the grantee can decrypt any "
        "ciphertext made under the key, not only its own resource's.",
        "Re-create the grant with an encryption-context constraint.",
    ),
    _spec(
        "grant-create-grant",
        Severity.MEDIUM,
        "Grant that lets the grantee create further grants",
        "A grant carrying CreateGrant lets the grantee hand the key's operations on to others.",
        "Drop CreateGrant from the grant's operations unless an AWS service needs it.",
    ),
)

_POLICY_FINDINGS: Mapping[str, FindingSpec] = MappingProxyType({s.id: s for s in _SPECS})
"""The key-policy and grant findings, by id (read-only).

Private: the one public catalogue is `cmkguard.FINDING_CATALOGUE`, which merges these entries
(its `source` is `"policy"` for them).
"""


def catalogue_markdown() -> str:
    """The catalogue as the Markdown table of `docs/policy.md` (a test keeps the page in sync)."""
    lines = [
        "| id | severity | title | why it matters | remediation |",
        "|----|----------|-------|----------------|-------------|",
    ]
    for spec in _POLICY_FINDINGS.values():
        cells = (f"`{spec.id}`", spec.severity.value, spec.title, spec.rationale, spec.remediation)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def __getattr__(name: str) -> Any:
    """`POLICY_FINDINGS`, deprecated for one release: use `cmkguard.FINDING_CATALOGUE`."""
    if name == "POLICY_FINDINGS":
        return _deprecated_policy_findings(stacklevel=3)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _deprecated_policy_findings(stacklevel: int) -> Mapping[str, FindingSpec]:
    """The old public name's value, with its `DeprecationWarning` pointing at the caller."""
    import warnings

    warnings.warn(
        "POLICY_FINDINGS is deprecated and will be removed in the next release: use "
        "cmkguard.FINDING_CATALOGUE (the policy findings are its entries with source 'policy')",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return _POLICY_FINDINGS
