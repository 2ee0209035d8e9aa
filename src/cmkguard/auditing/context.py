"""The state one audit run shares with its rules: inventory, policy, clock and catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from cmkguard.auditing.catalogue import RuleSpec
from cmkguard.auditing.config import AuditPolicy
from cmkguard.auditing.finding import Finding
from cmkguard.inventory.values import EncryptedResource, Inventory, KmsKey
from cmkguard.severity import Severity
from cmkguard.types import AccountId, KeyArn, Region, ResourceArn

__all__ = ["AuditContext", "as_utc", "key_label"]


def as_utc(value: datetime) -> datetime:
    """`value` as an aware UTC datetime (naive values are taken to be UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def key_label(key: KmsKey | None, key_arn: str | None) -> str:
    """A short human name for a key: its first alias, else its ARN."""
    if key is not None and key.aliases:
        return f"{key.aliases[0]} ({key.arn})"
    return key_arn or "?"


@attrs.frozen
class AuditContext:
    """What every rule reads; `finding` fills in the catalogue text and the policy."""

    inventory: Inventory
    policy: AuditPolicy
    now: datetime
    rules: Mapping[str, RuleSpec]

    def finding(
        self,
        rule_id: str,
        message: str,
        *,
        resource: EncryptedResource | None = None,
        key: KmsKey | None = None,
        key_arn: str | None = None,
        account: str | None = None,
        region: str | None = None,
        resource_type: str | None = None,
        evidence: Mapping[str, Any] | None = None,
        discriminator: str = "",
        severity: Severity | None = None,
        title: str | None = None,
        remediation: str | None = None,
    ) -> Finding:
        """A finding of `rule_id`; severity is the catalogue's unless given, then overridden."""
        spec = self.rules.get(rule_id)
        base = severity or (spec.severity if spec else Severity.MEDIUM)
        karn = key.arn if key is not None else key_arn
        if resource is not None:
            account = account or resource.account
            region = region or resource.region
            resource_type = resource_type or resource.resource_type
        elif key is not None:
            account = account or key.account
            region = region or key.region
            resource_type = resource_type or "kms:key"
        return Finding(
            rule_id=rule_id,
            severity=self.policy.severity_for(rule_id, base),
            title=title or (spec.title if spec else rule_id),
            message=message,
            remediation=remediation or (spec.remediation if spec else ""),
            account=AccountId(account) if account else None,
            region=Region(region) if region else None,
            resource_type=resource_type,
            resource_arn=ResourceArn(resource.arn) if resource is not None else None,
            key_arn=KeyArn(karn) if karn else None,
            evidence=evidence,
            discriminator=discriminator,
        )
