"""Where an execution records its progress, so that it resumes after a crash or Ctrl-C.

A journal stores one JSON-able document: the plan fingerprint, the completed steps (id, whether
it was run or adopted, when, and non-secret outputs), the step in progress and the last failure.
:class:`JsonFileJournal` keeps it in a file written atomically (temp file + ``os.replace``), so a
crash mid-write leaves the previous, consistent document. Bots implement :class:`Journal` to keep
it in DynamoDB, S3, a database...
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cmkguard.errors import ConfigurationError

__all__ = ["JOURNAL_SCHEMA_VERSION", "Journal", "JsonFileJournal", "MemoryJournal"]

JOURNAL_SCHEMA_VERSION = 1
"""Version of the journal document."""


@runtime_checkable
class Journal(Protocol):
    """Storage of one execution's progress document.

    ``read`` returns the last document written (``None`` if there is none yet); ``write``
    replaces it *atomically*: a reader never sees half a document.
    """

    def read(self) -> Mapping[str, Any] | None:
        """The stored document, or ``None``."""
        ...

    def write(self, document: Mapping[str, Any]) -> None:
        """Replace the stored document atomically."""
        ...


class JsonFileJournal:
    """A :class:`Journal` in a JSON file (the default; ``execute(journal="path.json")``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"JsonFileJournal({str(self.path)!r})"

    def read(self) -> Mapping[str, Any] | None:
        """The document in the file; ``None`` if the file does not exist.

        A file that is not a journal (corrupt, binary, another JSON) raises
        :class:`~cmkguard.errors.ConfigurationError` (a ``ValueError``): resuming from it would
        guess, and the CLI reports it as bad input.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigurationError(f"{self.path} is not a cmkguard journal: {reason}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigurationError(f"{self.path} is not a cmkguard journal: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"{self.path} is not a cmkguard journal: not a JSON object")
        return data

    def write(self, document: Mapping[str, Any]) -> None:
        """Write to a temp file in the same directory, fsync, then ``os.replace`` it."""
        directory = self.path.parent if str(self.path.parent) else Path(".")
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class MemoryJournal:
    """A :class:`Journal` in memory (tests, notebooks; lost with the process)."""

    def __init__(self) -> None:
        self._document: str | None = None

    def read(self) -> Mapping[str, Any] | None:
        """A copy of the stored document, or ``None``."""
        if self._document is None:
            return None
        data: dict[str, Any] = json.loads(self._document)
        return data

    def write(self, document: Mapping[str, Any]) -> None:
        """Store a serialised copy (so later changes to ``document`` do not leak in)."""
        self._document = json.dumps(document)
