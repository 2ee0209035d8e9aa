"""Deprecated alias of `cmkguard.aws.access` (moved there; kept for one release).

`SessionSpec` is now `cmkguard.aws.AccessSpec`, the description of an `AwsAccess`; the
process-wide helpers `bind_session`, `release_session`, `session_for` and `client_for` are
gone (an `AwsAccess` holds its sessions and clients). Nothing inside cmkguard imports this module.
"""

from __future__ import annotations

import warnings

from cmkguard.aws.access import AccessSpec as AccessSpec
from cmkguard.aws.access import AwsAccess as AwsAccess
from cmkguard.aws.access import SessionSpec as SessionSpec

__all__ = ["AccessSpec", "AwsAccess", "SessionSpec"]

warnings.warn(
    "cmkguard.aws.spec is deprecated and will be removed in the next release: "
    "import from cmkguard.aws.access (SessionSpec is now cmkguard.aws.AccessSpec)",
    DeprecationWarning,
    stacklevel=2,
)
