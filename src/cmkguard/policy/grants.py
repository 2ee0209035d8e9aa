"""Grants (`ListGrants`): the second access path to a key, beside its policy.

A grant gives its grantee the listed operations whatever the key policy says, so an external
grantee is cross-account access, and a grant without an encryption-context constraint lets the
grantee decrypt every ciphertext under the key.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from cmkguard._html import document, table
from cmkguard.errors import PolicyParseError
from cmkguard.policy._engine import check_account, check_org_id, check_trusted
from cmkguard.policy.document import SERVICE_RE, PrincipalKind, parse_aws_principal
from cmkguard.policy.findings import _POLICY_FINDINGS, PolicyFinding
from cmkguard.severity import Severity

__all__ = ["GRANT_OPERATIONS", "GrantAnalysis", "GrantView", "analyze_grants"]

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
_DECRYPTING = frozenset({"Decrypt", "ReEncryptFrom"})
_CONSTRAINT_KEYS = frozenset({"EncryptionContextEquals", "EncryptionContextSubset", "SourceArn"})
_ACCOUNT_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::([0-9]{12}):root")


@attrs.frozen
class GrantView:
    """One grant, validated: who gets which operations under which constraints.

    `grantee_account` is `None` for service principals. `constraints` holds the
    `Constraints` mapping as given (`None` when absent).
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

    @property
    def has_context_constraint(self) -> bool:
        """Whether an encryption-context constraint limits the grant."""
        c = self.constraints or {}
        return bool(c.get("EncryptionContextEquals") or c.get("EncryptionContextSubset"))

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
        }


@attrs.frozen
class GrantAnalysis:
    """The analysis of a key's grants (see `analyze_grants`).

    `external_grantees` are grantees outside the key account: account ids for account roots,
    ARNs for specific principals (services are never external).
    """

    key_account: str
    grants: tuple[GrantView, ...]
    external_grantees: frozenset[str]
    findings: tuple[PolicyFinding, ...]

    @property
    def finding_ids(self) -> frozenset[str]:
        """The ids of the findings."""
        return frozenset(f.id for f in self.findings)

    def grantees_for(self, operation: str) -> frozenset[str]:
        """Grantees of grants carrying `operation` (`"Decrypt"` or `"kms:Decrypt"`)."""
        op = operation.lower().removeprefix("kms:")
        return frozenset(g.grantee for g in self.grants if op in {o.lower() for o in g.operations})

    def _repr_html_(self) -> str:
        """An HTML table for Jupyter: one row per grant, then the findings (all escaped)."""
        grants = table(
            ("grant", "grantee", "operations", "context constraint"),
            (
                (
                    g.grant_id,
                    g.grantee,
                    ", ".join(g.operations),
                    "yes" if g.has_context_constraint else "no",
                )
                for g in self.grants
            ),
        )
        findings = table(
            ("severity", "finding", "why"),
            ((f.severity.value, f.id, f.explanation) for f in self.findings),
        )
        # The shared view stylesheet, so Jupyter's CSS does not right-align text.
        return document(
            "grants",
            f"<p><b>Grants of a key in account {html.escape(self.key_account)}</b></p>",
            grants,
            findings,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "key_account": self.key_account,
            "external_grantees": sorted(self.external_grantees),
            "grants": [g.to_dict() for g in self.grants],
            "findings": [f.to_dict() for f in self.findings],
        }


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


def _view(raw: Any, where: str) -> GrantView:
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
    constraints = raw.get("Constraints")
    if constraints is not None:
        if not isinstance(constraints, Mapping):
            raise PolicyParseError(f"{where}.Constraints", "expected an object")
        for name, value in constraints.items():
            if name not in _CONSTRAINT_KEYS:
                raise PolicyParseError(f"{where}.Constraints", f"unknown constraint {name!r}")
            if name == "SourceArn":
                if not isinstance(value, str):
                    raise PolicyParseError(f"{where}.Constraints.{name}", "expected a string")
                continue
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise PolicyParseError(
                    f"{where}.Constraints.{name}", "expected an object of strings"
                )
    issuing = _str_field(raw, "IssuingAccount", where, required=False)
    name = raw.get("Name")
    return GrantView(
        grant_id=grant_id,
        grantee=grantee,
        grantee_account=grantee_account,
        operations=tuple(ops),
        retiring_principal=retiring,
        retiring_account=retiring_account,
        issuing_account=issuing,
        name=name if isinstance(name, str) and name else None,
        constraints=dict(constraints) if constraints else None,
    )


def analyze_grants(
    grants: Iterable[Mapping[str, Any]],
    *,
    key_account: str,
    org_id: str | None = None,
    trusted_accounts: Iterable[str] = (),
) -> GrantAnalysis:
    """Analyse a key's grants (`ListGrants` entries, e.g. `Grant.to_api()`).

    A malformed entry raises `cmkguard.PolicyParseError` located as `Grants[3].Operations`.
    `org_id` is accepted for symmetry with `analyze_key_policy` (grants cannot name an
    organization); `trusted_accounts` downgrades findings about those accounts.
    """
    check_org_id(org_id)  # validated, then unused: grants name principals, never organizations
    key_account = check_account(key_account)
    trusted = check_trusted(trusted_accounts)
    views = tuple(_view(g, f"Grants[{i}]") for i, g in enumerate(grants))
    findings: list[PolicyFinding] = []
    external: set[str] = set()

    def add(fid: str, g: GrantView, text: str, severity: Severity | None = None, **kw: Any) -> None:
        sev = severity or _POLICY_FINDINGS[fid].severity
        findings.append(PolicyFinding(fid, sev, text, grant_id=g.grant_id, **kw))

    for g in views:
        ops = ", ".join(g.operations)
        if g.grantee_account is not None and g.grantee_account != key_account:
            m = _ACCOUNT_ARN_RE.fullmatch(g.grantee)
            entity = m.group(1) if m else g.grantee
            external.add(entity)
            ok = g.grantee_account in trusted or entity in trusted
            add(
                "grant-cross-account",
                g,
                f"Grant {g.grant_id} gives {ops} to {g.grantee}, outside account {key_account}"
                + (" (trusted account: downgraded)." if ok else "."),
                Severity.INFO if ok else None,
                principal=g.grantee,
                action=ops,
                downgraded=ok,
            )
        if g.retiring_account is not None and g.retiring_account != key_account:
            add(
                "grant-retiring-external",
                g,
                f"Grant {g.grant_id} can be retired by {g.retiring_principal}, outside account "
                f"{key_account}.",
                principal=g.retiring_principal,
            )
        decrypting = sorted(_DECRYPTING & set(g.operations))
        if decrypting and not g.has_context_constraint:
            add(
                "grant-decrypt-unconstrained",
                g,
                f"Grant {g.grant_id} gives {', '.join(decrypting)} to {g.grantee} with no "
                "encryption-context constraint, so it can decrypt any ciphertext of the key.",
                principal=g.grantee,
                action=", ".join(decrypting),
            )
        if "CreateGrant" in g.operations:
            add(
                "grant-create-grant",
                g,
                f"Grant {g.grant_id} lets {g.grantee} create further grants on the key.",
                principal=g.grantee,
                action="CreateGrant",
            )
    findings.sort(key=lambda f: (-f.severity.rank, f.grant_id or "", f.id))
    return GrantAnalysis(str(key_account), views, frozenset(external), tuple(findings))
