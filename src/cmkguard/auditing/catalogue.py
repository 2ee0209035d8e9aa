"""The finding catalogue: every rule the audit can report, with a stable slug id.

A rule id never changes meaning once released: dashboards, suppressions and fingerprints are
keyed on it. `FINDING_CATALOGUE` is the one public catalogue: the audit's own rules
(`source` `"audit"`) and, merged in, every key-policy and grant finding of `cmkguard.policy`
(`source` `"policy"`; reported against the key and, as blast radius, against every resource the
key protects).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from cmkguard.policy.findings import _POLICY_FINDINGS
from cmkguard.severity import Severity

__all__ = ["FINDING_CATALOGUE", "RuleSpec"]


@attrs.frozen
class RuleSpec:
    """One entry of the finding catalogue.

    `scope` says what the finding is attached to: `"resource"`, `"key"`, `"key+resources"`
    (a key finding copied onto every resource the key protects) or `"inventory"`.
    `source` is `"audit"` for the audit's own rules, `"policy"` for the analyser's.
    """

    id: str
    severity: Severity
    title: str
    rationale: str
    remediation: str
    scope: str = "resource"
    source: str = "audit"


_RDS_REKEY = (
    "Re-key by snapshot -> copy the snapshot with a customer-managed key -> restore -> cut over "
    "(`cmkguard migrate`); no API changes the key of a running database."
)

_AUDIT_RULE_LIST: tuple[RuleSpec, ...] = (
    RuleSpec(
        "rds-instance-aws-managed-key",
        Severity.MEDIUM,
        "RDS DB instance encrypted with the AWS-managed key aws/rds",
        "The AWS-managed key's policy cannot be edited, audited access cannot be revoked, its "
        "rotation is fixed, and snapshots on it cannot be shared with another account.",
        _RDS_REKEY,
    ),
    RuleSpec(
        "rds-cluster-aws-managed-key",
        Severity.MEDIUM,
        "Aurora DB cluster encrypted with the AWS-managed key aws/rds",
        "The AWS-managed key cannot be governed (policy, grants, rotation, sharing): who can "
        "decrypt the cluster is decided by IAM alone.",
        "Snapshot the cluster, restore it with `KmsKeyId` set to a customer-managed key, recreate "
        "the member instances, then cut over (`cmkguard migrate`).",
    ),
    RuleSpec(
        "rds-snapshot-aws-managed-key",
        Severity.MEDIUM,
        "RDS DB snapshot encrypted with the AWS-managed key aws/rds (cannot be shared)",
        "A snapshot on aws/rds cannot be shared with another account (backup vault, DR "
        "account), and its key cannot be governed.",
        "Copy the snapshot with `KmsKeyId` set to a customer-managed key, then delete the "
        "original once the copy is verified.",
    ),
    RuleSpec(
        "rds-cluster-snapshot-aws-managed-key",
        Severity.MEDIUM,
        "Aurora cluster snapshot encrypted with the AWS-managed key aws/rds (cannot be shared)",
        "A cluster snapshot on aws/rds cannot be shared with another account, and its key "
        "cannot be governed.",
        "Copy the cluster snapshot with `KmsKeyId` set to a customer-managed key, then delete "
        "the original once the copy is verified.",
    ),
    RuleSpec(
        "secret-aws-managed-key",
        Severity.MEDIUM,
        "Secrets Manager secret encrypted with the AWS-managed key aws/secretsmanager",
        "Anyone in the account whom IAM allows `secretsmanager:GetSecretValue` can read the "
        "secret: the default key adds no second lock, and the secret cannot be shared across "
        "accounts.",
        "Give every consumer and the rotation Lambda `kms:Decrypt` on a customer-managed key, "
        "then `update_secret(KmsKeyId=...)` and write a new version (`put_secret_value`) so no "
        "version stays readable with the old key. RDS-managed secrets (OwningService rds): "
        "turn ManageMasterUserPassword off and on again with MasterUserSecretKmsKeyId.",
    ),
    RuleSpec(
        "resource-aws-managed-key",
        Severity.MEDIUM,
        "Resource encrypted with an AWS-managed key",
        "An AWS-managed key cannot be governed: no key policy, no grants control, no sharing.",
        "Re-encrypt the resource with a customer-managed key using the service's procedure.",
    ),
    RuleSpec(
        "resource-unencrypted",
        Severity.HIGH,
        "Resource not encrypted at rest",
        "Storage, backups and snapshots are readable by anyone who can reach the underlying "
        "storage or copy a snapshot; nothing can be revoked with a key.",
        "Encrypt it: copy a snapshot with `KmsKeyId` set to a customer-managed key and restore "
        "from the copy (the same path as a re-key).",
    ),
    RuleSpec(
        "resource-cross-account-key",
        Severity.MEDIUM,
        "Resource encrypted with a key owned by another account",
        "Another account can disable or delete the key, or change its policy, and make this "
        "data unreadable; your account cannot audit that key.",
        "Confirm the key owner is a trusted account (add it to `trusted_accounts`) or re-key "
        "the resource to a key of its own account.",
    ),
    RuleSpec(
        "resource-key-unknown",
        Severity.MEDIUM,
        "Resource whose encryption key could not be determined",
        "A key that cannot be described cannot be governed or audited; it may be denied to the "
        "scanner, deleted, or in an account you do not see.",
        "Grant the scanner `kms:DescribeKey` on the key (key policy) or investigate the reason "
        "given in the evidence.",
    ),
    RuleSpec(
        "resource-key-pending-deletion",
        Severity.CRITICAL,
        "Resource encrypted with a key that is scheduled for deletion",
        "When the deletion date passes, the key material is destroyed and everything encrypted "
        "with it (data, snapshots, secret versions) is lost for ever.",
        "Cancel the deletion now (`kms cancel-key-deletion`, then `enable-key`), or move the "
        "resource to another key before the date.",
    ),
    RuleSpec(
        "resource-key-disabled",
        Severity.CRITICAL,
        "Resource encrypted with a disabled key",
        "A disabled key cannot decrypt: the resource is already unreadable (a database goes to "
        "an inaccessible-encryption-credentials state, secret reads fail).",
        "Re-enable the key (`kms enable-key`) if the resource is still needed, or retire the "
        "resource deliberately.",
    ),
    RuleSpec(
        "resource-key-unavailable",
        Severity.HIGH,
        "Resource encrypted with a key that is not usable",
        "The key is in a state other than Enabled (e.g. PendingImport, Unavailable): decrypts "
        "fail until it is usable again.",
        "Restore the key (import its material again, reconnect its custom key store) or move "
        "the resource to a usable key.",
    ),
    RuleSpec(
        "rds-performance-insights-aws-managed-key",
        Severity.MEDIUM,
        "Performance Insights encrypted with the AWS-managed key aws/rds",
        "Performance Insights keeps query text and wait events: a copy of sensitive data under "
        "a key you cannot govern, even when the database itself is on a CMK.",
        "Move Performance Insights to the customer-managed key with "
        "`modify_db_instance(PerformanceInsightsKMSKeyId=...)` (disable and re-enable it if "
        "the service refuses the change).",
    ),
    RuleSpec(
        "secret-replica-key-class-mismatch",
        Severity.MEDIUM,
        "Secret replica on a different key class than its primary",
        "A replica is another copy of the secret: if it sits on the AWS-managed key (or no "
        "governed key) the primary's key policy protects nothing there.",
        "Re-create the replica with `replicate_secret_to_regions(AddReplicaRegions=[{Region, "
        "KmsKeyId}])` using a customer-managed key of that region.",
    ),
    RuleSpec(
        "secret-rotation-lambda-key-class-mismatch",
        Severity.LOW,
        "Secret rotation Lambda on a different key class than the secret",
        "The rotation Lambda handles the secret's plaintext; its environment on a weaker key "
        "class undoes part of the secret's protection.",
        "Set the rotation Lambda's `KMSKeyArn` to a customer-managed key of the same class.",
    ),
    RuleSpec(
        "key-rotation-disabled",
        Severity.MEDIUM,
        "Customer-managed key with automatic rotation disabled",
        "Without rotation, one key version protects data for ever: a leaked or weakened "
        "material is never retired, and most compliance frameworks require yearly rotation.",
        "`kms enable-key-rotation --key-id <key> --rotation-period-in-days 365`.",
        scope="key",
    ),
    RuleSpec(
        "key-rotation-period-too-long",
        Severity.LOW,
        "Key rotation period longer than the policy maximum",
        "The key rotates, but less often than the audit policy's `max_rotation_days`.",
        "`kms enable-key-rotation --key-id <key> --rotation-period-in-days <max>`.",
        scope="key",
    ),
    RuleSpec(
        "key-rotation-not-applicable",
        Severity.INFO,
        "Automatic rotation not applicable to this key",
        "Asymmetric, HMAC, imported-material and custom-key-store keys cannot rotate "
        "automatically: not a failure, but their material must be rotated by hand.",
        "Rotate manually: create a new key, move the alias, re-encrypt, retire the old key on "
        "a schedule you document.",
        scope="key",
    ),
    RuleSpec(
        "key-missing-tags",
        Severity.LOW,
        "Customer-managed key missing required tags",
        "Untagged keys have no owner to ask before deletion, no cost owner, no data "
        "classification: they are the ones nobody dares to touch.",
        "Tag the key (`kms tag-resource`) with every tag listed in the evidence.",
        scope="key",
    ),
    RuleSpec(
        "key-shared-across-applications",
        Severity.MEDIUM,
        "One key shared by resources of several applications",
        "One overly permissive key for everything: every principal allowed to decrypt for one "
        "application can decrypt the others' data, and the key cannot be retired or shredded "
        "per application.",
        "Create one key per application (or data classification) and re-key each "
        "application's resources to its own key.",
        scope="key",
    ),
    RuleSpec(
        "tenant-key-shared",
        Severity.MEDIUM,
        "One key shared by several tenants (not crypto-shreddable per tenant)",
        "Crypto-shredding destroys a tenant's data by deleting its key; a key shared by several "
        "tenants cannot be deleted for one without destroying the others' data.",
        "Create one customer-managed key per tenant and re-key each tenant's resources to its "
        "own key (`cmkguard migrate plan`), then tag the key with the tenant.",
        scope="key",
    ),
    RuleSpec(
        "tenant-key-not-shreddable",
        Severity.MEDIUM,
        "Tenant data on AWS managed or AWS owned keys (never crypto-shreddable)",
        "An AWS managed or AWS owned key can never be deleted by the customer, so a tenant "
        "whose data sits on one can never be crypto-shredded.",
        "Re-key the listed resources to a customer-managed key of the tenant's own "
        "(`cmkguard migrate plan`); an Aurora cluster on an AWS owned key needs a restore "
        "from snapshot with KmsKeyId.",
        scope="inventory",
    ),
    RuleSpec(
        "key-unused",
        Severity.LOW,
        "Customer-managed key encrypting none of the scanned resources",
        "An unused key costs money and widens the attack surface; it may also protect data of a "
        "service cmkguard did not scan, so check before deleting it.",
        "Confirm with CloudTrail (`Decrypt`/`GenerateDataKey` events) that nothing uses it, "
        "then disable it and schedule deletion (the waiting period is a safety net).",
        scope="key",
    ),
    RuleSpec(
        "key-pending-deletion",
        Severity.INFO,
        "Key scheduled for deletion (not used by scanned resources)",
        "Once deleted, anything still encrypted with it is unrecoverable; the scan found no "
        "scanned resource on it.",
        "Check CloudTrail for recent use of the key before the deletion date.",
        scope="key",
    ),
    RuleSpec(
        "key-policy-unparseable",
        Severity.MEDIUM,
        "Key policy could not be analysed",
        "The policy text could not be parsed, so who can use the key is unknown.",
        "Review the key policy by hand; report the parse error if the policy is valid in AWS.",
        scope="key",
    ),
    RuleSpec(
        "inventory-incomplete",
        Severity.MEDIUM,
        "Part of the estate could not be read",
        "An audit only sees what the scan read: an unread region, resource type or key may "
        "hide any other finding. Coverage numbers exclude it.",
        "Grant the scanner the permissions in docs/scan-iam-policy.json (or fix the reason "
        "given) and scan again.",
        scope="inventory",
    ),
    RuleSpec(
        "resource-aws-owned-key",
        Severity.MEDIUM,
        "Resource encrypted with an AWS owned key",
        "An AWS owned key (the Aurora default from 2026-02-18, StorageEncryptionType sse-rds) "
        "lives in an AWS account: no key policy you can read, no grants, no rotation or "
        "deletion you control, no per-key CloudTrail events in your account, no snapshot "
        "sharing. The data is encrypted, but nobody in your account governs the key.",
        "Re-key it like an AWS-managed key: snapshot, restore with `KmsKeyId` set to a "
        "customer-managed key, recreate the members, cut over (`cmkguard migrate`); in "
        "infrastructure code, set storage encryption on with a customer-managed key.",
    ),
    RuleSpec(
        "rds-snapshot-left-on-aws-managed-key",
        Severity.LOW,
        "Snapshot still on the AWS-managed key after its database or a copy moved to a CMK",
        "A migration restores the database on a customer-managed key and copies its snapshots; "
        "the old snapshots stay on aws/rds, decryptable by anyone IAM lets use the AWS-managed "
        "key, unshareable, and restorable onto the old key. Coverage looks done while backups "
        "remain on the old key: a manual snapshot never expires on its own, an automated one "
        "only when its database's backup retention period has passed.",
        "Verify the copy on the customer-managed key, then delete the original "
        "(`DeleteDBSnapshot` / `DeleteDBClusterSnapshot`); a snapshot not copied yet is copied "
        "and then deleted by `cmkguard migrate plan SNAPSHOT_ARN --key KEY "
        "--delete-source-snapshots`. Automated snapshots are deleted by RDS on the date the "
        "finding gives (keep a manual copy on the CMK if you need them longer).",
    ),
    RuleSpec(
        "key-deletion-window-short",
        Severity.LOW,
        "Key deletion waiting period shorter than the policy minimum",
        "The waiting period is the only way back from a mistaken `ScheduleKeyDeletion`: a "
        "short one may pass before anyone notices that data still depends on the key.",
        "Set the waiting period (`deletion_window_in_days`, `PendingWindowInDays`) to the "
        "policy minimum or more (30 days, the maximum, by default).",
        scope="key",
    ),
)

_AUDIT_RULES: Mapping[str, RuleSpec] = MappingProxyType({r.id: r for r in _AUDIT_RULE_LIST})
"""The audit's own rules, by id (private: `FINDING_CATALOGUE` holds them with `source` "audit")."""

