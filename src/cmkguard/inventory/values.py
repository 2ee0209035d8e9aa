"""The frozen values an inventory is made of.

These are the contract between the layers: the scan produces them, the audit, the reports and the
migration planner consume them. All are ``attrs`` frozen classes, picklable, and round-trip
through plain JSON-able dicts (``to_dict`` / ``from_dict``) so that an inventory saved today can be
audited offline tomorrow.
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import attrs

from cmkguard.types import AccountId, KeyArn, Region, ResourceArn, ResourceTypeName

if TYPE_CHECKING:
    from cmkguard.policy import GrantAnalysis, PolicyAnalysis

__all__ = [
    "INVENTORY_SCHEMA_VERSION",
    "EncryptedResource",
    "Grant",
    "Inventory",
    "KeyClass",
    "KeyUse",
    "KmsKey",
    "OrgScope",
    "RotationStatus",
    "ScanError",
]

INVENTORY_SCHEMA_VERSION = 1
"""Version of the JSON document written by :meth:`Inventory.to_json`."""


class KeyClass(enum.Enum):
    """How a resource is encrypted, from the point of view of key governance."""

    AWS_MANAGED = "aws-managed"
    """An AWS-managed key such as ``aws/rds``: no policy, rotation or sharing control."""
    CUSTOMER_MANAGED = "customer-managed"
    """A customer-managed key (CMK) owned by the resource's own account."""
    CROSS_ACCOUNT = "cross-account"
    """A customer-managed key owned by another account."""
    UNENCRYPTED = "unencrypted"
    """No encryption at rest."""
    UNKNOWN = "unknown"
    """The key could not be determined or described; the record says why."""
    AWS_OWNED = "aws-owned"
    """An AWS owned key (RDS `StorageEncryptionType` `sse-rds`, the Aurora default from
    2026-02-18): encrypted, but with a key in an AWS account that you cannot see, govern, audit
    or share. Not a CMK: migrated like an AWS-managed key."""


