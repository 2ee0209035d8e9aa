"""The frozen values an inventory is made of.

These are the contract between the layers: the scan produces them, the audit, the reports and the
migration planner consume them. All are `attrs` frozen classes, picklable, and round-trip
through plain JSON-able dicts (`to_dict` / `from_dict`, one generic converter for all of them) so
that an inventory saved today can be audited offline tomorrow. The JSON document is versioned
(`INVENTORY_SCHEMA_VERSION`); a document that is not one raises `InventoryFormatError`.
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Self

import attrs

from cmkguard._convert import OMIT_IF_DEFAULT, Converter, FormatProblem, kind_of
from cmkguard._json import load_document_json
from cmkguard.errors import InventoryFormatError
from cmkguard.types import AccountId, KeyArn, Region, ResourceArn, ResourceTypeName

if TYPE_CHECKING:
    import pandas as pd

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
"""Version of the JSON document written by `Inventory.to_json`."""


class KeyClass(enum.Enum):
    """How a resource is encrypted, from the point of view of key governance."""

    AWS_MANAGED = "aws-managed"
    """An AWS-managed key such as `aws/rds`: no policy, rotation or sharing control."""
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


class _JsonValue:
    """`to_dict` / `from_dict` through the module's one converter (no hand-written bodies)."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (datetimes as ISO 8601 text, enums by value, tuples as lists)."""
        data: dict[str, Any] = _CONVERTER.unstructure(self)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from `to_dict` output; `InventoryFormatError` (a `ValueError`) if it is not."""
        value: Self = _CONVERTER.structure(cls, data)
        return value


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
class KeyUse(_JsonValue):
    """A secondary key a resource depends on, besides its storage key.

    `purpose` says what the key protects: `"performance-insights"`, `"replica"` (a secret's
    replica in `region`), `"master-user-secret"` (an RDS-managed master password secret),
    `"rotation-lambda"` (the environment of a secret's rotation Lambda, `detail` its ARN).
    """

    purpose: str
    region: Region
    key_arn: KeyArn | None
    key_class: KeyClass
    reason: str | None = None
    detail: str | None = None


@attrs.frozen
class EncryptedResource(_JsonValue):
    """One data store and the key that encrypts it.

    `key_reference` is the identifier exactly as the service reported it (an id, an alias, an
    ARN, or `None`); `key_arn` is that identifier normalised to the key ARN, `None` when the
    resource is unencrypted or the key could not be resolved. `reason` explains an `UNKNOWN`
    class. `details` holds service-specific facts (engine, snapshot type, owning service...),
    JSON-able values only. `secondary_keys` lists the other keys the resource depends on.
    `record` is the service's own describe record the scan read (`DescribeDBInstances`,
    `DescribeDBClusters`, the snapshot listings, `ListSecrets` + `DescribeSecret`; never a
    secret value), JSON-safe: what `cmkguard.plan_migration` restores from, so a plan needs
    nothing but the inventory. `None` for resources from inventory files written before
    cmkguard kept it, or built by hand.
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
    # Not part of equality: the same resource described a minute later is the same resource.
    record: Mapping[str, Any] | None = attrs.field(
        default=None, eq=False, repr=False, metadata={OMIT_IF_DEFAULT: True}
    )


def _datetimes(value: Iterable[datetime]) -> tuple[datetime, ...]:
    return tuple(value)


@attrs.frozen
class RotationStatus(_JsonValue):
    """A key's rotation, as `GetKeyRotationStatus` and `ListKeyRotations` report it.

    `applicable` is false for keys that cannot rotate automatically (asymmetric, HMAC,
    imported material, custom key store); `reason` then says why, and `enabled` is `None`.
    """

    applicable: bool
    enabled: bool | None = None
    period_days: int | None = None
    next_rotation: datetime | None = None
    on_demand_start: datetime | None = None
    last_rotation: datetime | None = None
    reason: str | None = None
    automatic_rotations: tuple[datetime, ...] = attrs.field(
        default=(), converter=_datetimes, metadata={OMIT_IF_DEFAULT: True}
    )
    """Dates of the key's completed automatic rotations (`ListKeyRotations` entries with
    `RotationType` `AUTOMATIC`), oldest first; on-demand rotations are left out."""