AWS_MANAGED_RULE_BY_TYPE: Mapping[str, str] = MappingProxyType(
    {
        "rds:db-instance": "rds-instance-aws-managed-key",
        "rds:db-cluster": "rds-cluster-aws-managed-key",
        "rds:db-snapshot": "rds-snapshot-aws-managed-key",
        "rds:db-cluster-snapshot": "rds-cluster-snapshot-aws-managed-key",
        "secretsmanager:secret": "secret-aws-managed-key",
    }
)
"""Which rule reports a resource type on an AWS-managed key (others: resource-aws-managed-key)."""


def _policy_rules() -> dict[str, RuleSpec]:
    """The analyser's catalogue as RuleSpecs."""
    return {
        fid: RuleSpec(
            id=fid,
            severity=spec.severity,
            title=spec.title,
            rationale=spec.rationale,
            remediation=spec.remediation,
            scope="key+resources",
            source="policy",
        )
        for fid, spec in _POLICY_FINDINGS.items()
    }


def _merged_catalogue() -> Mapping[str, RuleSpec]:
    """Every rule id the audit can report: the audit's rules plus the policy analyser's."""
    merged = _policy_rules()
    # The audit's own ids win on a clash: they are what the audit reports.
    merged.update(_AUDIT_RULES)
    return MappingProxyType(dict(sorted(merged.items())))


