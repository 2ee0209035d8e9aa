"""moto, imported on demand: the one loader the emulator's server-side modules share.

A module of its own so that `_moto` (the emulator's realism) and `_org_moto` (the emulated
organisation) can both use it without importing each other at load time.
"""

from __future__ import annotations

import importlib
from typing import Any

from cmkguard.errors import MissingExtraError

__all__ = ["moto_module"]


def moto_module(name: str) -> Any:
    """Import `moto.<name>`; raise `MissingExtraError` if moto is not installed."""
    try:
        return importlib.import_module(f"moto.{name}" if name else "moto")
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] in {"moto", "werkzeug", "flask"}:
            raise MissingExtraError("moto", "demo") from exc
        raise