@attrs.frozen
class Grant(_JsonValue):
    """One KMS grant (`ListGrants`): a second path to a key, beside its policy."""

    grant_id: str
    grantee_principal: str
    operations: tuple[str, ...] = attrs.field(converter=_strs)
    retiring_principal: str | None = None
    issuing_account: str | None = None
    name: str | None = None
    creation_date: datetime | None = None
    constraints: Mapping[str, Any] | None = attrs.field(default=None, hash=False)

    def to_api(self) -> dict[str, Any]:
        """The grant in `ListGrants` response shape (what the grant analyser reads)."""
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
class KmsKey(_JsonValue):
    """A KMS key seen by a scan: metadata, aliases, tags, rotation, policy and grants.

    `manager` is `"AWS"` or `"CUSTOMER"` (`KeyManager`). `policy` is the key policy
    text (`None` when it could not be read; the inventory's errors say why).
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
        """Whether AWS manages this key (`aws/rds`, `aws/secretsmanager`...)."""
        return self.manager == "AWS"

    @cached_property
    def policy_analysis(self) -> PolicyAnalysis | None:
        """The key policy analysed with the key's own account (`None` without a policy)."""
        if self.policy is None:
            return None
        from cmkguard.policy import analyze_key_policy

        return analyze_key_policy(self.policy, key_account=self.account)

    @cached_property
    def grant_analysis(self) -> GrantAnalysis:
        """The key's grants analysed with the key's own account and, when it parses, its key
        policy (an explicit Deny there overrides a grant). With an unreadable or malformed
        policy the grants are analysed alone (`key_policy_checked` is then `False`)."""
        return self.analyze_grants()

    def analyze_grants(
        self,
        *,
        org_id: str | None = None,
        trusted_accounts: Iterable[str] = (),
        member_accounts: Iterable[str] = (),
    ) -> GrantAnalysis:
        """The key's grants analysed as `grant_analysis` does, for an organization:
        `org_id`, `trusted_accounts` and `member_accounts` as `cmkguard.analyze_grants` takes
        them (an audit's organization and trusted accounts; an organisation scan's members).

        A malformed grant raises `cmkguard.PolicyParseError`; a malformed key policy does not
        (its own analysis reports it): the grants are then analysed without it.
        """
        from cmkguard.errors import PolicyParseError
        from cmkguard.policy import analyze_grants

        grants = [g.to_api() for g in self.grants]
        context: dict[str, Any] = {
            "key_account": self.account,
            "org_id": org_id,
            "trusted_accounts": trusted_accounts,
            "member_accounts": member_accounts,
            "key_spec": self.spec,
        }
        if self.policy is not None:
            try:
                return analyze_grants(grants, key_policy=self.policy, key_arn=self.arn, **context)
            except PolicyParseError:
                pass  # the policy's own analysis reports it; the grants still count
        return analyze_grants(grants, **context)


@attrs.frozen
class ScanError(_JsonValue):
    """Something a scan could not read, and why. The rest of the scan went on.

    `resource_type` is `None` for account- or key-level reads (`kms` operations name the
    key in `target`).
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


def _str_dict(value: Mapping[str, str]) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()}


@attrs.frozen
class OrgScope:
    """The organisation an inventory covers (set by `cmkguard.merge_results`).

    `account_ous` maps every account Organizations listed to its OU path
    (`"Workloads/Prod"`, `"/"` for the root) and `account_names` to its name;
    `unread` are the selected accounts that could not be read (their `ScanError`s say why);
    `suspended` the accounts that are not active (never scanned). Accounts of the
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
        """A JSON-able dict (accounts as a list of `id`, `ou`, `name`, sorted by id)."""
        data: dict[str, Any] = _CONVERTER.unstructure(self._document())
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OrgScope:
        """Rebuild from `to_dict` output; `InventoryFormatError` (a `ValueError`) if it is not."""
        scope: OrgScope = _CONVERTER.structure(OrgScope, data, "$.organization")
        return scope

    def _document(self) -> _OrgScopeDocument:
        accounts = tuple(
            _OrgAccountDocument(a, ou, self.account_names.get(a, ""))
            for a, ou in sorted(self.account_ous.items())
        )
        return _OrgScopeDocument(
            self.org_id, self.management_account, accounts, self.unread, self.suspended
        )

    @classmethod
    def _from_document(cls, doc: _OrgScopeDocument) -> OrgScope:
        return cls(
            org_id=doc.org_id,
            management_account=doc.management_account,
            account_ous={a.id: a.ou for a in doc.accounts},
            account_names={a.id: a.name for a in doc.accounts},
            unread=doc.unread,
            suspended=doc.suspended,
        )


