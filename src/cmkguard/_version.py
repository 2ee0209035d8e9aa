"""The package version, in a leaf module: the CLI and reports read it without the facade."""

from __future__ import annotations

__version__ = "0.1.0.dev0"
