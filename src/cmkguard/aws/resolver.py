"""Deprecated alias of `cmkguard.inventory.resolve` (moved there; kept for one release).

Import from `cmkguard.inventory.resolve` instead.
Nothing inside cmkguard imports this module.
"""

from __future__ import annotations

import warnings

from cmkguard.inventory.resolve import (
    KeyResolver as KeyResolver,
)
from cmkguard.inventory.resolve import (
    Lookup as Lookup,
)
from cmkguard.inventory.resolve import (
    Resolved as Resolved,
)

__all__ = [
    "KeyResolver",
    "Lookup",
    "Resolved",
]

warnings.warn(
    "cmkguard.aws.resolver is deprecated and will be removed in the next release: "
    "import from cmkguard.inventory.resolve",
    DeprecationWarning,
    stacklevel=2,
)
