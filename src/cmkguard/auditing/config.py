"""What an audit checks against: required tags, rotation maximum, trust, overrides, suppressions.

An `AuditPolicy` is a frozen value with sensible defaults, loadable from a TOML or JSON
file (`AuditPolicy.from_file`). Every problem in a file is an `AuditPolicyError`
whose message names the offending field, e.g. `suppressions[2].expires: not a date`.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import attrs

from cmkguard.arn import is_account_id, is_org_id
from cmkguard.errors import AuditPolicyError
from cmkguard.severity import Severity

__all__ = ["DEFAULT_REQUIRED_TAGS", "AuditPolicy", "Suppression"]

DEFAULT_REQUIRED_TAGS: tuple[str, ...] = ("owner", "application", "data-sensitivity", "cost-center")
"""The tags every customer-managed key must carry unless the policy says otherwise."""


@attrs.frozen
class Suppression:
    """Silence one rule on matching resources, for a reason, optionally until a date.

    `rule_id` is a rule id (or a glob such as `key-rotation-*`); `resource` is a glob
    matched against the finding's resource ARN and its key ARN, or `<account>/<region>` for a
    finding about neither (`inventory-incomplete`); `*` matches everything.
    From `expires` on (inclusive), the suppression no longer applies and the report says so.
    """

    rule_id: str
    resource: str
    reason: str
    expires: date | None = None

    def matches(self, rule_id: str, arns: Iterable[str | None]) -> bool:
        """Whether this suppression covers `rule_id` on any of `arns`."""
        if not fnmatchcase(rule_id, self.rule_id):
            return False
        return any(a is not None and fnmatchcase(a, self.resource) for a in arns)

    def is_expired(self, today: date) -> bool:
        """Whether the suppression has expired on `today`."""
        return self.expires is not None and today >= self.expires

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the file format of one `[[suppressions]]` entry)."""
        return {
            "rule_id": self.rule_id,
            "resource": self.resource,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
        }