@attrs.frozen
class _OrgAccountDocument:
    """One account of `OrgScope`'s JSON form."""

    id: str
    ou: str = "/"
    name: str = ""


@attrs.frozen
class _OrgScopeDocument:
    """`OrgScope`'s JSON form: its accounts as a list rather than two mappings."""

    org_id: str
    management_account: str
    accounts: tuple[_OrgAccountDocument, ...] = ()
    unread: tuple[str, ...] = ()
    suspended: tuple[str, ...] = ()


def _keys_mapping(value: Mapping[KeyArn, KmsKey] | Iterable[KmsKey]) -> dict[KeyArn, KmsKey]:
    if isinstance(value, Mapping):
        return dict(value)
    return {k.arn: k for k in value}


@attrs.frozen
class Inventory(_JsonValue):
    """The result of `cmkguard.scan`: resources, keys and what could not be read."""

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
    `DescribeKey` could read them: metadata only, never audited as the scanned accounts' keys
    (`keys`)."""
    organization: OrgScope | None = None
    """The organisation scanned (`cmkguard.scan_organization`); `None` for account scans."""

    def counts_by_class(self) -> dict[KeyClass, int]:
        """How many resources sit in each key class (every class present, zeros included)."""
        counts = Counter(r.key_class for r in self.resources)
        return {kc: counts.get(kc, 0) for kc in KeyClass}

    @property
    def is_complete(self) -> bool:
        """Whether the scan read everything it was asked to (no `errors`): figures over an
        incomplete inventory (`cmk_coverage`, counts) describe only what was read."""
        return not self.errors

    @property
    def cmk_coverage(self) -> float | None:
        """Percentage of resources on a customer-managed key of their own account.

        `None` when there is nothing to measure (no resources, or all unknown).
        """
        known = [r for r in self.resources if r.key_class is not KeyClass.UNKNOWN]
        if not known:
            return None
        on_cmk = sum(1 for r in known if r.key_class is KeyClass.CUSTOMER_MANAGED)
        return 100.0 * on_cmk / len(known)

    @cached_property
    def _by_arn(self) -> Mapping[str, EncryptedResource]:
        by_arn: dict[str, EncryptedResource] = {}
        for r in self.resources:
            by_arn.setdefault(r.arn, r)  # the first one, as the linear search found it
        return by_arn

    @cached_property
    def _by_key(self) -> Mapping[str, tuple[EncryptedResource, ...]]:
        index: dict[str, list[EncryptedResource]] = {}
        for r in self.resources:
            for arn in dict.fromkeys((r.key_arn, *(u.key_arn for u in r.secondary_keys))):
                if arn is not None:
                    index.setdefault(arn, []).append(r)
        return {arn: tuple(users) for arn, users in index.items()}

    def resource(self, arn: str) -> EncryptedResource:
        """The resource with this ARN; `KeyError` if the inventory has none (indexed once)."""
        return self._by_arn[arn]

    def resources_on_key(self, key_arn: str) -> tuple[EncryptedResource, ...]:
        """Every resource whose storage or a secondary key is `key_arn`, in inventory order.

        Indexed by key on first use, so asking for every key costs one pass, not one per key.
        """
        return self._by_key.get(key_arn, ())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (`schema_version` first; keys as lists of key documents)."""
        dump = _CONVERTER.unstructure
        return {
            "schema_version": INVENTORY_SCHEMA_VERSION,
            "scanned_at": dump(self.scanned_at),
            "accounts": list(self.accounts),
            "regions": list(self.regions),
            "resource_types": list(self.resource_types),
            "resources": dump(self.resources),
            "keys": dump(tuple(self.keys.values())),
            "errors": dump(self.errors),
            "external_keys": dump(tuple(self.external_keys.values())),
        } | ({"organization": self.organization.to_dict()} if self.organization else {})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from `to_dict` output (any earlier cmkguard's too: schema version 1).

        `InventoryFormatError` (a `ValueError`) on an unknown schema version or a document of
        the wrong shape (a saved file edited by hand, another tool's JSON), naming the field.
        """
        if not isinstance(data, Mapping):
            raise InventoryFormatError("$", f"expected an object, got {kind_of(data)}")
        version = data.get("schema_version")
        if version != INVENTORY_SCHEMA_VERSION:
            raise InventoryFormatError(
                "$.schema_version",
                f"unsupported inventory schema_version {version!r} "
                f"(this cmkguard reads {INVENTORY_SCHEMA_VERSION})",
            )
        # Every saved inventory has these (`to_dict` writes them, empty or not): without them
        # it is another document (an audit report), never an empty inventory from defaults.
        missing = [
            n for n in ("resources", "keys", "errors", "accounts", "regions") if n not in data
        ]
        if missing:
            hint = " (it looks like an audit report)" if "findings" in data else ""
            raise InventoryFormatError("$", f"missing {', '.join(map(repr, missing))}{hint}")

        def field(name: str, kind: Any, default: Any = ()) -> Any:
            return _CONVERTER.structure(kind, data.get(name, default), f"$.{name}")

        return cls(
            resources=field("resources", tuple[EncryptedResource, ...]),
            keys=field("keys", tuple[KmsKey, ...]),
            errors=field("errors", tuple[ScanError, ...]),
            accounts=field("accounts", tuple[str, ...]),
            regions=field("regions", tuple[str, ...]),
            resource_types=field("resource_types", tuple[str, ...]),
            scanned_at=field("scanned_at", datetime | None, None),
            external_keys=field("external_keys", tuple[KmsKey, ...]),
            organization=_CONVERTER.structure(
                OrgScope | None, data.get("organization") or None, "$.organization"
            ),
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialise to JSON text (see `from_json`)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Inventory:
        """Read an inventory written by `to_json` (`InventoryFormatError` if it is not one;
        `DocumentError` when it is not JSON or is nested absurdly deep)."""
        return cls.from_dict(load_document_json(text, "cmkguard inventory"))

    def to_dataframe(self) -> pd.DataFrame:
        """One row per resource: ARN, name, type, account, region, key class, key ARN, key
        alias, key account and state, tags (needs the `pandas` extra)."""
        from cmkguard.report.frames import inventory_to_dataframe

        return inventory_to_dataframe(self)

    def keys_dataframe(self) -> pd.DataFrame:
        """One row per key of the scanned accounts: alias, manager, state, rotation (`unknown`
        when it could not be read), how many resources use it, tags (needs `pandas`)."""
        from cmkguard.report.frames import keys_to_dataframe

        return keys_to_dataframe(self)

    def _repr_html_(self) -> str:
        # Jupyter rendering lives with the other formats in cmkguard.report (imported lazily:
        # report/ sits above models in the layers and pulls in nothing optional).
        from cmkguard.report.html import inventory_html

        return inventory_html(self)


def _optional_key_arn(value: Any) -> KeyArn | None:
    # Written as null; an empty string (hand-edited files) reads as "no key", as it always did.
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FormatProblem(f"expected a key ARN string, got {kind_of(value)}")
    return KeyArn(value)


def _str_mapping_or_empty(value: Any) -> dict[str, str]:
    # tags written as {}; null reads as empty, as the first loaders did.
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FormatProblem(f"expected an object, got {kind_of(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            problem = FormatProblem(f"expected a string, got {kind_of(item)}")
            problem.path.append(f".{key}")
            raise problem
    return dict(value)


def _mapping_or_empty(value: Any) -> dict[str, Any]:
    # details written as {}; null reads as empty, as the first loaders did.
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FormatProblem(f"expected an object, got {kind_of(value)}")
    return dict(value)


def _org_scope(value: Any) -> OrgScope:
    return OrgScope._from_document(_CONVERTER.reader(_OrgScopeDocument)(value))


_CONVERTER = Converter(
    InventoryFormatError,
    reject_unknown_fields=False,  # a newer cmkguard's extra fields do not break this one
    hooks={
        KeyArn | None: _optional_key_arn,
        Mapping[str, str]: _str_mapping_or_empty,
        Mapping[str, Any]: _mapping_or_empty,
        OrgScope: _org_scope,
    },
)
