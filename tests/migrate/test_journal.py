"""Journals: atomic JSON file, in-memory, and the guard against two runs on one journal."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

import cmkguard
from cmkguard import JsonFileJournal, MigrationPlan
from cmkguard.migrate import Journal, MemoryJournal

from .test_plan import RECORD, _instance, _plan


def _a_plan() -> MigrationPlan:
    return _plan(_instance(), settings={_instance().arn: RECORD})


def test_json_file_journal_writes_atomically_and_reads_back(tmp_path: Path) -> None:
    journal = JsonFileJournal(tmp_path / "sub" / "j.json")
    assert isinstance(journal, Journal)
    assert journal.read() is None
    journal.write({"a": 1})
    journal.write({"a": 2, "steps": {"x": {"status": "done"}}})
    assert journal.read() == {"a": 2, "steps": {"x": {"status": "done"}}}
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["j.json"]


def test_a_journal_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a cmkguard journal"):
        JsonFileJournal(path).read()


def test_memory_journal_keeps_a_copy() -> None:
    journal = MemoryJournal()
    document = {"steps": {}}
    journal.write(document)
    document["steps"]["x"] = 1
    assert journal.read() == {"steps": {}}


def test_a_live_process_on_the_same_journal_is_refused() -> None:
    plan = _a_plan()
    journal = MemoryJournal()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
        try:
            journal.write(
                {
                    "plan_fingerprint": plan.fingerprint,
                    "steps": {},
                    "in_progress": {
                        "step": plan.steps[0].id,
                        "pid": other.pid,
                        "host": socket.gethostname(),
                    },
                }
            )
            with pytest.raises(cmkguard.MigrationError, match=str(other.pid)):
                cmkguard.execute(plan, None, journal=journal)  # type: ignore[arg-type]
        finally:
            other.kill()
    other.wait()
    # once that process is gone, the journal resumes (a dry run here)
    report = cmkguard.execute(plan, None, journal=journal)  # type: ignore[arg-type]
    assert report.state == "dry-run"
    stored = journal.read()
    assert stored is not None
    assert stored["in_progress"]["pid"] == other.pid  # a dry run writes nothing