def _tags(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _suppressions(value: Iterable[Suppression]) -> tuple[Suppression, ...]:
    return tuple(value)


def _overrides(value: Mapping[str, Severity]) -> Mapping[str, Severity]:
    return dict(value)


@attrs.frozen
class AuditPolicy:
    """The organisation's expectations an audit checks an inventory against.

    Attributes:
        required_tags: tags every customer-managed key must carry.
        max_rotation_days: the longest acceptable automatic rotation period.
        trusted_accounts: accounts whose keys (and access) are not "external".
        org_id: the organization id; access confined to it is not external.
        severity_overrides: rule id -> severity replacing the catalogue's.
        suppressions: accepted findings, each with a reason and optional expiry.
        application_tag: the tag that names a resource's application (shared-key rule).
        blast_radius_min_severity: key-policy findings at or above this severity are copied
            onto every resource the key protects (`INFO` copies every one).
        tenant_tag: the tag that names a resource's tenant; when set, the crypto-shredding
            rules report tenants on keys they cannot delete and keys shared by tenants.
    """

    required_tags: tuple[str, ...] = attrs.field(default=DEFAULT_REQUIRED_TAGS, converter=_tags)
    max_rotation_days: int = 365
    trusted_accounts: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    org_id: str | None = None
    severity_overrides: Mapping[str, Severity] = attrs.field(
        factory=dict, converter=_overrides, hash=False
    )
    suppressions: tuple[Suppression, ...] = attrs.field(default=(), converter=_suppressions)
    application_tag: str = "application"
    blast_radius_min_severity: Severity = Severity.LOW
    tenant_tag: str | None = None

    def severity_for(self, rule_id: str, default: Severity) -> Severity:
        """The severity a finding of `rule_id` gets under this policy."""
        return self.severity_overrides.get(rule_id, default)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict in the file format `from_dict` reads."""
        return {
            "required_tags": list(self.required_tags),
            "max_rotation_days": self.max_rotation_days,
            "trusted_accounts": list(self.trusted_accounts),
            "org_id": self.org_id,
            "severity_overrides": {k: v.value for k, v in self.severity_overrides.items()},
            "suppressions": [s.to_dict() for s in self.suppressions],
            "application_tag": self.application_tag,
            "blast_radius_min_severity": self.blast_radius_min_severity.value,
            "tenant_tag": self.tenant_tag,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditPolicy:
        """Build a policy from a decoded TOML/JSON document; `AuditPolicyError` names the field.

        Unknown fields are errors (a typo such as `required_tag` must not silently fall back
        to the default).
        """
        if not isinstance(data, Mapping):
            raise AuditPolicyError("audit policy: expected a table/object at the top level")
        known = {f.name for f in attrs.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise AuditPolicyError(
                f"{unknown[0]}: unknown field (known: {', '.join(sorted(known))})"
            )
        kwargs: dict[str, Any] = {}
        if "required_tags" in data:
            kwargs["required_tags"] = _str_list(data["required_tags"], "required_tags")
        if "max_rotation_days" in data:
            value = data["max_rotation_days"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise AuditPolicyError(
                    f"max_rotation_days: expected a positive integer, got {value!r}"
                )
            kwargs["max_rotation_days"] = value
        if "trusted_accounts" in data:
            accounts = _str_list(data["trusted_accounts"], "trusted_accounts")
            for i, acct in enumerate(accounts):
                if not is_account_id(acct):
                    raise AuditPolicyError(
                        f"trusted_accounts[{i}]: not a 12-digit account id: {acct!r}"
                    )
            kwargs["trusted_accounts"] = accounts
        if data.get("org_id") is not None:
            org = data["org_id"]
            if not isinstance(org, str) or not is_org_id(org):
                raise AuditPolicyError(f"org_id: not an organization id (o-...): {org!r}")
            kwargs["org_id"] = org
        if "severity_overrides" in data:
            kwargs["severity_overrides"] = _parse_overrides(data["severity_overrides"])
        if "suppressions" in data:
            kwargs["suppressions"] = _parse_suppressions(data["suppressions"])
        if "application_tag" in data:
            tag = data["application_tag"]
            if not isinstance(tag, str) or not tag:
                raise AuditPolicyError(f"application_tag: expected a tag name, got {tag!r}")
            kwargs["application_tag"] = tag
        if data.get("tenant_tag") is not None:
            tenant = data["tenant_tag"]
            if not isinstance(tenant, str) or not tenant:
                raise AuditPolicyError(f"tenant_tag: expected a tag name, got {tenant!r}")
            kwargs["tenant_tag"] = tenant
        if "blast_radius_min_severity" in data:
            kwargs["blast_radius_min_severity"] = _severity(
                data["blast_radius_min_severity"], "blast_radius_min_severity"
            )
        return cls(**kwargs)

    @classmethod
    def from_file(cls, path: str | Path) -> AuditPolicy:
        """Read a policy from a `.toml` or `.json` file (by extension; TOML otherwise)."""
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise AuditPolicyError(f"{p}: cannot read audit policy: {exc.strerror}") from exc
        try:
            if p.suffix.lower() == ".json":
                data = json.loads(raw)
            else:
                data = tomllib.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise AuditPolicyError(f"{p}: not valid {_fmt(p)}: {exc}") from exc
        try:
            return cls.from_dict(data)
        except AuditPolicyError as exc:
            raise AuditPolicyError(f"{p}: {exc}") from None


def _fmt(p: Path) -> str:
    return "JSON" if p.suffix.lower() == ".json" else "TOML"


def _str_list(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AuditPolicyError(f"{field}: expected a list of strings, got {value!r}")
    return tuple(value)


def _severity(value: Any, field: str) -> Severity:
    if not isinstance(value, str):
        raise AuditPolicyError(f"{field}: expected a severity name, got {value!r}")
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise AuditPolicyError(f"{field}: {exc}") from None


def _parse_overrides(value: Any) -> dict[str, Severity]:
    from cmkguard.auditing.catalogue import FINDING_CATALOGUE

    if not isinstance(value, Mapping):
        raise AuditPolicyError("severity_overrides: expected a table of rule id = severity")
    known = FINDING_CATALOGUE
    out: dict[str, Severity] = {}
    for rule_id, sev in value.items():
        if rule_id not in known:
            raise AuditPolicyError(f"severity_overrides.{rule_id}: unknown rule id")
        out[rule_id] = _severity(sev, f"severity_overrides.{rule_id}")
    return out


def _parse_suppressions(value: Any) -> tuple[Suppression, ...]:
    if not isinstance(value, list):
        raise AuditPolicyError("suppressions: expected a list of tables")
    out: list[Suppression] = []
    for i, item in enumerate(value):
        where = f"suppressions[{i}]"
        if not isinstance(item, Mapping):
            raise AuditPolicyError(f"{where}: expected a table")
        unknown = sorted(set(item) - {"rule_id", "resource", "reason", "expires"})
        if unknown:
            raise AuditPolicyError(f"{where}.{unknown[0]}: unknown field")
        for name in ("rule_id", "resource", "reason"):
            if not isinstance(item.get(name), str) or not item[name].strip():
                raise AuditPolicyError(f"{where}.{name}: required (a non-empty string)")
        out.append(
            Suppression(
                rule_id=item["rule_id"],
                resource=item["resource"],
                reason=item["reason"],
                expires=_date(item.get("expires"), f"{where}.expires"),
            )
        )
    return tuple(out)


def _date(value: Any, field: str) -> date | None:
    # TOML has a native date type; JSON gives an ISO string.
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise AuditPolicyError(f"{field}: not a date (YYYY-MM-DD): {value!r}")
