"""Deprecated alias of `cmkguard.inventory.values` (moved there; kept for one release).

Import from `cmkguard.inventory.values` instead
(or from `cmkguard` / `cmkguard.inventory`).
Nothing inside cmkguard imports this module.
"""

from __future__ import annotations

import warnings

from cmkguard.inventory.values import (
    INVENTORY_SCHEMA_VERSION as INVENTORY_SCHEMA_VERSION,
)
from cmkguard.inventory.values import (
    EncryptedResource as EncryptedResource,
)
from cmkguard.inventory.values import (
    Grant as Grant,
)
from cmkguard.inventory.values import (
    Inventory as Inventory,
)
from cmkguard.inventory.values import (
    KeyClass as KeyClass,
)
from cmkguard.inventory.values import (
    KeyUse as KeyUse,
)
from cmkguard.inventory.values import (
    KmsKey as KmsKey,
)
from cmkguard.inventory.values import (
    RotationStatus as RotationStatus,
)
from cmkguard.inventory.values import (
    ScanError as ScanError,
)

__all__ = [
    "INVENTORY_SCHEMA_VERSION",
    "EncryptedResource",
    "Grant",
    "Inventory",
    "KeyClass",
    "KeyUse",
    "KmsKey",
    "RotationStatus",
    "ScanError",
]

warnings.warn(
    "cmkguard.models is deprecated and will be removed in the next release: "
    "import from cmkguard.inventory.values",
    DeprecationWarning,
    stacklevel=2,
)
