"""Journals: atomic JSON file, in-memory, and the guard against two runs on one journal."""

from __future__ import annotations

import json
import os
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
    (tmp_path / "sub").mkdir()
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


def test_a_journal_in_a_missing_directory_is_a_typed_error_and_creates_nothing(
    tmp_path: Path,
) -> None:
    journal = JsonFileJournal(tmp_path / "typo" / "j.json")
    assert journal.read() is None
    with pytest.raises(cmkguard.JournalFormatError, match="does not exist"):
        journal.write({"a": 1})
    with pytest.raises(cmkguard.JournalFormatError, match="does not exist"):
        cmkguard.execute(_a_plan(), None, journal=journal.path, dry_run=False)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "document",
    [
        {"steps": "abc"},
        {"steps": 5},
        {"steps": [1, 2]},
        {"steps": {"x": 5}},
        {"steps": {"x": {"finished_at": "now"}}},
        {"steps": {}, "in_progress": 3},
        {"steps": {}, "failure": "boom"},
        {"steps": {}, "schema_version": 99},
    ],
)
def test_structurally_wrong_journals_are_typed_errors(
    document: dict[str, object], tmp_path: Path
) -> None:
    plan = _a_plan()
    path = tmp_path / "j.json"
    path.write_text(json.dumps({"plan_fingerprint": plan.fingerprint, **document}))
    with pytest.raises(cmkguard.JournalFormatError, match="not a cmkguard journal"):
        cmkguard.execute(plan, None, journal=path)  # type: ignore[arg-type]


@pytest.mark.parametrize("journal", [None, 5, object()])
def test_execute_without_a_journal_is_a_configuration_error(journal: object) -> None:
    with pytest.raises(cmkguard.ConfigurationError, match="needs a journal"):
        cmkguard.execute(_a_plan(), None, journal=journal)  # type: ignore[arg-type]


def test_the_file_lock_refuses_a_second_holder_in_the_same_process(tmp_path: Path) -> None:
    journal = JsonFileJournal(tmp_path / "j.json")
    with (
        journal.lock(),
        pytest.raises(cmkguard.JournalLockedError, match=f"process {os.getpid()}"),
        JsonFileJournal(tmp_path / "j.json").lock(),
    ):
        pass  # pragma: no cover
    with journal.lock():  # released at the end of the block
        pass


def test_the_file_lock_is_released_when_its_process_dies(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    code = (
        "import sys, time\n"
        "from cmkguard import JsonFileJournal\n"
        f"with JsonFileJournal({str(path)!r}).lock():\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as other:
        try:
            assert other.stdout is not None
            assert other.stdout.readline().strip() == "locked"
            with (
                pytest.raises(cmkguard.JournalLockedError, match=str(other.pid)),
                JsonFileJournal(path).lock(),
            ):
                pass  # pragma: no cover
        finally:
            other.kill()  # a crash: no cleanup code runs in the holder
    with JsonFileJournal(path).lock():
        pass


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
            with pytest.raises(cmkguard.JournalLockedError, match=str(other.pid)):
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
