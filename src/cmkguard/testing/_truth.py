"""The ground truth of a seeded estate: what exists, on which key, and what is wrong with it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from cmkguard.inventory.values import (
    EncryptedResource,
    Inventory,
    KeyClass,
    KeyUse,
    KmsKey,
    ScanError,
)
from cmkguard.types import AccountId, KeyArn, Region, ResourceArn, ResourceTypeName

__all__ = ["ExpectedKey", "ExpectedResource", "GroundTruth"]

KEY_PROBLEMS = frozenset(
    {
        "public-access",
        "cross-account-access",
        "wildcard-actions",
        "rotation-disabled",
        "missing-tags",
        "pending-deletion-in-use",
        "disabled-in-use",
    }
)
"""Problem slugs a key can carry in the ground truth."""

RESOURCE_PROBLEMS = frozenset(
    {"aws-managed-key", "unencrypted", "cross-account-key", "rotation-lambda-key-class-mismatch"}
)
"""Problem slugs a resource can carry in the ground truth."""


def _frozen_strs(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class ExpectedResource:
    """One resource the seeding made, with the key class a correct scan must find.

    `arn` is exactly the ARN AWS (moto) reports; `key_arn` the key's ARN (`None` when
    unencrypted); `problems` the resource-level problems (`aws-managed-key`,
    `unencrypted`, `cross-account-key`, `rotation-lambda-key-class-mismatch`); `details`
    facts a scan may also report (snapshot type, owning service, replica regions...);
    `key_uses` the secondary keys a scan must report (so far the `rotation-lambda` key of a
    rotating secret; replicas and the like are not listed here yet).
    """

    arn: ResourceArn
    resource_type: ResourceTypeName
    account: AccountId
    region: Region
    key_class: KeyClass
    key_arn: KeyArn | None
    name: str = ""
    problems: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_strs)
    details: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    key_uses: tuple[KeyUse, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "key_uses": [u.to_dict() for u in self.key_uses],
            "arn": self.arn,
            "resource_type": self.resource_type,
            "account": self.account,
            "region": self.region,
            "key_class": self.key_class.value,
            "key_arn": self.key_arn,
            "name": self.name,
            "problems": sorted(self.problems),
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExpectedResource:
        """Rebuild from `to_dict` output."""
        return cls(
            arn=ResourceArn(data["arn"]),
            resource_type=ResourceTypeName(data["resource_type"]),
            account=AccountId(data["account"]),
            region=Region(data["region"]),
            key_class=KeyClass(data["key_class"]),
            key_arn=KeyArn(data["key_arn"]) if data.get("key_arn") else None,
            name=data.get("name", ""),
            problems=frozenset(data.get("problems", ())),
            details=dict(data.get("details", {})),
            key_uses=tuple(KeyUse.from_dict(u) for u in data.get("key_uses", ())),
        )


@attrs.frozen
class ExpectedKey:
    """One KMS key in the estate with the problems it was seeded with.

    `manager` is `"AWS"` or `"CUSTOMER"`; `state` the KMS key state (`Enabled`,
    `Disabled`, `PendingDeletion`); `problems` slugs from `KEY_PROBLEMS`;
    `rotation_enabled` and `rotation_period_days` what the seeding set; `aliases` and
    `tags` what the key carries.
    """

    arn: KeyArn
    account: AccountId
    region: Region
    manager: str
    state: str
    problems: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_strs)
    rotation_enabled: bool = False
    rotation_period_days: int | None = None
    aliases: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    tags: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "arn": self.arn,
            "account": self.account,
            "region": self.region,
            "manager": self.manager,
            "state": self.state,
            "problems": sorted(self.problems),
            "rotation_enabled": self.rotation_enabled,
            "rotation_period_days": self.rotation_period_days,
            "aliases": list(self.aliases),
            "tags": dict(self.tags),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExpectedKey:
        """Rebuild from `to_dict` output."""
        return cls(
            arn=KeyArn(data["arn"]),
            account=AccountId(data["account"]),
            region=Region(data["region"]),
            manager=data["manager"],
            state=data["state"],
            problems=frozenset(data.get("problems", ())),
            rotation_enabled=bool(data.get("rotation_enabled", False)),
            rotation_period_days=data.get("rotation_period_days"),
            aliases=tuple(data.get("aliases", ())),
            tags=dict(data.get("tags", {})),
            description=data.get("description", ""),
        )


def _covers(error: ScanError, account: str, region: str, rtype: str | None, arn: str) -> bool:
    """Whether `error` accounts for a thing (`rtype` `None`: a key) being missing."""
    if error.target and error.target == arn:
        return True
    if error.account != account or error.region != region:
        return False
    if rtype is None:
        return error.operation == "ListKeys"
    return error.resource_type == rtype and error.target is None


@attrs.frozen
class GroundTruth:
    """Everything `seed_estate` made, computed from what AWS reported.

    `resources` and `keys` are keyed by ARN. `accounts` and `regions` are where the
    seeding worked.
    """

    resources: Mapping[ResourceArn, ExpectedResource]
    keys: Mapping[KeyArn, ExpectedKey]
    accounts: tuple[AccountId, ...] = ()
    regions: tuple[Region, ...] = ()

    def resources_of_type(self, resource_type: str) -> list[ExpectedResource]:
        """The resources of one type (e.g. `"rds:db-instance"`), sorted by ARN."""
        return sorted(
            (r for r in self.resources.values() if r.resource_type == resource_type),
            key=lambda r: r.arn,
        )

    def key_class_counts(self) -> Counter[KeyClass]:
        """How many resources are in each key class."""
        return Counter(r.key_class for r in self.resources.values())

    def keys_with_problem(self, problem: str) -> list[ExpectedKey]:
        """The keys carrying `problem` (a slug), sorted by ARN."""
        return sorted((k for k in self.keys.values() if problem in k.problems), key=lambda k: k.arn)

    def resources_with_problem(self, problem: str) -> list[ExpectedResource]:
        """The resources carrying `problem` (a slug), sorted by ARN."""
        return sorted(
            (r for r in self.resources.values() if problem in r.problems), key=lambda r: r.arn
        )

    def unaccounted(self, inventory: Inventory) -> list[str]:
        """What this truth has that `inventory` silently lacks or gets wrong; `[]` is the
        promise "nothing silent": every gap is reported.

        Each line names one thing: a resource, key use or key that is in the truth but not in
        the inventory and not covered by a `ScanError` (a failed listing of its type in its
        account and region, or an error naming it); a resource whose key class differs from the
        truth without being `UNKNOWN` with a reason; a replica or rotation-Lambda key use that
        vanished; a customer-managed key whose policy or rotation status is missing without an
        error naming it. Only the accounts, regions and resource types `inventory` scanned are
        judged.
        """
        scanned = {(a, r) for a in inventory.accounts for r in inventory.regions}
        found = {r.arn: r for r in inventory.resources}
        problems: list[str] = []
        for exp in self.resources.values():
            if (exp.account, exp.region) in scanned and (
                not inventory.resource_types or exp.resource_type in inventory.resource_types
            ):
                problems += _resource_gaps(exp, found.get(exp.arn), inventory.errors)
        keys = {**inventory.external_keys, **inventory.keys}
        for key in self.keys.values():
            if (key.account, key.region) in scanned:
                problems += _key_gaps(key, keys.get(key.arn), inventory.errors)
        return problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "accounts": list(self.accounts),
            "regions": list(self.regions),
            "resources": [self.resources[a].to_dict() for a in sorted(self.resources)],
            "keys": [self.keys[a].to_dict() for a in sorted(self.keys)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroundTruth:
        """Rebuild from `to_dict` output."""
        resources = [ExpectedResource.from_dict(r) for r in data.get("resources", ())]
        keys = [ExpectedKey.from_dict(k) for k in data.get("keys", ())]
        return cls(
            resources={r.arn: r for r in resources},
            keys={k.arn: k for k in keys},
            accounts=tuple(AccountId(a) for a in data.get("accounts", ())),
            regions=tuple(Region(r) for r in data.get("regions", ())),
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """The ground truth as a JSON document."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GroundTruth:
        """Rebuild from `to_json` output."""
        return cls.from_dict(json.loads(text))


