"""The resource-type registry: one module per service, each declaring its `ResourceType`s.

Every public module in this package that defines `RESOURCE_TYPES` is registered on first use,
so adding a service (EBS, S3, DynamoDB...) is one new module: see `docs/resource-types.md`.

>>> from cmkguard.resources import get_resource_type
>>> get_resource_type("rds:db-instance").operation
'DescribeDBInstances'
"""

from cmkguard.resources._registry import get_resource_type, registry, resolve_resource_types
from cmkguard.resources.base import (
    STORAGE,
    KeyRef,
    LinkedKeySource,
    RawResource,
    ResourceType,
    compact,
    tags_from_pairs,
)

__all__ = [  # noqa: RUF022 - plain sorted() order (tests/test_exported_members.py)
    "KeyRef",
    "LinkedKeySource",
    "RawResource",
    "ResourceType",
    "STORAGE",
    "compact",
    "get_resource_type",
    "registry",
    "resolve_resource_types",
    "tags_from_pairs",
]
