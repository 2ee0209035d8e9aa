"""execute: run a MigrationPlan step by step, journaled, resumable, dry run by default.

Guarantees:

* **Dry run by default**: `dry_run=True` sends nothing (not even describes) and reports the
  exact requests a real run would send, in order. A dry run of a blocked plan says so
  (`state == "blocked"`, the blocking items in `ExecutionReport.blocking`).
* **What was reviewed is what runs**: the plan's fingerprint covers everything that decides what
  runs; with `signing_key`, only plans signed with that key run (`MigrationPlan.sign`).
* **Journal first**: a step is recorded as complete only after AWS accepted it (and, for waits
  and verifications, after the state was confirmed). The step in progress is recorded before it
  starts, so a crash between a call and its journal entry is recognised on resume: the step's
  effect is *probed* (the snapshot, instance or rename already exists) and adopted instead of
  being repeated or failing.
* **One runner per journal**: a real run holds the journal's lock for its whole length
  (`JournalLockedError` for a second runner, thread or process) and never overwrites a journal
  that changed under it; a journal written for another plan is refused with
  `JournalMismatchError`.
* **An audit trail**: every real run appends to the journal's execution log (see
  `cmkguard.migrate.execution_log`), and logs to the `cmkguard.migrate` logger (silent unless
  the application configures logging).
* **Failures are data**: a failing step ends the run with `state == "failed"` naming the step
  and the AWS error; the journal keeps every completed step, so the same call resumes.
  `ExecutionReport.raise_for_failure` turns it into `StepFailedError`.
* Sources are only read before the `cutover` phase (the plan is built that way, and the
  executor refuses a plan whose pre-cutover steps would modify or delete a source).
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import os
import re
import socket
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from cmkguard.aws.errormap import CALL_ERRORS, failure
from cmkguard.errors import (
    ConfigurationError,
    JournalLockedError,
    JournalMismatchError,
    PlanIntegrityError,
    PreflightError,
    StepFailedError,
)
from cmkguard.migrate import _settings as st
from cmkguard.migrate import aws_guardrails as guardrail_ops
from cmkguard.migrate import aws_ops as ops
from cmkguard.migrate.execution_log import ExecutionLog
from cmkguard.migrate.journal import (
    JOURNAL_SCHEMA_VERSION,
    Journal,
    JsonFileJournal,
    check_document,
)
from cmkguard.migrate.model import (
    GENERATED_PASSWORD,
    MigrationPlan,
    MigrationStep,
    PreflightItem,
    StepKind,
    StepPhase,
)

if TYPE_CHECKING:
    import boto3  # noqa: TID251 - type only

__all__ = [
    "ExecutionReport",
    "ProgressEvent",
    "RunState",
    "StepResult",
    "StepStatus",
    "WaiterSettings",
    "execute",
]

_log = logging.getLogger("cmkguard.migrate")
_log.addHandler(logging.NullHandler())  # silent unless the application configures logging

# Operations that change or delete a resource: before cutover none may name a source.
_MUTATING_PREFIXES = ("Modify", "Delete", "Update", "Put", "Remove", "Stop", "Reboot")


class StepStatus(enum.StrEnum):
    """What happened to a step (`StepResult.status`, `ProgressEvent.status`)."""

    START = "start"
    """About to run (progress events only)."""
    WAITING = "waiting"
    """A waiter polled and the resource is not ready yet (progress events only)."""
    DONE = "done"
    """Run now."""
    ADOPTED = "adopted"
    """Its effect already existed: resumed after a crash."""
    SKIPPED = "skipped"
    """Completed in an earlier run, per the journal."""
    WOULD_RUN = "would-run"
    """Dry run."""
    FAILED = "failed"
    PENDING = "pending"
    """Not reached."""


class RunState(enum.StrEnum):
    """How a run ended (`ExecutionReport.state`)."""

    DRY_RUN = "dry-run"
    BLOCKED = "blocked"
    """A dry run of a plan with blocking pre-flight items (a real run raises `PreflightError`)."""
    COMPLETED = "completed"
    FAILED = "failed"


@attrs.frozen
class WaiterSettings:
    """How waiters poll. Production defaults: every 30 s, up to 2 hours for a restore.

    Tests pass tiny values (`WaiterSettings(delay=0, max_attempts=3)`).
    """

    delay: float = 30.0
    max_attempts: int = 240


@attrs.frozen
class StepResult:
    """What happened to one step: its `StepStatus`, a detail, and (dry run) the request."""

    step_id: str
    status: StepStatus = attrs.field(converter=StepStatus)
    detail: str = ""
    request: str = ""


@attrs.frozen
class ProgressEvent:
    """Passed to the `progress` hook before (`start`) and after each step, and per wait poll.

    For `waiting` events `attempt` is the poll number and `waited_s` the seconds waited so far.
    """

    step: MigrationStep
    index: int
    total: int
    status: StepStatus = attrs.field(converter=StepStatus)
    detail: str = ""
    attempt: int = 0
    waited_s: float = 0.0


@attrs.frozen
class ExecutionReport:
    """The outcome of `execute`.

    `state` is a `RunState`: `dry-run`, `blocked` (a dry run of a plan that cannot run),
    `completed` or `failed`. `failed_step` and `error` say where and why; the journal allows
    resuming with the same call. `rollback_plan` reverses the cutover (`None` when the plan
    has none). `log_run_id` is the run's id in the execution log (real runs).
    """

    plan_fingerprint: str
    dry_run: bool
    state: RunState = attrs.field(converter=RunState)
    results: tuple[StepResult, ...]
    failed_step: str | None = None
    error: str | None = None
    error_code: str | None = None
    rollback_plan: MigrationPlan | None = None
    blocking: tuple[PreflightItem, ...] = ()
    log_run_id: str | None = None

    @property
    def completed(self) -> bool:
        """Whether every step is complete (a real run that finished)."""
        return self.state is RunState.COMPLETED

    def requests(self) -> list[str]:
        """The requests a dry run would send (`service.Operation({...})`), in order."""
        return [r.request for r in self.results if r.status is StepStatus.WOULD_RUN]

    def raise_for_failure(self) -> None:
        """Raise `StepFailedError` if the run failed."""
        if self.state is RunState.FAILED:
            raise StepFailedError(self.failed_step or "?", self.error or "unknown error")

    def summary(self) -> str:
        """One line per outcome, without the step list (the CLI shows progress instead)."""
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        tally = ", ".join(f"{n} {status}" for status, n in counts.items())
        lines = [f"execution {self.state} (plan {self.plan_fingerprint[:12]}): {tally}"]
        lines.extend(self._tail())
        return "\n".join(lines)

    def _tail(self) -> list[str]:
        lines = []
        if self.state is RunState.BLOCKED:
            lines.append(f"BLOCKED: {_blocking_text(self.blocking)}")
        if self.failed_step:
            lines.append(f"FAILED at {self.failed_step}: {self.error}")
            lines.append("fix the cause and run again with the same journal to resume")
        return lines

    def __str__(self) -> str:
        lines = [f"execution {self.state} (plan {self.plan_fingerprint[:12]})"]
        for r in self.results:
            tail = f": {r.detail}" if r.detail else ""
            lines.append(f"  [{r.status:>9}] {r.step_id}{tail}")
            if r.request and r.status is StepStatus.WOULD_RUN:
                lines.append(f"              {r.request}")
        lines.extend(self._tail())
        return "\n".join(lines)


def _blocking_text(items: tuple[PreflightItem, ...]) -> str:
    shown = "; ".join(f"{i.check}: {i.message} ({i.subject})" for i in items)
    return f"{len(items)} blocking pre-flight item(s): {shown}"


class _StepError(Exception):
    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def _now() -> str:
    return datetime.now(UTC).isoformat()


def execute(
    plan: MigrationPlan,
    session: boto3.Session,
    *,
    journal: Journal | str | os.PathLike[str],
    dry_run: bool = True,
    progress: Callable[[ProgressEvent], None] | None = None,
    waiter_config: WaiterSettings | None = None,
    signing_key: str | bytes | None = None,
) -> ExecutionReport:
    """Run `plan` against AWS through `session`, recording progress in `journal`.

    Args:
        plan: From `cmkguard.plan_migration` (or `MigrationPlan.from_json`).
        session: A `boto3.Session` with the permissions the steps need.
        journal: A `Journal` or a path for a `JsonFileJournal` (its directory must exist).
            Running again with the same journal resumes after the last completed step.
        dry_run: Send nothing; report the requests a real run would send. The default.
        progress: Called with a `ProgressEvent` before and after every step and per wait poll.
        waiter_config: Waiter polling (`WaiterSettings`; production defaults).
        signing_key: When given, only a plan signed with this key (`MigrationPlan.sign`) runs,
            dry runs included: a bot can require that a reviewer approved the plan.

    Raises:
        ConfigurationError: Not a plan, no journal, or a journal that cannot be kept.
        PlanIntegrityError: A required signature is missing or wrong, or a real run of a
            schema-1 plan (its fingerprint did not cover the whole plan: make it again).
        PreflightError: A real run of a plan with blocking pre-flight items.
        JournalMismatchError: The journal belongs to a different plan.
        JournalLockedError: Another runner is executing the same journal.
        JournalFormatError: The journal is not a cmkguard journal.
    """
    store = _journal(journal)
    if not isinstance(plan, MigrationPlan):
        raise ConfigurationError(f"execute needs a MigrationPlan, not {type(plan).__name__}")
    waiters = waiter_config or WaiterSettings()
    _check_signature(plan, signing_key)
    _check_plan_is_safe(plan)
    if dry_run:
        return _dry_run(plan, store, progress)
    if plan.legacy_fingerprint:
        raise PlanIntegrityError(
            "this plan was written by an older cmkguard whose fingerprint covered the steps "
            "only: make it again (the same resources give the same steps) before running it"
        )
    if plan.blocking:
        raise PreflightError(f"the plan has {_blocking_text(plan.blocking)}")
    with _locked(store):
        return _Run(plan, store, session, progress, waiters).run()


def _journal(journal: Any) -> Journal:
    if isinstance(journal, str | os.PathLike):
        return JsonFileJournal(os.fspath(journal))
    if isinstance(journal, Journal):
        return journal
    raise ConfigurationError(
        "execute needs a journal: a path (JSON file) or a Journal object "
        f"(got {type(journal).__name__}); it is what makes a run resumable"
    )


def _check_signature(plan: MigrationPlan, key: str | bytes | None) -> None:
    if key is None:
        return
    if not plan.signature:
        raise PlanIntegrityError("the plan is not signed, and a signature is required")
    if not plan.signature_valid(key):
        raise PlanIntegrityError(
            "the plan's signature does not match its contents with the given key: it was "
            "edited after it was signed, or signed with another key"
        )


@contextlib.contextmanager
def _locked(store: Journal) -> Iterator[None]:
    lock = getattr(store, "lock", None)
    if lock is None:
        yield
        return
    with lock():
        yield


def _dry_run(
    plan: MigrationPlan, store: Journal, progress: Callable[[ProgressEvent], None] | None
) -> ExecutionReport:
    document = _load(store, plan)
    done: Mapping[str, Any] = document["steps"]
    results: list[StepResult] = []
    total = len(plan.steps)
    for index, step in enumerate(plan.steps, start=1):
        if step.id in done:
            results.append(StepResult(step.id, StepStatus.SKIPPED, "completed in an earlier run"))
            continue
        results.append(
            StepResult(step.id, StepStatus.WOULD_RUN, step.description, request=_dry_request(step))
        )
        if progress is not None:
            progress(ProgressEvent(step, index, total, StepStatus.WOULD_RUN))
    return ExecutionReport(
        plan.fingerprint,
        True,
        RunState.BLOCKED if plan.blocking else RunState.DRY_RUN,
        tuple(results),
        rollback_plan=plan.rollback_plan(),
        blocking=plan.blocking,
    )


class _Run:
    """One real run: holds the journal document, the clients and the execution log."""

    def __init__(
        self,
        plan: MigrationPlan,
        store: Journal,
        session: boto3.Session,
        progress: Callable[[ProgressEvent], None] | None,
        waiters: WaiterSettings,
    ) -> None:
        self.plan = plan
        self.store = store
        self.notify = progress or (lambda _event: None)
        self.waiters = waiters
        self.clients = ops.Clients(session)
        self.document = _load(store, plan)
        self.done: dict[str, Any] = self.document["steps"]
        self._written: Mapping[str, Any] | None = store.read()
        sink = getattr(store, "append_log", None)
        self.log = ExecutionLog(sink, plan.fingerprint) if sink is not None else None

    def write(self) -> None:
        """Write the document, unless another runner changed the journal meanwhile."""
        current = self.store.read()
        if current is not None and self._written is not None and current != self._written:
            raise JournalLockedError(
                "the journal changed under this run (another runner wrote it): stopping "
                "without overwriting its progress"
            )
        if current is not None and self._written is None:
            raise JournalLockedError("another runner started this journal during the run")
        self.store.write(self.document)
        self._written = json.loads(json.dumps(self.document))

    def run(self) -> ExecutionReport:
        region = self.plan.steps[0].region if self.plan.steps else "us-east-1"
        if self.log is not None:
            caller = ops.caller_identity(self.clients, region)
            self.log.run_start(caller=caller, steps=len(self.plan.steps), done=len(self.done))
        _log.info("executing plan %s (%d steps)", self.plan.fingerprint[:12], len(self.plan.steps))
        results: list[StepResult] = []
        for index, step in enumerate(self.plan.steps, start=1):
            if step.id in self.done:
                results.append(
                    StepResult(step.id, StepStatus.SKIPPED, "completed in an earlier run")
                )
                continue
            failed = self._step(step, index, results)
            if failed is not None:
                return failed
        if self.log is not None:
            self.log.run_end(RunState.COMPLETED)
        _log.info("plan %s completed", self.plan.fingerprint[:12])
        return ExecutionReport(
            self.plan.fingerprint,
            False,
            RunState.COMPLETED,
            tuple(results),
            rollback_plan=self.plan.rollback_plan(),
            log_run_id=self.log.run_id if self.log else None,
        )

    def _step(
        self, step: MigrationStep, index: int, results: list[StepResult]
    ) -> ExecutionReport | None:
        total = len(self.plan.steps)
        self.notify(ProgressEvent(step, index, total, StepStatus.START))
        self.document["in_progress"] = {
            "step": step.id,
            "started_at": _now(),
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        self.write()
        if self.log is not None:
            self.log.step_start(step.id, _logged_request(step))
        _log.info("step %s: %s", step.id, step.description)
        _log.debug("step %s request: %s", step.id, _dry_request(step))

        def on_poll(attempt: int, waited: float) -> None:
            if attempt > 1:
                detail = f"waiting for {_waited_on(step)} (poll {attempt}, {waited:.0f}s)"
                self.notify(
                    ProgressEvent(step, index, total, StepStatus.WAITING, detail, attempt, waited)
                )

        try:
            adopted, detail, output = _run_step(step, self.clients, self.waiters, on_poll)
        except (_StepError, ops.CallFailed) as exc:
            return self._failed(step, index, results, exc.reason, exc.code)
        except CALL_ERRORS as exc:
            # An answer botocore cannot read (garbled or truncated bytes, a proxy's page)
            # raises outside ClientError/BotoCoreError: a failed step, resumable, not a crash.
            code, reason = failure(exc)
            return self._failed(step, index, results, reason, code)
        status = StepStatus.ADOPTED if adopted else StepStatus.DONE
        self.done[step.id] = {"status": status, "finished_at": _now(), "output": output}
        self.document["in_progress"] = None
        self.document["failure"] = None
        self.write()
        if self.log is not None:
            self.log.step_end(step.id, status, response=output)
        _log.info("step %s %s", step.id, status)
        results.append(StepResult(step.id, status, detail))
        self.notify(ProgressEvent(step, index, total, status, detail))
        return None

    def _failed(
        self,
        step: MigrationStep,
        index: int,
        results: list[StepResult],
        reason: str,
        code: str | None,
    ) -> ExecutionReport:
        if step.kind is StepKind.WAIT and code != "WaiterTimeout":
            # The resource reached a terminal state (a failed copy...): forget the call that
            # made it, so a resume probes again (and refuses a failed leftover by name).
            for dep in step.depends_on:
                if self.plan.step(dep).kind is StepKind.CALL and dep in self.done:
                    del self.done[dep]
                    reason += f"; {dep} will be re-checked when resumed"
        self.document["failure"] = {"step": step.id, "reason": reason, "code": code, "at": _now()}
        self.write()
        if self.log is not None:
            self.log.step_end(step.id, StepStatus.FAILED, error_code=code, reason=reason)
            self.log.run_end(RunState.FAILED)
        _log.warning("step %s failed: %s (%s)", step.id, reason, code)
        results.append(StepResult(step.id, StepStatus.FAILED, reason))
        results.extend(
            StepResult(s.id, StepStatus.PENDING)
            for s in self.plan.steps[index:]
            if s.id not in self.done
        )
        self.notify(ProgressEvent(step, index, len(self.plan.steps), StepStatus.FAILED, reason))
        return ExecutionReport(
            self.plan.fingerprint,
            False,
            RunState.FAILED,
            tuple(results),
            failed_step=step.id,
            error=reason,
            error_code=code,
            rollback_plan=self.plan.rollback_plan(),
            log_run_id=self.log.run_id if self.log else None,
        )


def _waited_on(step: MigrationStep) -> str:
    names = [str(v) for v in step.params.values() if isinstance(v, str)]
    return f"{step.operation} {', '.join(names)}".strip()


def _logged_request(step: MigrationStep) -> dict[str, Any]:
    return {
        "kind": str(step.kind),
        "service": step.service,
        "region": step.region,
        "operation": step.operation,
        "params": json.loads(json.dumps(dict(step.params), default=str)),
    }


def _load(store: Journal, plan: MigrationPlan) -> dict[str, Any]:
    existing = store.read()
    if existing is None:
        return {
            "schema_version": JOURNAL_SCHEMA_VERSION,
            "plan_fingerprint": plan.fingerprint,
            "created_at": _now(),
            "steps": {},
            "in_progress": None,
            "failure": None,
        }
    where = str(getattr(store, "path", None) or repr(store))
    document = check_document(existing, where)
    found = document["plan_fingerprint"]
    legacy = document.get("schema_version", 1) == 1 and found == plan._steps_fingerprint
    if found != plan.fingerprint and not legacy:
        raise JournalMismatchError(
            f"the journal belongs to plan {str(found)[:12]}..., not {plan.fingerprint[:12]}...: "
            "use a new journal for a new plan"
        )
    _refuse_concurrent_run(existing.get("in_progress"))
    # A schema-1 journal of the same steps resumes under the plan's full fingerprint.
    document["plan_fingerprint"] = plan.fingerprint
    document["schema_version"] = JOURNAL_SCHEMA_VERSION
    return document


def _refuse_concurrent_run(in_progress: Any) -> None:
    """Refuse to run while another live process on this host is executing the same journal.

    For journals without a `lock()`; a crashed run leaves `in_progress` behind with a pid that
    no longer runs: that resumes.
    """
    if not isinstance(in_progress, Mapping):
        return
    pid, host = in_progress.get("pid"), in_progress.get("host")
    if not isinstance(pid, int) or host != socket.gethostname() or pid == os.getpid():
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    except PermissionError:
        pass  # alive, owned by someone else
    except (OverflowError, OSError):
        return
    raise JournalLockedError(
        f"process {pid} is executing this journal (step {in_progress.get('step')}); wait for "
        "it, or stop it, before running again"
    )


def _check_plan_is_safe(plan: MigrationPlan) -> None:
    """Refuse a (hand-edited) plan that would modify a source before the cutover phase."""
    sources: set[str] = set()
    for arn in plan.resources:
        sources.add(arn)
        sources.add(arn.rsplit(":", 1)[-1])
    for step in plan.steps:
        if step.phase in (StepPhase.CUTOVER, StepPhase.CLEANUP) or step.kind is not StepKind.CALL:
            continue
        if step.operation.startswith(_MUTATING_PREFIXES):
            named = {str(v) for v in step.params.values() if isinstance(v, str)}
            if named & sources:
                raise ConfigurationError(
                    f"step {step.id} would modify a source resource before cutover"
                )
        if step.destructive:
            raise ConfigurationError(f"destructive step {step.id} outside the cleanup phase")


def _dry_request(step: MigrationStep) -> str:
    if step.kind == "call":
        return step.request_text()
    if step.kind == "wait":
        return f"{step.service} waiter {step.operation}({_json(step.params)})"
    if step.kind == "reencrypt-secret":
        return (
            f"{step.service}.GetSecretValue + PutSecretValue({_json(step.params)}) "
            "(value never shown)"
        )
    # verify / check-source: a describe, then a comparison (request_text abbreviates records)
    return f"{step.kind}: {step.request_text()}"


def _json(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def _run_step(
    step: MigrationStep,
    clients: ops.Clients,
    waiters: WaiterSettings,
    on_poll: Callable[[int, float], None],
) -> tuple[bool, str, dict[str, Any]]:
    """Run one step: `(adopted, detail, output)`; raises _StepError / CallFailed."""
    if step.kind == "call":
        if step.adopt and _probe(clients, step.region, step.adopt):
            return True, "already done (adopted)", {}
        params = {
            k: (ops.generate_password() if v == GENERATED_PASSWORD else v)
            for k, v in guardrail_ops.resolve_references(clients, step.params).items()
        }
        if GENERATED_PASSWORD in step.params.values():
            # botocore's DEBUG log would print the interim password with the request.
            with ops.wire_log_muted():
                response = ops.call(clients, step.service, step.region, step.operation, params)
        else:
            response = ops.call(clients, step.service, step.region, step.operation, params)
        del params  # may hold a generated password
        return False, "", _safe_output(response)
    if step.kind == "wait":
        ops.wait(
            clients,
            step.service,
            step.region,
            step.operation,
            step.params,
            delay=waiters.delay,
            max_attempts=waiters.max_attempts,
            on_poll=on_poll,
        )
        return False, "", {}
    if step.kind == "verify":
        _verify(step, clients)
        return False, "verified", {}
    if step.kind == "check-source":
        _check_source(step, clients)
        return False, "source unchanged", {}
    if step.kind == "reencrypt-secret":
        out = ops.rewrite_secret_value(
            clients, step.region, step.params["SecretId"], step.params["ClientRequestToken"]
        )
        return bool(out.pop("adopted", False)), "new version written", out
    raise _StepError(f"unknown step kind {step.kind!r}")


def _probe(clients: ops.Clients, region: str, spec: Mapping[str, Any]) -> bool:
    # Guardrail plans (Organizations) have their own probes; everything else is RDS/Secrets.
    if str(spec.get("probe", "")).startswith("organizations-"):
        return guardrail_ops.probe(clients, spec)
    return ops.probe(clients, region, spec)


def _safe_output(response: Mapping[str, Any]) -> dict[str, Any]:
    # Journal only identifiers: never a whole response (it may echo settings or secrets).
    out: dict[str, Any] = {}
    for key in ("DBSnapshot", "DBClusterSnapshot", "DBInstance", "DBCluster"):
        record = response.get(key)
        if isinstance(record, Mapping):
            for field in (
                "DBSnapshotArn",
                "DBClusterSnapshotArn",
                "DBInstanceArn",
                "DBClusterArn",
            ):
                if field in record:
                    out[field] = record[field]
    for field in ("ARN", "VersionId"):
        if field in response:
            out[field] = response[field]
    return out


_SELECT = re.compile(r"^(\w+)\[(\w+)=([^\]]+)\]$")


def _get(record: Mapping[str, Any], path: str) -> Any:
    """`a.b` walks mappings; `List[Field=value]` picks the list item whose Field is value."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        selector = _SELECT.match(part)
        if selector:
            name, field, wanted = selector.groups()
            items = value.get(name) or []
            value = next(
                (i for i in items if isinstance(i, Mapping) and i.get(field) == wanted), None
            )
        else:
            value = value.get(part)
    return value