FINDING_CATALOGUE: Mapping[str, RuleSpec] = _merged_catalogue()
"""Every rule the audit can report, by id, sorted (read-only).

The audit's own rules have `source` `"audit"`; the key-policy and grant findings of the policy
analyser have `source` `"policy"` and `scope` `"key+resources"`. `docs/findings.md` is generated
from it.
"""

_DEPRECATED = {
    "AUDIT_RULES": "the entries of cmkguard.FINDING_CATALOGUE whose source is 'audit'",
    "RULES": "cmkguard.FINDING_CATALOGUE",
    "catalogue": "cmkguard.FINDING_CATALOGUE (a mapping, not a function)",
}
"""The catalogue's old public names (until this release), and what replaces each."""


def __getattr__(name: str) -> Any:
    """The catalogue's old names, deprecated for one release: use `FINDING_CATALOGUE`."""
    if name in _DEPRECATED:
        return _deprecated(name, stacklevel=3)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _deprecated(name: str, stacklevel: int) -> Any:
    """An old name's value, with its `DeprecationWarning` pointing at the caller."""
    import warnings

    warnings.warn(
        f"{name} is deprecated and will be removed in the next release: use {_DEPRECATED[name]}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return {"AUDIT_RULES": _AUDIT_RULES, "RULES": FINDING_CATALOGUE, "catalogue": _catalogue}[name]


def _catalogue() -> Mapping[str, RuleSpec]:
    """The old `catalogue()` function: `FINDING_CATALOGUE` itself."""
    return FINDING_CATALOGUE