def _dt_to_json(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt_from_json(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _str_mapping(value: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> dict[str, str]:
    if value is None:
        return {}
    return dict(value)


def _any_mapping(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value) if value is not None else {}


def _strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _key_uses(value: Iterable[KeyUse]) -> tuple[KeyUse, ...]:
    return tuple(value)


def _grants(value: Iterable[Grant]) -> tuple[Grant, ...]:
    return tuple(value)


def _resources(value: Iterable[EncryptedResource]) -> tuple[EncryptedResource, ...]:
    return tuple(value)


def _scan_errors(value: Iterable[ScanError]) -> tuple[ScanError, ...]:
    return tuple(value)


@attrs.frozen
class KeyUse:
    """A secondary key a resource depends on, besides its storage key.

    ``purpose`` says what the key protects: ``"performance-insights"``, ``"replica"`` (a secret's
    replica in ``region``), ``"master-user-secret"`` (an RDS-managed master password secret),
    ``"rotation-lambda"`` (the environment of a secret's rotation Lambda, ``detail`` its ARN).
    """

    purpose: str
    region: Region
    key_arn: KeyArn | None
    key_class: KeyClass
    reason: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "purpose": self.purpose,
            "region": self.region,
            "key_arn": self.key_arn,
            "key_class": self.key_class.value,
            "reason": self.reason,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyUse:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            purpose=data["purpose"],
            region=Region(data["region"]),
            key_arn=KeyArn(data["key_arn"]) if data.get("key_arn") else None,
            key_class=KeyClass(data["key_class"]),
            reason=data.get("reason"),
            detail=data.get("detail"),
        )


@attrs.frozen
class EncryptedResource:
    """One data store and the key that encrypts it.

    ``key_reference`` is the identifier exactly as the service reported it (an id, an alias, an
    ARN, or ``None``); ``key_arn`` is that identifier normalised to the key ARN, ``None`` when the
    resource is unencrypted or the key could not be resolved. ``reason`` explains an ``UNKNOWN``
    class. ``details`` holds service-specific facts (engine, snapshot type, owning service...),
    JSON-able values only. ``secondary_keys`` lists the other keys the resource depends on.
    """

    arn: ResourceArn
    resource_type: ResourceTypeName
    account: AccountId
    region: Region
    name: str
    key_class: KeyClass
    key_arn: KeyArn | None = None
    key_reference: str | None = None
    reason: str | None = None
    tags: Mapping[str, str] = attrs.field(factory=dict, converter=_str_mapping, hash=False)
    details: Mapping[str, Any] = attrs.field(factory=dict, converter=_any_mapping, hash=False)
    secondary_keys: tuple[KeyUse, ...] = attrs.field(default=(), converter=_key_uses)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "arn": self.arn,
            "resource_type": self.resource_type,
            "account": self.account,
            "region": self.region,
            "name": self.name,
            "key_class": self.key_class.value,
            "key_arn": self.key_arn,
            "key_reference": self.key_reference,
            "reason": self.reason,
            "tags": dict(self.tags),
            "details": dict(self.details),
            "secondary_keys": [k.to_dict() for k in self.secondary_keys],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EncryptedResource:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            arn=ResourceArn(data["arn"]),
            resource_type=ResourceTypeName(data["resource_type"]),
            account=AccountId(data["account"]),
            region=Region(data["region"]),
            name=data["name"],
            key_class=KeyClass(data["key_class"]),
            key_arn=KeyArn(data["key_arn"]) if data.get("key_arn") else None,
            key_reference=data.get("key_reference"),
            reason=data.get("reason"),
            tags=data.get("tags") or {},
            details=data.get("details") or {},
            secondary_keys=tuple(KeyUse.from_dict(k) for k in data.get("secondary_keys", ())),
        )


@attrs.frozen
class RotationStatus:
    """A key's rotation, as ``GetKeyRotationStatus`` and ``ListKeyRotations`` report it.

    ``applicable`` is false for keys that cannot rotate automatically (asymmetric, HMAC,
    imported material, custom key store); ``reason`` then says why, and ``enabled`` is ``None``.
    """

    applicable: bool
    enabled: bool | None = None
    period_days: int | None = None
    next_rotation: datetime | None = None
    on_demand_start: datetime | None = None
    last_rotation: datetime | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "applicable": self.applicable,
            "enabled": self.enabled,
            "period_days": self.period_days,
            "next_rotation": _dt_to_json(self.next_rotation),
            "on_demand_start": _dt_to_json(self.on_demand_start),
            "last_rotation": _dt_to_json(self.last_rotation),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RotationStatus:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            applicable=data["applicable"],
            enabled=data.get("enabled"),
            period_days=data.get("period_days"),
            next_rotation=_dt_from_json(data.get("next_rotation")),
            on_demand_start=_dt_from_json(data.get("on_demand_start")),
            last_rotation=_dt_from_json(data.get("last_rotation")),
            reason=data.get("reason"),
        )


