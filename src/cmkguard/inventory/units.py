"""The units of work of a scan: plain, frozen, picklable data.

Every unit names an account, a region and the AWS access it runs with (a
`cmkguard.aws.AwsAccess`, which pickles as its description), so any
`concurrent.futures.Executor` (threads, processes, a dask/ray adapter) can run it
(`cmkguard.inventory.aws_units.run_unit`). Results are frozen values that pickle; failed calls
become `ScanError` records in the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from cmkguard.inventory.values import KmsKey, ScanError
from cmkguard.types import KeyArn

if TYPE_CHECKING:
    from cmkguard.aws.access import AwsAccess
    from cmkguard.resources import RawResource

__all__ = [
    "AliasListUnit",
    "DescribeUnit",
    "KeyListUnit",
    "KeyReadUnit",
    "KeyTagsUnit",
    "KeyUnit",
    "LinkedUnit",
    "ResourceUnit",
    "ScanUnit",
    "UnitResult",
]


@attrs.frozen
class ResourceUnit:
    """List one resource type in one account and region."""

    access: AwsAccess
    account: str
    region: str
    resource_type: str

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/{self.resource_type}"


@attrs.frozen
class _RegionUnit:
    """A listing of one account and region; `_LISTS` names what it lists (for messages)."""

    _LISTS: ClassVar[str]

    access: AwsAccess
    account: str
    region: str

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/{self._LISTS}"


@attrs.frozen
class KeyListUnit(_RegionUnit):
    """List the KMS keys of one account and region (`ListKeys`).

    The region's aliases (`AliasListUnit`) are listed at the same time, and its key tags
    (`KeyTagsUnit`) once the listing shows it has keys: three round trips in parallel or
    overlapping the keys' describes, not one after another.
    """

    _LISTS = "kms:keys"


@attrs.frozen
class AliasListUnit(_RegionUnit):
    """List the KMS aliases of one account and region (`ListAliases`)."""

    _LISTS = "kms:aliases"


@attrs.frozen
class KeyTagsUnit(_RegionUnit):
    """List the tags of every KMS key of one account and region in one `tag:GetResources`
    (`UnitResult.key_tags`; `None` when it was refused: each key's tags are then read with
    `kms:ListResourceTags`)."""

    _LISTS = "kms:tags"


@attrs.frozen
class KeyUnit:
    """Describe one key and read what applies to it (tags, rotation, policy, grants)."""

    access: AwsAccess
    account: str
    region: str
    key_arn: str
    aliases: tuple[str, ...] = ()
    tags: Mapping[str, str] | None = attrs.field(default=None, hash=False)
    """The key's tags from the region's tag listing; `None`: read them per key."""

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/kms:key {self.key_arn}"


@attrs.frozen
class KeyReadUnit:
    """One of a described customer-managed key's reads (tags, rotation, policy, grants)."""

    access: AwsAccess
    account: str
    region: str
    key_arn: str
    operation: str
    metadata: Mapping[str, Any] = attrs.field(hash=False)

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/kms:{self.operation} {self.key_arn}"


@attrs.frozen
class DescribeUnit:
    """Describe a key identifier no listing resolved (another account's key, a missing alias)."""

    access: AwsAccess
    account: str
    region: str
    reference: str

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/kms:describe {self.reference}"


@attrs.frozen
class LinkedUnit:
    """Read one linked resource's key (a secret's rotation Lambda), once per ARN and account.

    `resource_type` and `purpose` name the `LinkedKeySource`
    (of that `ResourceType`) that says what to call; `region` is the linked resource's own.
    """

    access: AwsAccess
    account: str
    region: str
    resource_type: str
    purpose: str
    arn: str

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/{self.purpose} {self.arn}"


ScanUnit = (
    ResourceUnit
    | KeyListUnit
    | AliasListUnit
    | KeyTagsUnit
    | KeyUnit
    | KeyReadUnit
    | DescribeUnit
    | LinkedUnit
)
"""Any unit `run_unit` accepts."""


@attrs.frozen
class UnitResult:
    """What a unit produced. `listing_failed`: the unit's main listing could not be read."""

    unit: ScanUnit
    resources: tuple[RawResource, ...] = ()
    key: KmsKey | None = None
    key_arns: tuple[KeyArn, ...] = ()
    aliases: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    aliases_failed: bool = False
    """The region's alias listing could not be read (`aliases` is then empty, not "none")."""
    errors: tuple[ScanError, ...] = ()
    listing_failed: bool = False
    denied_reason: str | None = None
    metadata: Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    value: Any = attrs.field(default=None, hash=False)
    key_tags: Mapping[str, Mapping[str, str]] | None = attrs.field(default=None, hash=False)

    @property
    def items(self) -> int:
        """How many things the unit found (resources, keys)."""
        return len(self.resources) + len(self.key_arns) + (1 if self.key else 0)
