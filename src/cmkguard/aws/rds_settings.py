"""Deprecated alias of `cmkguard.migrate.aws_settings` (moved there; kept for one release).

Import `capture_settings` from `cmkguard.migrate` (or `cmkguard`) instead. Nothing inside
cmkguard imports this module.
"""

from __future__ import annotations

import warnings

from cmkguard.migrate.aws_settings import capture_cluster_settings as capture_cluster_settings
from cmkguard.migrate.aws_settings import capture_instance_settings as capture_instance_settings
from cmkguard.migrate.aws_settings import capture_settings as capture_settings
from cmkguard.migrate.aws_settings import json_safe as json_safe

__all__ = [
    "capture_cluster_settings",
    "capture_instance_settings",
    "capture_settings",
    "json_safe",
]

warnings.warn(
    "cmkguard.aws.rds_settings is deprecated and will be removed in the next release: "
    "import from cmkguard.migrate.aws_settings (capture_settings: from cmkguard.migrate)",
    DeprecationWarning,
    stacklevel=2,
)
