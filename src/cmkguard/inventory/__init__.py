"""The scan capability: `scan()` and the values an inventory is made of.

Modules (see docs/architecture.md):

* `values`: the frozen values (`Inventory`, `EncryptedResource`, `KmsKey`, `KeyUse`, `Grant`,
  `RotationStatus`, `ScanError`, `KeyClass`) and their JSON form;
* `resolve`: pure key resolution (identifier -> key ARN and class) from what the scan read;
* `units`: the plain-data units of work a scan fans out over an executor;
* `progress`: `ScanEvent`, what the `progress` callback of `scan()` receives;
* `aws_kms`, `aws_units`: the AWS edge (the only modules here that call AWS);
* `scanner`: the coordinator behind `scan()`.
"""

from cmkguard.inventory.progress import (
    NullProgress,
    ScanEvent,
    ScanEventKind,
    ScanProgress,
)
from cmkguard.inventory.scanner import (
    DEFAULT_MAX_WORKERS,
    scan,
)
from cmkguard.inventory.units import (
    AliasListUnit,
    DescribeUnit,
    KeyListUnit,
    KeyReadUnit,
    KeyTagsUnit,
    KeyUnit,
    LinkedUnit,
    ResourceUnit,
    ScanUnit,
    UnitResult,
)
from cmkguard.inventory.values import (
    INVENTORY_SCHEMA_VERSION,
    EncryptedResource,
    Grant,
    Inventory,
    KeyClass,
    KeyUse,
    KmsKey,
    OrgScope,
    RotationStatus,
    ScanError,
)

__all__ = [  # noqa: RUF022 - plain sorted() order (tests/test_exported_members.py)
    "AliasListUnit",
    "DEFAULT_MAX_WORKERS",
    "DescribeUnit",
    "EncryptedResource",
    "Grant",
    "INVENTORY_SCHEMA_VERSION",
    "Inventory",
    "KeyClass",
    "KeyListUnit",
    "KeyReadUnit",
    "KeyTagsUnit",
    "KeyUnit",
    "KeyUse",
    "KmsKey",
    "LinkedUnit",
    "NullProgress",
    "OrgScope",
    "ResourceUnit",
    "RotationStatus",
    "ScanError",
    "ScanEvent",
    "ScanEventKind",
    "ScanProgress",
    "ScanUnit",
    "UnitResult",
    "scan",
]
