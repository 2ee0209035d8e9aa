"""moto, imported on demand: the one loader the emulator's server-side modules share.

A module of its own so that `_moto` (the emulator's realism) and `_org_moto` (the emulated
organisation) can both use it without importing each other at load time.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from cmkguard.errors import ConfigurationError, MissingExtraError

__all__ = ["MOTO_SUPPORTED", "check_moto_version", "moto_module"]

MOTO_SUPPORTED = ((5, 2, 5), (6, 0, 0))
"""The moto versions the emulator's server-side fixes were written for: from the first, up to
(not including) the second; the `demo` extra pins the same range."""

_checked = False


def _release(version: str) -> tuple[int, int, int]:
    padded = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3]] + [0, 0, 0]
    return padded[0], padded[1], padded[2]


def check_moto_version(version: str) -> None:
    """Raise `ConfigurationError` when `version` is outside `MOTO_SUPPORTED`.

    The emulator patches moto's backends (AWS-managed keys, RDS storage encryption types...):
    against another moto they may silently stop applying, and tests would then pass or fail
    for the wrong reason, so an unsupported moto is refused with the fix rather than trusted.
    """
    low, high = MOTO_SUPPORTED
    if not low <= _release(version) < high:
        wanted = f">={'.'.join(map(str, low))},<{high[0]}"
        raise ConfigurationError(
            f"cmkguard.testing needs moto{wanted} (its emulator fixes were written for that "
            f"range), but moto {version} is installed: pip install 'moto[server]{wanted}'"
        )


def moto_module(name: str) -> Any:
    """Import `moto.<name>`; raise `MissingExtraError` if moto is not installed and
    `ConfigurationError` if it is a version the emulator was not written for."""
    global _checked
    try:
        module = importlib.import_module(f"moto.{name}" if name else "moto")
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] in {"moto", "werkzeug", "flask"}:
            raise MissingExtraError("moto", "demo") from exc
        raise
    if not _checked:
        check_moto_version(str(importlib.import_module("moto").__version__))
        _checked = True
    return module
