"""The append-only execution log of a real run: one JSON object per line (pure).

Every real `execute` run appends, next to its journal (`JsonFileJournal.log_path`):

* a `run-start` record: the plan fingerprint, who runs it (`caller`: the
  `sts:GetCallerIdentity` ARN), the process and host;
* for every step, a `step-start` record with the request (secret values redacted) and a
  `step-end` record with the outcome (`done`, `adopted`, `failed`), the identifiers AWS
  returned (never a whole response) and, on failure, the AWS error code and reason;
* a `run-end` record with the final state.

Each record has `time` (UTC, ISO 8601), `run` (a random id shared by the records of one run),
`event` and `plan`. Nothing secret reaches it: no secret value is ever in a plan or a response
the executor keeps, and fields named like a password or a secret value are replaced by
`"<redacted>"` all the same.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["LOG_SCHEMA_VERSION", "REDACTED", "ExecutionLog", "redact"]

LOG_SCHEMA_VERSION = 1
"""Version of the execution-log records (`schema_version` of `run-start`)."""

REDACTED = "<redacted>"
"""What a secret-looking field's value becomes in the execution log."""

_SECRET_NAME = re.compile(r"(?i)password|secretstring|secretbinary|secret_value|plaintext")


def redact(value: Any) -> Any:
    """`value` with every field named like a password or a secret value replaced."""
    if isinstance(value, Mapping):
        return {
            str(k): (REDACTED if _SECRET_NAME.search(str(k)) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class ExecutionLog:
    """Writes the records of one run through `sink` (a journal's `append_log`)."""

    def __init__(self, sink: Callable[[Mapping[str, Any]], None], plan_fingerprint: str) -> None:
        self._sink = sink
        self._plan = plan_fingerprint
        self.run_id = uuid.uuid4().hex

    def _write(self, event: str, **fields: Any) -> None:
        record = {
            "time": datetime.now(UTC).isoformat(),
            "run": self.run_id,
            "event": event,
            "plan": self._plan,
            **fields,
        }
        self._sink(redact(record))

    def run_start(self, *, caller: str, steps: int, done: int) -> None:
        """The run begins: who, where, how much is left."""
        self._write(
            "run-start",
            schema_version=LOG_SCHEMA_VERSION,
            caller=caller,
            pid=os.getpid(),
            host=socket.gethostname(),
            steps=steps,
            already_done=done,
        )

    def step_start(self, step_id: str, request: Mapping[str, Any]) -> None:
        """A step is about to run: its request as planned (redacted)."""
        self._write("step-start", step=step_id, request=dict(request))

    def step_end(
        self,
        step_id: str,
        outcome: str,
        *,
        response: Mapping[str, Any] | None = None,
        error_code: str | None = None,
        reason: str | None = None,
    ) -> None:
        """A step ended: outcome, the identifiers AWS returned, or the error."""
        fields: dict[str, Any] = {"step": step_id, "outcome": outcome}
        if response:
            fields["response"] = dict(response)
        if error_code or reason:
            fields["error"] = {"code": error_code, "reason": reason}
        self._write("step-end", **fields)

    def run_end(self, state: str) -> None:
        """The run ended (completed or failed; a crash leaves no run-end record)."""
        self._write("run-end", state=state)
