"""Key-policy and grant analysis (pure: no boto3, no I/O).

`parse_key_policy` turns a key policy into a typed, normalised `KeyPolicy`;
`analyze_key_policy` answers who can do what with the key (public? cross-account? which
principals may decrypt?) with findings and a per-statement explanation; `analyze_grants`
does the same for the key's grants. The rules are those of `docs/policy.md`.
"""

from __future__ import annotations

from typing import Any

from cmkguard.policy._actions import KMS_ACTIONS
from cmkguard.policy.analysis import PolicyAnalysis, StatementExplanation, analyze_key_policy
from cmkguard.policy.compare import AccessChange, ChangeWitness, PolicyChange, compare_key_policies
from cmkguard.policy.document import (
    Condition,
    Effect,
    KeyPolicy,
    Principal,
    PrincipalKind,
    Statement,
    parse_key_policy,
)
from cmkguard.policy.findings import FindingSpec, PolicyFinding
from cmkguard.policy.grants import (
    DECRYPT_OPERATIONS,
    ENCRYPTION_CONTEXT_OPERATIONS,
    GRANT_OPERATIONS,
    PLAINTEXT_KEY_OPERATIONS,
    GrantAccess,
    GrantAnalysis,
    GrantConstraint,
    GrantDenial,
    GrantView,
    analyze_grants,
)
from cmkguard.policy.witness import AccessWitness, Denial, DenyEscape, witness_evidence

__all__ = [
    "DECRYPT_OPERATIONS",
    "ENCRYPTION_CONTEXT_OPERATIONS",
    "GRANT_OPERATIONS",
    "KMS_ACTIONS",
    "PLAINTEXT_KEY_OPERATIONS",
    "AccessChange",
    "AccessWitness",
    "ChangeWitness",
    "Condition",
    "Denial",
    "DenyEscape",
    "Effect",
    "FindingSpec",
    "GrantAccess",
    "GrantAnalysis",
    "GrantConstraint",
    "GrantDenial",
    "GrantView",
    "KeyPolicy",
    "PolicyAnalysis",
    "PolicyChange",
    "PolicyFinding",
    "Principal",
    "PrincipalKind",
    "Statement",
    "StatementExplanation",
    "analyze_grants",
    "analyze_key_policy",
    "compare_key_policies",
    "parse_key_policy",
    "witness_evidence",
]


def __getattr__(name: str) -> Any:
    """`POLICY_FINDINGS`, deprecated for one release: use `cmkguard.FINDING_CATALOGUE`."""
    if name == "POLICY_FINDINGS":
        from cmkguard.policy.findings import _deprecated_policy_findings

        return _deprecated_policy_findings(stacklevel=3)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
