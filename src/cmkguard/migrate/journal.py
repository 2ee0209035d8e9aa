"""Where an execution records its progress, so that it resumes after a crash or Ctrl-C.

A journal stores one JSON-able document: the plan fingerprint, the completed steps (id, whether
it was run or adopted, when, and non-secret outputs), the step in progress and the last failure.
`JsonFileJournal` keeps it in a file written atomically (temp file + `os.replace`), so a crash
mid-write leaves the previous, consistent document. Bots implement `Journal` to keep it in
DynamoDB, S3, a database...

Two optional methods make a journal safer, and both built-in journals have them:

* `lock()`: a context manager held for a whole real run; it raises `JournalLockedError` when
  another runner holds it. `JsonFileJournal` takes an exclusive OS lock (`flock`) on
  `<journal>.lock`, which the OS releases when the process exits or crashes; threads of one
  process are refused too (each run opens its own lock file description).
* `append_log(record)`: the append-only execution log of every real run (JSON lines, see
  `cmkguard.migrate.executor`). `JsonFileJournal` writes `<journal stem>.log.jsonl` next to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cmkguard.errors import JournalFormatError, JournalLockedError

__all__ = [
    "JOURNAL_SCHEMA_VERSION",
    "Journal",
    "JsonFileJournal",
    "MemoryJournal",
    "check_document",
]

JOURNAL_SCHEMA_VERSION = 2
"""Version of the journal document (2: the plan fingerprint covers the whole plan)."""


@runtime_checkable
class Journal(Protocol):
    """Storage of one execution's progress document.

    `read` returns the last document written (`None` if there is none yet); `write` replaces it
    *atomically*: a reader never sees half a document. See the module docstring for the optional
    `lock()` and `append_log(record)`.
    """

    def read(self) -> Mapping[str, Any] | None:
        """The stored document, or `None`."""
        ...

    def write(self, document: Mapping[str, Any]) -> None:
        """Replace the stored document atomically."""
        ...


def check_document(document: Any, where: str) -> dict[str, Any]:
    """`document` if it has a journal's shape; `JournalFormatError` naming what is wrong."""

    def wrong(what: str) -> JournalFormatError:
        return JournalFormatError(f"{where} is not a cmkguard journal: {what}")

    if not isinstance(document, Mapping):
        raise wrong("not a JSON object")
    if not isinstance(document.get("plan_fingerprint"), str):
        raise wrong("no plan_fingerprint")
    version = document.get("schema_version", 1)
    if version not in (1, JOURNAL_SCHEMA_VERSION) or isinstance(version, bool):
        raise wrong(f"unsupported schema_version {version!r}")
    steps = document.get("steps", {})
    if not isinstance(steps, Mapping):
        raise wrong(f'"steps" must be an object of step id -> record, not {type(steps).__name__}')
    for step_id, record in steps.items():
        if not isinstance(record, Mapping) or not isinstance(record.get("status"), str):
            raise wrong(f"step {step_id!r} has no status record")
    for field in ("in_progress", "failure"):
        value = document.get(field)
        if value is not None and not isinstance(value, Mapping):
            raise wrong(f'"{field}" must be an object or null')
    return {**document, "steps": dict(steps)}


class JsonFileJournal:
    """A `Journal` in a JSON file (the default; `execute(journal="path.json")`).

    The directory must exist: a journal path in a missing directory is a `JournalFormatError`
    (a typo would otherwise scatter journals), raised before anything is sent.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"JsonFileJournal({str(self.path)!r})"

    @property
    def lock_path(self) -> Path:
        """The file `lock()` holds an OS lock on (left in place: removing it would race)."""
        return self.path.with_name(self.path.name + ".lock")

    @property
    def log_path(self) -> Path:
        """The append-only execution log next to the journal (`j.json` -> `j.log.jsonl`)."""
        return self.path.with_name(self.path.stem + ".log.jsonl")

    def read(self) -> Mapping[str, Any] | None:
        """The document in the file; `None` if the file does not exist.

        A file that is not a journal (corrupt, binary, another JSON) raises
        `JournalFormatError` (a `ValueError`): resuming from it would guess, and the CLI
        reports it as bad input.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise JournalFormatError(f"{self.path} is not a cmkguard journal: {reason}") from None
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise JournalFormatError(f"{self.path} is not a cmkguard journal: {reason}") from None
        if not isinstance(data, dict):
            raise JournalFormatError(f"{self.path} is not a cmkguard journal: not a JSON object")
        return data

    def _directory(self) -> Path:
        directory = self.path.parent if str(self.path.parent) else Path(".")
        if not directory.is_dir():
            raise JournalFormatError(
                f"cannot keep the journal {self.path}: directory {directory} does not exist"
            )
        return directory

    def write(self, document: Mapping[str, Any]) -> None:
        """Write to a temp file in the same directory, fsync, then `os.replace` it."""
        directory = self._directory()
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise JournalFormatError(f"cannot write the journal {self.path}: {exc}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise JournalFormatError(f"cannot write the journal {self.path}: {exc}") from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive OS lock on `lock_path` for the block (see the module docstring)."""
        self._directory()
        try:
            handle = open(self.lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held open
        except OSError as exc:
            raise JournalFormatError(f"cannot lock the journal {self.path}: {exc}") from None
        try:
            if not _try_lock(handle):
                handle.seek(0)
                holder = handle.read().strip() or "another runner"
                raise JournalLockedError(
                    f"{self.path} is being executed by {holder}: wait for that run to end "
                    "(a crashed run releases the lock by itself), then run again to resume"
                )
            handle.seek(0)
            handle.truncate()
            handle.write(f"process {os.getpid()} on {socket.gethostname()}")
            handle.flush()
            yield
        finally:
            handle.close()  # closing the last descriptor releases the lock

    def append_log(self, record: Mapping[str, Any]) -> None:
        """Append one JSON line to `log_path` and flush it to disk (append-only)."""
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        try:
            with open(self.log_path, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise JournalFormatError(f"cannot append to {self.log_path}: {exc}") from None


def _try_lock(handle: Any) -> bool:
    """Take an exclusive, non-blocking lock on the open file; False if someone holds it.

    `flock` (not `lockf`): its locks belong to the open file description, so two runs in one
    process conflict as two processes do, and the OS drops it when the process dies.
    """
    if sys.platform == "win32":  # pragma: no cover - not run on CI
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class MemoryJournal:
    """A `Journal` in memory (tests, notebooks; lost with the process).

    Its lock refuses a second run from another thread; its execution log is `log_records`.
    """

    def __init__(self) -> None:
        self._document: str | None = None
        self._lock = threading.Lock()
        self.log_records: list[dict[str, Any]] = []

    def read(self) -> Mapping[str, Any] | None:
        """A copy of the stored document, or `None`."""
        if self._document is None:
            return None
        data: dict[str, Any] = json.loads(self._document)
        return data

    def write(self, document: Mapping[str, Any]) -> None:
        """Store a serialised copy (so later changes to `document` do not leak in)."""
        self._document = json.dumps(document)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Refuse a second run while one holds this journal (`JournalLockedError`)."""
        if not self._lock.acquire(blocking=False):
            raise JournalLockedError("this journal is being executed by another thread")
        try:
            yield
        finally:
            self._lock.release()

    def append_log(self, record: Mapping[str, Any]) -> None:
        """Keep a copy of one execution-log record."""
        self.log_records.append(json.loads(json.dumps(record, default=str)))
