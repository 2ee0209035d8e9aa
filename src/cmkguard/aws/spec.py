"""Deprecated alias of `cmkguard.aws.access` (moved there; kept for one release).

Import from `cmkguard.aws.access` instead.
Nothing inside cmkguard imports this module.
"""

from __future__ import annotations

import warnings

from cmkguard.aws.access import (
    SessionSpec as SessionSpec,
)
from cmkguard.aws.access import (
    bind_session as bind_session,
)
from cmkguard.aws.access import (
    client_for as client_for,
)
from cmkguard.aws.access import (
    release_session as release_session,
)
from cmkguard.aws.access import (
    session_for as session_for,
)

__all__ = [
    "SessionSpec",
    "bind_session",
    "client_for",
    "release_session",
    "session_for",
]

warnings.warn(
    "cmkguard.aws.spec is deprecated and will be removed in the next release: "
    "import from cmkguard.aws.access",
    DeprecationWarning,
    stacklevel=2,
)