@attrs.frozen
class Grant:
    """One KMS grant (``ListGrants``): a second path to a key, beside its policy."""

    grant_id: str
    grantee_principal: str
    operations: tuple[str, ...] = attrs.field(converter=_strs)
    retiring_principal: str | None = None
    issuing_account: str | None = None
    name: str | None = None
    creation_date: datetime | None = None
    constraints: Mapping[str, Any] | None = attrs.field(default=None, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "grant_id": self.grant_id,
            "grantee_principal": self.grantee_principal,
            "operations": list(self.operations),
            "retiring_principal": self.retiring_principal,
            "issuing_account": self.issuing_account,
            "name": self.name,
            "creation_date": _dt_to_json(self.creation_date),
            "constraints": self.constraints,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grant:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            grant_id=data["grant_id"],
            grantee_principal=data["grantee_principal"],
            operations=tuple(data.get("operations", ())),
            retiring_principal=data.get("retiring_principal"),
            issuing_account=data.get("issuing_account"),
            name=data.get("name"),
            creation_date=_dt_from_json(data.get("creation_date")),
            constraints=data.get("constraints"),
        )

    def to_api(self) -> dict[str, Any]:
        """The grant in ``ListGrants`` response shape (what the grant analyser reads)."""
        out: dict[str, Any] = {
            "GrantId": self.grant_id,
            "GranteePrincipal": self.grantee_principal,
            "Operations": list(self.operations),
        }
        if self.retiring_principal:
            out["RetiringPrincipal"] = self.retiring_principal
        if self.issuing_account:
            out["IssuingAccount"] = self.issuing_account
        if self.name:
            out["Name"] = self.name
        if self.constraints:
            out["Constraints"] = dict(self.constraints)
        return out


@attrs.frozen(cache_hash=False)
class KmsKey:
    """A KMS key seen by a scan: metadata, aliases, tags, rotation, policy and grants.

    ``manager`` is ``"AWS"`` or ``"CUSTOMER"`` (``KeyManager``). ``policy`` is the key policy
    text (``None`` when it could not be read; the inventory's errors say why).
    """

    arn: KeyArn
    key_id: str
    account: AccountId
    region: Region
    manager: str
    state: str
    spec: str = "SYMMETRIC_DEFAULT"
    usage: str = "ENCRYPT_DECRYPT"
    origin: str = "AWS_KMS"
    multi_region: bool = False
    description: str = ""
    creation_date: datetime | None = None
    deletion_date: datetime | None = None
    aliases: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    tags: Mapping[str, str] = attrs.field(factory=dict, converter=_str_mapping, hash=False)
    rotation: RotationStatus | None = None
    policy: str | None = attrs.field(default=None, hash=False)
    grants: tuple[Grant, ...] = attrs.field(default=(), converter=_grants, hash=False)

    @property
    def is_aws_managed(self) -> bool:
        """Whether AWS manages this key (``aws/rds``, ``aws/secretsmanager``...)."""
        return self.manager == "AWS"

    @cached_property
    def policy_analysis(self) -> PolicyAnalysis | None:
        """The key policy analysed with the key's own account (``None`` without a policy)."""
        if self.policy is None:
            return None
        from cmkguard.policy import analyze_key_policy

        return analyze_key_policy(self.policy, key_account=self.account)

    @cached_property
    def grant_analysis(self) -> GrantAnalysis:
        """The key's grants analysed with the key's own account."""
        from cmkguard.policy import analyze_grants

        return analyze_grants([g.to_api() for g in self.grants], key_account=self.account)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "arn": self.arn,
            "key_id": self.key_id,
            "account": self.account,
            "region": self.region,
            "manager": self.manager,
            "state": self.state,
            "spec": self.spec,
            "usage": self.usage,
            "origin": self.origin,
            "multi_region": self.multi_region,
            "description": self.description,
            "creation_date": _dt_to_json(self.creation_date),
            "deletion_date": _dt_to_json(self.deletion_date),
            "aliases": list(self.aliases),
            "tags": dict(self.tags),
            "rotation": self.rotation.to_dict() if self.rotation else None,
            "policy": self.policy,
            "grants": [g.to_dict() for g in self.grants],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KmsKey:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            arn=KeyArn(data["arn"]),
            key_id=data["key_id"],
            account=AccountId(data["account"]),
            region=Region(data["region"]),
            manager=data["manager"],
            state=data["state"],
            spec=data.get("spec", "SYMMETRIC_DEFAULT"),
            usage=data.get("usage", "ENCRYPT_DECRYPT"),
            origin=data.get("origin", "AWS_KMS"),
            multi_region=bool(data.get("multi_region", False)),
            description=data.get("description", ""),
            creation_date=_dt_from_json(data.get("creation_date")),
            deletion_date=_dt_from_json(data.get("deletion_date")),
            aliases=tuple(data.get("aliases", ())),
            tags=data.get("tags") or {},
            rotation=RotationStatus.from_dict(data["rotation"]) if data.get("rotation") else None,
            policy=data.get("policy"),
            grants=tuple(Grant.from_dict(g) for g in data.get("grants", ())),
        )


