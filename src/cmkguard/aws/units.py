"""Deprecated alias of `cmkguard.inventory.units` and `cmkguard.inventory.aws_units`.

The units moved to `cmkguard.inventory.units` and `run_unit` to `cmkguard.inventory.aws_units`
(kept here for one release). Nothing inside cmkguard imports this module.
"""

from __future__ import annotations

import warnings

from cmkguard.inventory.aws_units import run_unit as run_unit
from cmkguard.inventory.units import (
    DescribeUnit as DescribeUnit,
)
from cmkguard.inventory.units import (
    KeyListUnit as KeyListUnit,
)
from cmkguard.inventory.units import (
    KeyReadUnit as KeyReadUnit,
)
from cmkguard.inventory.units import (
    KeyUnit as KeyUnit,
)
from cmkguard.inventory.units import (
    LinkedUnit as LinkedUnit,
)
from cmkguard.inventory.units import (
    ResourceUnit as ResourceUnit,
)
from cmkguard.inventory.units import (
    ScanUnit as ScanUnit,
)
from cmkguard.inventory.units import (
    UnitResult as UnitResult,
)

__all__ = [
    "DescribeUnit",
    "KeyListUnit",
    "KeyReadUnit",
    "KeyUnit",
    "LinkedUnit",
    "ResourceUnit",
    "ScanUnit",
    "UnitResult",
    "run_unit",
]

warnings.warn(
    "cmkguard.aws.units is deprecated and will be removed in the next release: import from "
    "cmkguard.inventory.units (run_unit: cmkguard.inventory.aws_units)",
    DeprecationWarning,
    stacklevel=2,
)
