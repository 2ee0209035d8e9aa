"""execute: run a MigrationPlan step by step, journaled, resumable, dry run by default.

Guarantees:

* **Dry run by default**: ``dry_run=True`` sends nothing (not even describes) and reports the
  exact requests a real run would send, in order.
* **Journal first**: a step is recorded as complete only after AWS accepted it (and, for waits
  and verifications, after the state was confirmed). The step in progress is recorded before it
  starts, so a crash between a call and its journal entry is recognised on resume: the step's
  effect is *probed* (the snapshot, instance or rename already exists) and adopted instead of
  being repeated or failing.
* **One plan per journal**: a journal written for another plan (another fingerprint) is refused
  with :class:`~cmkguard.errors.JournalMismatchError`.
* **Failures are data**: a failing step ends the run with ``state == "failed"`` naming the step
  and the AWS error; the journal keeps every completed step, so the same call resumes.
  :meth:`ExecutionReport.raise_for_failure` turns it into :class:`~cmkguard.StepFailedError`.
* Sources are only read before the ``cutover`` phase (the plan is built that way, and the
  executor refuses a plan whose pre-cutover steps would modify or delete a source).
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from cmkguard.errors import (
    ConfigurationError,
    JournalMismatchError,
    MigrationError,
    PreflightError,
    StepFailedError,
)
from cmkguard.migrate import _settings as st
from cmkguard.migrate import aws_guardrails as guardrail_ops
from cmkguard.migrate import aws_ops as ops
from cmkguard.migrate.journal import JOURNAL_SCHEMA_VERSION, Journal, JsonFileJournal
from cmkguard.migrate.model import GENERATED_PASSWORD, MigrationPlan, MigrationStep

if TYPE_CHECKING:
    import boto3  # noqa: TID251 - type only

__all__ = [
    "ExecutionReport",
    "ProgressEvent",
    "StepResult",
    "WaiterSettings",
    "execute",
]

# Operations that change or delete a resource: before cutover none may name a source.
_MUTATING_PREFIXES = ("Modify", "Delete", "Update", "Put", "Remove", "Stop", "Reboot")


@attrs.frozen
class WaiterSettings:
    """How waiters poll. Production defaults: every 30 s, up to 2 hours for a restore.

    Tests pass tiny values (``WaiterSettings(delay=0, max_attempts=3)``).
    """

    delay: float = 30.0
    max_attempts: int = 240


@attrs.frozen
class StepResult:
    """What happened to one step.

    ``status``: ``done`` (run now), ``adopted`` (its effect already existed: resumed after a
    crash), ``skipped`` (completed in an earlier run, per the journal), ``would-run`` (dry run),
    ``failed``, ``pending`` (not reached).
    """

    step_id: str
    status: str
    detail: str = ""
    request: str = ""


@attrs.frozen
class ProgressEvent:
    """Passed to the ``progress`` hook before (``status="start"``) and after each step."""

    step: MigrationStep
    index: int
    total: int
    status: str
    detail: str = ""


@attrs.frozen
class ExecutionReport:
    """The outcome of :func:`execute`.

    ``state`` is ``dry-run``, ``completed`` or ``failed``. ``failed_step`` and ``error`` say
    where and why; the journal allows resuming with the same call. ``rollback_plan`` reverses
    the cutover (``None`` when the plan has none).
    """

    plan_fingerprint: str
    dry_run: bool
    state: str
    results: tuple[StepResult, ...]
    failed_step: str | None = None
    error: str | None = None
    error_code: str | None = None
    rollback_plan: MigrationPlan | None = None

    @property
    def completed(self) -> bool:
        """Whether every step is complete (a real run that finished)."""
        return self.state == "completed"

    def requests(self) -> list[str]:
        """The requests a dry run would send (``service.Operation({...})``), in order."""
        return [r.request for r in self.results if r.status == "would-run"]

    def raise_for_failure(self) -> None:
        """Raise :class:`~cmkguard.StepFailedError` if the run failed."""
        if self.state == "failed":
            raise StepFailedError(self.failed_step or "?", self.error or "unknown error")

    def __str__(self) -> str:
        lines = [f"execution {self.state} (plan {self.plan_fingerprint[:12]})"]
        for r in self.results:
            tail = f": {r.detail}" if r.detail else ""
            lines.append(f"  [{r.status:>9}] {r.step_id}{tail}")
            if r.request and r.status == "would-run":
                lines.append(f"              {r.request}")
        if self.failed_step:
            lines.append(f"FAILED at {self.failed_step}: {self.error}")
            lines.append("fix the cause and run again with the same journal to resume")
        return "\n".join(lines)


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
) -> ExecutionReport:
    """Run ``plan`` against AWS through ``session``, recording progress in ``journal``.

    Args:
        plan: From :func:`cmkguard.plan_migration` (or :meth:`MigrationPlan.from_json`).
        session: A ``boto3.Session`` with the permissions the steps need.
        journal: A :class:`Journal` or a path for a :class:`JsonFileJournal`. Running again with
            the same journal resumes after the last completed step.
        dry_run: Send nothing; report the requests a real run would send. The default.
        progress: Called with a :class:`ProgressEvent` before and after every step.
        waiter_config: Waiter polling (:class:`WaiterSettings`; production defaults).

    Raises:
        PreflightError: A real run of a plan with blocking pre-flight items.
        JournalMismatchError: The journal belongs to a different plan.
    """
    store: Journal = (
        journal if isinstance(journal, Journal) else JsonFileJournal(os.fspath(journal))
    )
    waiters = waiter_config or WaiterSettings()
    _check_plan_is_safe(plan)
    if not dry_run and plan.blocking:
        items = "; ".join(f"{i.check}: {i.message}" for i in plan.blocking)
        raise PreflightError(f"the plan has blocking pre-flight items: {items}")
    document = _load(store, plan)
    done: dict[str, Any] = document["steps"]
    notify = progress or (lambda _event: None)
    results: list[StepResult] = []
    total = len(plan.steps)
    clients = None if dry_run else ops.Clients(session)
    for index, step in enumerate(plan.steps, start=1):
        if step.id in done:
            results.append(StepResult(step.id, "skipped", "completed in an earlier run"))
            continue
        if dry_run or clients is None:
            results.append(
                StepResult(step.id, "would-run", step.description, request=_dry_request(step))
            )
            notify(ProgressEvent(step, index, total, "would-run"))
            continue
        notify(ProgressEvent(step, index, total, "start"))
        document["in_progress"] = {
            "step": step.id,
            "started_at": _now(),
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        store.write(document)
        try:
            adopted, detail, output = _run_step(step, clients, waiters, plan)
        except (_StepError, ops.CallFailed) as exc:
            reason = exc.reason
            code = exc.code
            if step.kind == "wait" and code != "WaiterTimeout":
                # The resource reached a terminal state (a failed copy...): forget the call that
                # made it, so a resume probes again (and refuses a failed leftover by name).
                for dep in step.depends_on:
                    if plan.step(dep).kind == "call" and dep in done:
                        del done[dep]
                        reason += f"; {dep} will be re-checked when resumed"
            document["failure"] = {"step": step.id, "reason": reason, "code": code, "at": _now()}
            store.write(document)
            results.append(StepResult(step.id, "failed", reason))
            results.extend(
                StepResult(s.id, "pending") for s in plan.steps[index:] if s.id not in done
            )
            notify(ProgressEvent(step, index, total, "failed", reason))
            return ExecutionReport(
                plan.fingerprint,
                dry_run,
                "failed",
                tuple(results),
                failed_step=step.id,
                error=reason,
                error_code=code,
                rollback_plan=plan.rollback_plan(),
            )
        status = "adopted" if adopted else "done"
        done[step.id] = {"status": status, "finished_at": _now(), "output": output}
        document["in_progress"] = None
        document["failure"] = None
        store.write(document)
        results.append(StepResult(step.id, status, detail))
        notify(ProgressEvent(step, index, total, status, detail))
    state = "dry-run" if dry_run else "completed"
    return ExecutionReport(
        plan.fingerprint, dry_run, state, tuple(results), rollback_plan=plan.rollback_plan()
    )


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
    found = existing.get("plan_fingerprint")
    if not isinstance(found, str):
        # Another JSON document given as --journal (the plan itself, a report): say so rather
        # than "belongs to plan None".
        where = getattr(store, "path", None) or repr(store)
        raise ConfigurationError(f"{where} is not a cmkguard journal: no plan_fingerprint")
    if found != plan.fingerprint:
        raise JournalMismatchError(
            f"the journal belongs to plan {str(found)[:12]}..., not {plan.fingerprint[:12]}...: "
            "use a new journal for a new plan"
        )
    _refuse_concurrent_run(existing.get("in_progress"))
    document = dict(existing)
    document["steps"] = dict(existing.get("steps") or {})
    return document


def _refuse_concurrent_run(in_progress: Any) -> None:
    """Refuse to run while another live process on this host is executing the same journal.

    A crashed run leaves ``in_progress`` behind with a pid that no longer runs: that resumes.
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
    raise MigrationError(
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
        if step.phase in ("cutover", "cleanup") or step.kind != "call":
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
    step: MigrationStep, clients: ops.Clients, waiters: WaiterSettings, plan: MigrationPlan
) -> tuple[bool, str, dict[str, Any]]:
    """Run one step: ``(adopted, detail, output)``; raises _StepError / CallFailed."""
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
    """``a.b`` walks mappings; ``List[Field=value]`` picks the list item whose Field is value."""
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