def _same(clients: ops.Clients, region: str, field: str, expected: Any, actual: Any) -> bool:
    if expected == actual:
        return True
    if field.endswith(("KmsKeyId", "KMSKeyId")) and isinstance(expected, str) and actual:
        # Identifiers are resolved in the expected key's region (a secret replica's key lives
        # in the replica's region, not the step's).
        if expected.startswith("arn:"):
            region = expected.split(":")[3] or region
        return ops.resolve_key_arn(clients, region, str(actual)) == ops.resolve_key_arn(
            clients, region, expected
        )
    return False


def _describe(step: MigrationStep, clients: ops.Clients) -> dict[str, Any]:
    params = {k: v for k, v in step.params.items() if k not in ("expect", "expected")}
    record = ops.describe(clients, step.service, step.region, step.operation, params)
    if record is None:
        raise _StepError(f"{step.operation}: {_json(params)} does not exist", "NotFound")
    return record


def _verify(step: MigrationStep, clients: ops.Clients) -> None:
    record = _describe(step, clients)
    wrong = []
    for field, expected in (step.params.get("expect") or {}).items():
        actual = _get(record, field)
        if not _same(clients, step.region, field, expected, actual):
            wrong.append(f"{field} is {actual!r}, expected {expected!r}")
    if wrong:
        raise _StepError("verification failed: " + "; ".join(wrong), "VerificationFailed")


def _check_source(step: MigrationStep, clients: ops.Clients) -> None:
    record = _describe(step, clients)
    expected: Mapping[str, Any] = step.params.get("expected") or {}
    if step.operation in ("DescribeDBInstances", "DescribeDBClusters") and not any(
        "." in k for k in expected
    ):
        actual_fields = st.settings_digest_fields(
            record, cluster=step.operation == "DescribeDBClusters"
        )
    else:
        actual_fields = {k: _get(record, k) for k in expected}
    changed = [
        f"{field}: planned {value!r}, now {actual_fields.get(field)!r}"
        for field, value in expected.items()
        if not _same(clients, step.region, field, value, actual_fields.get(field))
    ]
    if changed:
        raise _StepError(
            "the source changed since planning (re-plan): " + "; ".join(changed[:5]),
            "SourceChanged",
        )
