"""Deprecated alias of `cmkguard.inventory.aws_kms` (moved there; kept for one release).

Import from `cmkguard.inventory.aws_kms` instead.
Nothing inside cmkguard imports this module.
"""

from __future__ import annotations

import warnings

from cmkguard.inventory.aws_kms import (
    AWS_MANAGED_ROTATION as AWS_MANAGED_ROTATION,
)
from cmkguard.inventory.aws_kms import (
    KEY_READS as KEY_READS,
)
from cmkguard.inventory.aws_kms import (
    assemble_key as assemble_key,
)
from cmkguard.inventory.aws_kms import (
    describe_key as describe_key,
)
from cmkguard.inventory.aws_kms import (
    key_from_metadata as key_from_metadata,
)
from cmkguard.inventory.aws_kms import (
    list_aliases as list_aliases,
)
from cmkguard.inventory.aws_kms import (
    list_key_arns as list_key_arns,
)
from cmkguard.inventory.aws_kms import (
    list_key_tags as list_key_tags,
)
from cmkguard.inventory.aws_kms import (
    newest_rotation as newest_rotation,
)
from cmkguard.inventory.aws_kms import (
    read_key as read_key,
)
from cmkguard.inventory.aws_kms import (
    read_one as read_one,
)
from cmkguard.inventory.aws_kms import (
    rotation_applies as rotation_applies,
)

__all__ = [
    "AWS_MANAGED_ROTATION",
    "KEY_READS",
    "assemble_key",
    "describe_key",
    "key_from_metadata",
    "list_aliases",
    "list_key_arns",
    "list_key_tags",
    "newest_rotation",
    "read_key",
    "read_one",
    "rotation_applies",
]

warnings.warn(
    "cmkguard.aws.kms is deprecated and will be removed in the next release: "
    "import from cmkguard.inventory.aws_kms",
    DeprecationWarning,
    stacklevel=2,
)