@attrs.frozen
class ScanError:
    """Something a scan could not read, and why. The rest of the scan went on.

    ``resource_type`` is ``None`` for account- or key-level reads (``kms`` operations name the
    key in ``target``).
    """

    account: str
    region: str
    operation: str
    reason: str
    resource_type: str | None = None
    error_code: str | None = None
    target: str | None = None

    def __str__(self) -> str:
        where = "/".join(p for p in (self.account, self.region, self.resource_type) if p)
        target = f" {self.target}" if self.target else ""
        return f"{where} {self.operation}{target}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScanError:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**dict(data))


def _str_dict(value: Mapping[str, str]) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()}


@attrs.frozen
class OrgScope:
    """The organisation an inventory covers (set by `cmkguard.merge_results`).

    ``account_ous`` maps every account Organizations listed to its OU path
    (``"Workloads/Prod"``, ``"/"`` for the root) and ``account_names`` to its name;
    ``unread`` are the selected accounts that could not be read (their `ScanError`s say why);
    ``suspended`` the accounts that are not active (never scanned). Accounts of the
    organisation are its zone of trust: the audit treats their keys and grants as internal.
    """

    org_id: str
    management_account: str
    account_ous: Mapping[str, str] = attrs.field(factory=dict, converter=_str_dict, hash=False)
    account_names: Mapping[str, str] = attrs.field(factory=dict, converter=_str_dict, hash=False)
    unread: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    suspended: tuple[str, ...] = attrs.field(default=(), converter=_strs)

    @property
    def member_accounts(self) -> frozenset[str]:
        """Every account of the organisation (suspended ones included)."""
        return frozenset(self.account_ous)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "org_id": self.org_id,
            "management_account": self.management_account,
            "accounts": [
                {"id": a, "ou": ou, "name": self.account_names.get(a, "")}
                for a, ou in sorted(self.account_ous.items())
            ],
            "unread": list(self.unread),
            "suspended": list(self.suspended),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OrgScope:
        """Rebuild from `to_dict` output."""
        accounts = data.get("accounts", ())
        return cls(
            org_id=data["org_id"],
            management_account=data["management_account"],
            account_ous={a["id"]: a.get("ou", "/") for a in accounts},
            account_names={a["id"]: a.get("name", "") for a in accounts},
            unread=tuple(data.get("unread", ())),
            suspended=tuple(data.get("suspended", ())),
        )


def _keys_mapping(value: Mapping[KeyArn, KmsKey] | Iterable[KmsKey]) -> dict[KeyArn, KmsKey]:
    if isinstance(value, Mapping):
        return dict(value)
    return {k.arn: k for k in value}


