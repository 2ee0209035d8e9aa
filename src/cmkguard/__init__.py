"""cmkguard: AWS encryption-key governance as composable, typed functions.

Inventory which data stores sit on which KMS key (:func:`scan`), analyse key policies and grants
with full IAM semantics (:func:`analyze_key_policy`, :func:`analyze_grants`), audit an estate
(:func:`audit`), and move resources from AWS-managed keys to customer-managed keys safely
(:func:`plan_migration`, :func:`execute`).

The public API is exactly ``cmkguard.__all__``; everything else is private.
"""

from __future__ import annotations

from cmkguard.auditing import (
    FINDING_CATALOGUE,
    AuditDiff,
    AuditPolicy,
    AuditReport,
    Finding,
    Kpis,
    Suppression,
    audit,
    diff,
)
from cmkguard.aws.spec import SessionSpec
from cmkguard.errors import (
    AuditPolicyError,
    AwsAccessError,
    CmkGuardError,
    ConfigurationError,
    EndpointUnreachableError,
    JournalMismatchError,
    MigrationError,
    MissingExtraError,
    NoCredentialsError,
    PolicyParseError,
    PreflightError,
    StepFailedError,
    UnknownRegionError,
    UnknownResourceTypeError,
)
from cmkguard.inventory import NullProgress, ScanProgress, scan
from cmkguard.migrate import (
    ExecutionReport,
    Journal,
    JsonFileJournal,
    MigrationOptions,
    MigrationPlan,
    MigrationStep,
    PreflightItem,
    ProgressEvent,
    WaiterSettings,
    execute,
    plan_migration,
)
from cmkguard.models import (
    EncryptedResource,
    Grant,
    Inventory,
    KeyClass,
    KeyUse,
    KmsKey,
    RotationStatus,
    ScanError,
)
from cmkguard.policy import (
    POLICY_FINDINGS,
    FindingSpec,
    GrantAnalysis,
    GrantView,
    KeyPolicy,
    PolicyAnalysis,
    PolicyFinding,
    StatementExplanation,
    analyze_grants,
    analyze_key_policy,
    parse_key_policy,
)
from cmkguard.resources import ResourceType, get_resource_type
from cmkguard.severity import Severity
from cmkguard.types import AccountId, KeyArn, OrgId, Region, ResourceArn, ResourceTypeName

__version__ = "0.1.0.dev0"

__all__ = [  # noqa: RUF022 - plain sorted() order (tests/test_exported_members.py)
    "AccountId",
    "AuditDiff",
    "AuditPolicy",
    "AuditPolicyError",
    "AuditReport",
    "AwsAccessError",
    "CmkGuardError",
    "ConfigurationError",
    "EncryptedResource",
    "EndpointUnreachableError",
    "ExecutionReport",
    "FINDING_CATALOGUE",
    "Finding",
    "FindingSpec",
    "Grant",
    "GrantAnalysis",
    "GrantView",
    "Inventory",
    "Journal",
    "JournalMismatchError",
    "JsonFileJournal",
    "KeyArn",
    "KeyClass",
    "KeyPolicy",
    "KeyUse",
    "KmsKey",
    "Kpis",
    "MigrationError",
    "MigrationOptions",
    "MigrationPlan",
    "MigrationStep",
    "MissingExtraError",
    "NoCredentialsError",
    "NullProgress",
    "OrgId",
    "POLICY_FINDINGS",
    "PolicyAnalysis",
    "PolicyFinding",
    "PolicyParseError",
    "PreflightError",
    "PreflightItem",
    "ProgressEvent",
    "Region",
    "ResourceArn",
    "ResourceType",
    "ResourceTypeName",
    "RotationStatus",
    "ScanError",
    "ScanProgress",
    "SessionSpec",
    "Severity",
    "StatementExplanation",
    "StepFailedError",
    "Suppression",
    "UnknownRegionError",
    "UnknownResourceTypeError",
    "WaiterSettings",
    "__version__",
    "analyze_grants",
    "analyze_key_policy",
    "audit",
    "diff",
    "execute",
    "get_resource_type",
    "parse_key_policy",
    "plan_migration",
    "scan",
]
