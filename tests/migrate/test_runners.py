"""One runner per journal for the whole run, and the execution log of every real run.

A second runner (a thread of the same process, or another process through the CLI) is started
while the first is between steps, at several offsets; it must be refused with a clear error and
must not touch the journal, and the first run completes with every step journaled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import cmkguard
from cmkguard import JsonFileJournal, MigrationOptions, execute, plan_migration
from cmkguard.migrate import MemoryJournal, ProgressEvent
from tests._env import aws_env

from .conftest import FAST, Estate, inventory_and_settings


def _plan(estate: Estate, **options: Any) -> cmkguard.MigrationPlan:
    inventory, settings = inventory_and_settings(estate, [estate.instance_arn])
    plan = plan_migration(
        inventory,
        estate.instance_arn,
        target_key="alias/orders",
        options=MigrationOptions(**options),
        source_settings=settings,
    )
    assert plan.executable, plan.blocking
    return plan


@pytest.mark.parametrize("offset", [1, 4, 9])
def test_a_second_thread_is_refused_at_any_offset(
    estate: Estate, tmp_path: Path, offset: int
) -> None:
    plan = _plan(estate)
    path = tmp_path / "j.json"
    outcome: dict[str, Any] = {}

    def second_runner() -> None:
        try:
            execute(plan, estate.session, journal=path, dry_run=False, waiter_config=FAST)
        except cmkguard.JournalLockedError as exc:
            outcome["refused"] = str(exc)
        else:  # pragma: no cover - the failure this test exists for
            outcome["ran"] = True

    def at_offset(event: ProgressEvent) -> None:
        if event.status == "done" and event.index == offset:
            before = path.read_text()
            thread = threading.Thread(target=second_runner)
            thread.start()
            thread.join()
            assert path.read_text() == before  # the refused runner wrote nothing

    report = execute(
        plan, estate.session, journal=path, dry_run=False, progress=at_offset, waiter_config=FAST
    )
    assert report.completed, str(report)
    assert "being executed by process" in outcome["refused"]
    assert "ran" not in outcome
    assert set(json.loads(path.read_text())["steps"]) == {s.id for s in plan.steps}


@pytest.mark.parametrize("offset", [2, 7])
def test_a_second_process_is_refused_with_exit_2_at_any_offset(
    estate: Estate, cmkguard_emulated_aws: Any, tmp_path: Path, offset: int
) -> None:
    plan = _plan(estate)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.to_json())
    path = tmp_path / "j.json"
    outcome: dict[str, Any] = {}
    env = aws_env()
    argv = [
        sys.executable,
        "-m",
        "cmkguard",
        "migrate",
        "run",
        str(plan_file),
        "--journal",
        str(path),
        "--execute",
        "--endpoint-url",
        cmkguard_emulated_aws.endpoint_url,
    ]

    def at_offset(event: ProgressEvent) -> None:
        if event.status == "done" and event.index == offset:
            before = path.read_text()
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
            outcome["code"], outcome["err"] = done.returncode, done.stderr
            assert path.read_text() == before

    report = execute(
        plan, estate.session, journal=path, dry_run=False, progress=at_offset, waiter_config=FAST
    )
    assert report.completed, str(report)
    assert outcome["code"] == 2, outcome
    assert outcome["err"].startswith("cmkguard: error:")
    assert f"being executed by process {os.getpid()}" in outcome["err"]
    assert len(outcome["err"].strip().splitlines()) == 1


def test_a_journal_changed_under_a_lockless_journal_is_never_overwritten(
    estate: Estate,
) -> None:
    plan = _plan(estate)

    class Lockless:
        """A bot's journal without lock(): another writer sneaks in between two steps."""

        def __init__(self) -> None:
            self.inner = MemoryJournal()

        def read(self) -> Any:
            return self.inner.read()

        def write(self, document: Any) -> None:
            self.inner.write(document)

    journal = Lockless()

    def intruder(event: ProgressEvent) -> None:
        if event.status == "done" and event.index == 3:
            document = dict(journal.read())
            document["steps"] = {**document["steps"], "someone/else": {"status": "done"}}
            journal.inner.write(document)

    with pytest.raises(cmkguard.JournalLockedError, match="changed under this run"):
        execute(
            plan,
            estate.session,
            journal=journal,
            dry_run=False,
            progress=intruder,
            waiter_config=FAST,
        )
    assert "someone/else" in journal.read()["steps"]  # the other runner's progress is kept


# -- the execution log ----------------------------------------------------------------------------


def test_every_real_run_appends_an_execution_log_next_to_the_journal(
    estate: Estate, tmp_path: Path
) -> None:
    plan = _plan(estate, cutover=True)
    path = tmp_path / "orders.journal.json"
    assert execute(plan, estate.session, journal=path).state == "dry-run"
    assert not JsonFileJournal(path).log_path.exists()  # a dry run logs nothing
    report = execute(plan, estate.session, journal=path, dry_run=False, waiter_config=FAST)
    assert report.completed, str(report)
    log = tmp_path / "orders.journal.log.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[0]["event"] == "run-start"
    assert records[0]["caller"].startswith("arn:aws:")
    assert records[0]["plan"] == plan.fingerprint
    assert records[-1] == {**records[-1], "event": "run-end", "state": "completed"}
    assert {r["run"] for r in records} == {report.log_run_id}
    starts = [r for r in records if r["event"] == "step-start"]
    ends = [r for r in records if r["event"] == "step-end"]
    assert [r["step"] for r in starts] == [s.id for s in plan.steps]
    assert [r["step"] for r in ends] == [s.id for s in plan.steps]
    assert {r["outcome"] for r in ends} == {"done"}
    copy = next(r for r in starts if r["request"]["operation"] == "CopyDBSnapshot")
    assert copy["request"]["params"]["KmsKeyId"] == estate.key_arn
    copied = next(r for r in ends if r["step"] == copy["step"])
    assert copied["response"]["DBSnapshotArn"].endswith(":orders-" + "cmk") or copied["response"]
    assert all("time" in r for r in records)
    # a second run appends (the first run's records stay), and says every step was done
    execute(plan, estate.session, journal=path, dry_run=False, waiter_config=FAST)
    again = [json.loads(line) for line in log.read_text().splitlines()]
    assert again[: len(records)] == records
    assert again[len(records)]["already_done"] == len(plan.steps)


def test_a_failed_step_is_logged_with_its_error(estate: Estate) -> None:
    from .conftest import fail_operation

    plan = _plan(estate)
    journal = MemoryJournal()
    fail_operation(estate.session, "CopyDBSnapshot", "KMSKeyNotAccessibleFault", "no access")
    report = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert report.state == "failed"
    failed = [r for r in journal.log_records if r.get("outcome") == "failed"]
    assert failed == [
        {
            **failed[0],
            "step": report.failed_step,
            "error": {"code": "KMSKeyNotAccessibleFault", "reason": failed[0]["error"]["reason"]},
        }
    ]
    assert journal.log_records[-1]["state"] == "failed"


def test_the_migrate_logger_is_silent_unless_the_application_configures_logging() -> None:
    # Python prints unhandled WARNINGs to stderr (logging.lastResort) unless the library's
    # logger has a handler: a failed step must not print from inside a user's bot or notebook.
    code = (
        "import logging, cmkguard\n"
        "logging.getLogger('cmkguard.migrate').warning('step x failed')\n"
        "logging.basicConfig(format='%(name)s %(message)s')\n"
        "logging.getLogger('cmkguard.migrate').warning('configured')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "cmkguard.migrate configured\n"