@attrs.frozen
class Inventory:
    """The result of :func:`cmkguard.scan`: resources, keys and what could not be read."""

    resources: tuple[EncryptedResource, ...] = attrs.field(default=(), converter=_resources)
    keys: Mapping[KeyArn, KmsKey] = attrs.field(factory=dict, converter=_keys_mapping, hash=False)
    errors: tuple[ScanError, ...] = attrs.field(default=(), converter=_scan_errors)
    accounts: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    regions: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    resource_types: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    scanned_at: datetime | None = None
    external_keys: Mapping[KeyArn, KmsKey] = attrs.field(
        factory=dict, converter=_keys_mapping, hash=False
    )
    """Keys of accounts outside the scan that resources use (another account's CMK), as far as
    ``DescribeKey`` could read them: metadata only, never audited as the scanned accounts' keys
    (``keys``)."""
    organization: OrgScope | None = None
    """The organisation scanned (`cmkguard.scan_organization`); ``None`` for account scans."""

    def counts_by_class(self) -> dict[KeyClass, int]:
        """How many resources sit in each key class (every class present, zeros included)."""
        counts = Counter(r.key_class for r in self.resources)
        return {kc: counts.get(kc, 0) for kc in KeyClass}

    @property
    def cmk_coverage(self) -> float | None:
        """Percentage of resources on a customer-managed key of their own account.

        ``None`` when there is nothing to measure (no resources, or all unknown).
        """
        known = [r for r in self.resources if r.key_class is not KeyClass.UNKNOWN]
        if not known:
            return None
        on_cmk = sum(1 for r in known if r.key_class is KeyClass.CUSTOMER_MANAGED)
        return 100.0 * on_cmk / len(known)

    def resource(self, arn: str) -> EncryptedResource:
        """The resource with this ARN; ``KeyError`` if the inventory has none."""
        for r in self.resources:
            if r.arn == arn:
                return r
        raise KeyError(arn)

    def resources_on_key(self, key_arn: str) -> tuple[EncryptedResource, ...]:
        """Every resource whose storage or a secondary key is ``key_arn``."""
        return tuple(
            r
            for r in self.resources
            if r.key_arn == key_arn or any(k.key_arn == key_arn for k in r.secondary_keys)
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``schema_version`` first)."""
        return {
            "schema_version": INVENTORY_SCHEMA_VERSION,
            "scanned_at": _dt_to_json(self.scanned_at),
            "accounts": list(self.accounts),
            "regions": list(self.regions),
            "resource_types": list(self.resource_types),
            "resources": [r.to_dict() for r in self.resources],
            "keys": [k.to_dict() for k in self.keys.values()],
            "errors": [e.to_dict() for e in self.errors],
            "external_keys": [k.to_dict() for k in self.external_keys.values()],
        } | ({"organization": self.organization.to_dict()} if self.organization else {})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Inventory:
        """Rebuild from :meth:`to_dict` output.

        ``ValueError`` on an unknown schema version or a document of the wrong shape (a saved
        file edited by hand, another tool's JSON), never a stray ``TypeError``/``KeyError``.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"not a cmkguard inventory: a JSON {type(data).__name__}")
        version = data.get("schema_version")
        if version != INVENTORY_SCHEMA_VERSION:
            raise ValueError(
                f"unsupported inventory schema_version {version!r} "
                f"(this cmkguard reads {INVENTORY_SCHEMA_VERSION})"
            )
        try:
            return cls._from_valid_dict(data)
        except (KeyError, TypeError, AttributeError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"not a cmkguard inventory: {detail}") from exc

    @classmethod
    def _from_valid_dict(cls, data: Mapping[str, Any]) -> Inventory:
        return cls(
            resources=tuple(EncryptedResource.from_dict(r) for r in data.get("resources", ())),
            keys=[KmsKey.from_dict(k) for k in data.get("keys", ())],
            errors=tuple(ScanError.from_dict(e) for e in data.get("errors", ())),
            accounts=tuple(data.get("accounts", ())),
            regions=tuple(data.get("regions", ())),
            resource_types=tuple(data.get("resource_types", ())),
            scanned_at=_dt_from_json(data.get("scanned_at")),
            external_keys=[KmsKey.from_dict(k) for k in data.get("external_keys", ())],
            organization=OrgScope.from_dict(data["organization"])
            if data.get("organization")
            else None,
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialise to JSON text (see :meth:`from_json`)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Inventory:
        """Read an inventory written by :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def _repr_html_(self) -> str:
        # Jupyter rendering lives with the other formats in cmkguard.report (imported lazily:
        # report/ sits above models in the layers and pulls in nothing optional).
        from cmkguard.report.html import inventory_html

        return inventory_html(self)