def _resource_gaps(
    exp: ExpectedResource, got: EncryptedResource | None, errors: Sequence[ScanError]
) -> list[str]:
    """What is silently wrong about one expected resource in a scan (see `unaccounted`)."""
    if got is None:
        covered = any(
            _covers(e, exp.account, exp.region, exp.resource_type, exp.arn) for e in errors
        )
        return [] if covered else [f"missing, no error: {exp.arn}"]
    problems = []
    if got.key_class is not exp.key_class and (
        got.key_class is not KeyClass.UNKNOWN or not got.reason
    ):
        problems.append(
            f"wrong key class {got.key_class.value} (truth {exp.key_class.value}): {exp.arn}"
        )
    uses = {(u.purpose, u.region): u for u in got.secondary_keys}
    wanted = [(u.purpose, u.region) for u in exp.key_uses]
    wanted += [("replica", region) for region in exp.details.get("replica_regions", ())]
    named = any(e.target == exp.arn for e in errors)
    for purpose, region in wanted:
        use = uses.get((purpose, region))
        if use is None and not named:
            problems.append(f"key use {purpose} in {region} missing, no error: {exp.arn}")
        elif use is not None and use.key_class is KeyClass.UNKNOWN and not use.reason:
            problems.append(f"key use {purpose} in {region} unknown, no reason: {exp.arn}")
    return problems


def _key_gaps(key: ExpectedKey, got: KmsKey | None, errors: Sequence[ScanError]) -> list[str]:
    """What is silently missing about one expected key in a scan (see `unaccounted`)."""
    if got is None:
        covered = any(_covers(e, key.account, key.region, None, key.arn) for e in errors)
        return [] if covered else [f"key missing, no error: {key.arn}"]
    if got.is_aws_managed or key.manager == "AWS":
        return []
    return [
        f"key {field} missing, no error: {key.arn}"
        for field, operation in (("policy", "GetKeyPolicy"), ("rotation", "GetKeyRotationStatus"))
        if getattr(got, field) is None
        and not any(e.target == key.arn and e.operation == operation for e in errors)
    ]
