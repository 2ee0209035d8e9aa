"""Deprecated alias of `cmkguard.migrate.aws_ops` (moved there; kept for one release).

Import from `cmkguard.migrate.aws_ops` instead. Nothing inside cmkguard imports this module.
"""

from __future__ import annotations

import warnings

from cmkguard.migrate.aws_ops import CallFailed as CallFailed
from cmkguard.migrate.aws_ops import Clients as Clients
from cmkguard.migrate.aws_ops import call as call
from cmkguard.migrate.aws_ops import describe as describe
from cmkguard.migrate.aws_ops import generate_password as generate_password
from cmkguard.migrate.aws_ops import probe as probe
from cmkguard.migrate.aws_ops import resolve_key_arn as resolve_key_arn
from cmkguard.migrate.aws_ops import rewrite_secret_value as rewrite_secret_value
from cmkguard.migrate.aws_ops import wait as wait
from cmkguard.migrate.aws_ops import wire_log_muted as wire_log_muted

__all__ = [
    "CallFailed",
    "Clients",
    "call",
    "describe",
    "generate_password",
    "probe",
    "resolve_key_arn",
    "rewrite_secret_value",
    "wait",
    "wire_log_muted",
]

warnings.warn(
    "cmkguard.aws.migration_ops is deprecated and will be removed in the next release: "
    "import from cmkguard.migrate.aws_ops",
    DeprecationWarning,
    stacklevel=2,
)
