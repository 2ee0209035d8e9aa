"""One audit finding: what is wrong, where, how bad, how to fix it, and a stable fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from cmkguard.severity import Severity
from cmkguard.types import AccountId, KeyArn, Region, ResourceArn

__all__ = ["Finding", "fingerprint"]


def fingerprint(
    rule_id: str,
    resource_arn: str | None,
    key_arn: str | None,
    discriminator: str = "",
) -> str:
    """The stable id of a finding: same rule, same resource/key, same detail -> same id.

    Severity, message and dates are deliberately left out, so that a severity override or a
    reworded message does not make a persisting problem look new in `cmkguard.diff`.
    """
    text = "\x1f".join((rule_id, resource_arn or "", key_arn or "", discriminator))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _evidence(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value) if value else {}


@attrs.frozen
class Finding:
    """A problem the audit found.

    `resource_arn` is set for findings about a data store, `key_arn` for findings about (or
    involving) a KMS key; a blast-radius finding has both. `discriminator` tells apart several
    findings of one rule on one resource (e.g. two policy statements); it feeds `fingerprint`.
    `evidence` is JSON-able. `first_seen` is when the finding was first reported (carried
    over from a previous report by `cmkguard.audit` and `cmkguard.diff`). `name` is the short
    name people know the target by (DB identifier, secret name, key alias), set by the audit.
    """

    rule_id: str
    severity: Severity
    title: str
    message: str
    remediation: str
    account: AccountId | None = None
    region: Region | None = None
    resource_type: str | None = None
    resource_arn: ResourceArn | None = None
    key_arn: KeyArn | None = None
    evidence: Mapping[str, Any] = attrs.field(factory=dict, converter=_evidence, hash=False)
    discriminator: str = ""
    fingerprint: str = attrs.field()
    suppressed: bool = False
    suppression_reason: str | None = None
    suppression_expired: bool = False
    first_seen: datetime | None = None
    name: str | None = None

    @fingerprint.default
    def _fingerprint_default(self) -> str:
        return fingerprint(self.rule_id, self.resource_arn, self.key_arn, self.discriminator)

    @property
    def label(self) -> str:
        """`name` when known, else `target`: what a one-line view shows."""
        return self.name or self.target

    @property
    def target(self) -> str:
        """The ARN the finding is about: the resource if any, else the key, else the account."""
        return self.resource_arn or self.key_arn or f"{self.account or '?'}/{self.region or '?'}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (one element of the report's `findings`)."""
        return {
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "title": self.title,
            "message": self.message,
            "remediation": self.remediation,
            "account": self.account,
            "region": self.region,
            "resource_type": self.resource_type,
            "resource_arn": self.resource_arn,
            "key_arn": self.key_arn,
            "evidence": dict(self.evidence),
            "discriminator": self.discriminator,
            "suppressed": self.suppressed,
            "suppression_reason": self.suppression_reason,
            "suppression_expired": self.suppression_expired,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Rebuild from `to_dict` output."""
        first_seen = data.get("first_seen")
        return cls(
            rule_id=data["rule_id"],
            severity=Severity(data["severity"]),
            title=data["title"],
            message=data["message"],
            remediation=data["remediation"],
            account=data.get("account"),
            region=data.get("region"),
            resource_type=data.get("resource_type"),
            resource_arn=data.get("resource_arn"),
            key_arn=data.get("key_arn"),
            evidence=data.get("evidence") or {},
            discriminator=data.get("discriminator", ""),
            fingerprint=data["fingerprint"],
            suppressed=bool(data.get("suppressed", False)),
            suppression_reason=data.get("suppression_reason"),
            suppression_expired=bool(data.get("suppression_expired", False)),
            first_seen=datetime.fromisoformat(first_seen) if first_seen else None,
            name=data.get("name"),
        )
