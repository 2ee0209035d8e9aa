"""What was reviewed is what runs: the fingerprint covers every field, signatures, old files.

Pure: plans are built from hand-made inventories (test_plan.py); executions are dry runs or
refused before anything would be sent (`session=None`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

import cmkguard
from cmkguard import MigrationPlan, PlanFormatError, PlanIntegrityError
from cmkguard.migrate import MemoryJournal

from .test_plan import RECORD, _instance, _plan, _secret


def _document() -> dict[str, Any]:
    plan = _plan(_instance(), _secret(), settings={_instance().arn: RECORD}, cutover=True)
    assert plan.preflight
    assert plan.rollback_steps
    data: dict[str, Any] = json.loads(plan.to_json())
    return data


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return edit


def _drop_blocking_or_first_item(data: dict[str, Any]) -> None:
    del data["preflight"][0]


def _lower_a_warning(data: dict[str, Any]) -> None:
    item = next(i for i in data["preflight"] if i["level"] != "passed")
    item["level"] = "passed"


# Every field that decides what runs or whether it may run.
EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "target_key": _set("target_key", "alias/other"),
    "target_key_arns": _set("target_key_arns.us-east-1", "arn:aws:kms:us-east-1:1:key/x"),
    "resources": _set("resources", []),
    "is_rollback": _set("is_rollback", True),
    "options.cutover": _set("options.cutover", False),
    "options.delete_source_snapshots": _set("options.delete_source_snapshots", True),
    "options.secret_consumers": _set("options.secret_consumers", {"a": ["b"]}),
    "preflight: an item deleted": _drop_blocking_or_first_item,
    "preflight: a level lowered": _lower_a_warning,
    "preflight: a message edited": _set("preflight.0.message", "fine"),
    "steps: a request parameter": _set("steps.1.params.DBInstanceIdentifier", "someone-else"),
    "steps: an adoption probe": _set("steps.1.adopt", {}),
    "steps: destructive flag": _set("steps.1.destructive", True),
    "steps: dependencies": _set("steps.2.depends_on", []),
    "rollback_steps: a request": _set("rollback_steps.0.params.NewDBInstanceIdentifier", "x"),
    "rollback_steps: deleted": _set("rollback_steps", []),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=list(EDITS))
def test_any_edit_of_a_reviewed_plan_is_refused(edit: Callable[[dict[str, Any]], None]) -> None:
    data = _document()
    edited = copy.deepcopy(data)
    edit(edited)
    assert edited != data
    with pytest.raises(PlanIntegrityError, match="modified"):
        MigrationPlan.from_dict(edited)


def test_every_body_field_is_covered_by_the_tamper_table() -> None:
    body = set(_document()) - {"schema_version", "fingerprint"}
    covered = {name.split(":")[0].split(".")[0] for name in EDITS}
    assert body <= covered, body - covered


def test_a_plan_without_its_fingerprint_is_refused() -> None:
    data = _document()
    del data["fingerprint"]
    with pytest.raises(PlanIntegrityError, match="no fingerprint"):
        MigrationPlan.from_dict(data)


def test_a_blocked_plan_made_executable_by_one_edit_does_not_run() -> None:
    blocked = _plan(_instance(), settings={})  # no settings: blocked
    assert not blocked.executable
    data = json.loads(blocked.to_json())
    data["preflight"] = [i for i in data["preflight"] if i["level"] != "blocking"]
    with pytest.raises(PlanIntegrityError):
        MigrationPlan.from_dict(data)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[]", "plan"),
        ('{"schema_version": 7, "fingerprint": "x"}', "schema_version"),
        ('{"schema_version": 2, "fingerprint": "x", "target_key": 5}', "plan"),
        ("{" * 100_000, "plan"),
        ("not json", "plan"),
    ],
)
def test_malformed_plans_are_plan_format_errors(text: str, where: str) -> None:
    with pytest.raises(PlanFormatError) as info:
        MigrationPlan.from_json(text)
    assert info.value.location.startswith(where)


def test_a_wrongly_typed_field_names_its_path() -> None:
    data = _document()
    data["steps"][3]["depends_on"] = "abc"
    with pytest.raises(PlanFormatError, match=r"plan\.steps\[3\]\.depends_on"):
        MigrationPlan.from_dict(data)


# -- signatures ----------------------------------------------------------------------------------


def test_a_signed_plan_round_trips_and_runs_only_with_its_key() -> None:
    plan = _plan(_instance())
    signed = plan.sign("reviewer-key")
    again = MigrationPlan.from_json(signed.to_json())
    assert again.signature == signed.signature
    assert again.fingerprint == plan.fingerprint  # the signature is not part of the plan
    assert again.signature_valid("reviewer-key")
    assert not again.signature_valid("another-key")
    report = cmkguard.execute(again, None, journal=MemoryJournal(), signing_key="reviewer-key")  # type: ignore[arg-type]
    assert report.state == "dry-run"
    with pytest.raises(PlanIntegrityError, match="signature"):
        cmkguard.execute(again, None, journal=MemoryJournal(), signing_key="another-key")  # type: ignore[arg-type]
    with pytest.raises(PlanIntegrityError, match="not signed"):
        cmkguard.execute(plan, None, journal=MemoryJournal(), signing_key="reviewer-key")  # type: ignore[arg-type]


def test_an_edited_signed_plan_is_refused_even_if_its_fingerprint_is_recomputed() -> None:
    signed = _plan(_instance()).sign(b"k")
    step = attrs.evolve(signed.steps[1], params={**signed.steps[1].params, "Tags": []})
    forged = attrs.evolve(signed, steps=(signed.steps[0], step, *signed.steps[2:]))
    assert forged.fingerprint != signed.fingerprint
    reloaded = MigrationPlan.from_json(forged.to_json())  # consistent fingerprint, old signature
    assert reloaded.signature == signed.signature
    assert not reloaded.signature_valid(b"k")
    with pytest.raises(PlanIntegrityError, match="edited after it was signed"):
        cmkguard.execute(reloaded, None, journal=MemoryJournal(), signing_key=b"k")  # type: ignore[arg-type]


# -- schema-1 files --------------------------------------------------------------------------------


def _v1(plan: MigrationPlan) -> dict[str, Any]:
    data = plan.to_dict()
    data.pop("signature", None)
    canonical = json.dumps(data["steps"], sort_keys=True, separators=(",", ":"))
    return {
        **data,
        "schema_version": 1,
        "fingerprint": hashlib.sha256(canonical.encode()).hexdigest(),
    }


def test_a_schema_1_plan_loads_for_review_and_dry_run_but_a_real_run_needs_a_new_plan() -> None:
    plan = _plan(_instance())
    old = MigrationPlan.from_dict(_v1(plan))
    assert old == plan
    assert old.legacy_fingerprint
    assert cmkguard.execute(old, None, journal=MemoryJournal()).state == "dry-run"  # type: ignore[arg-type]
    with pytest.raises(PlanIntegrityError, match="make it again"):
        cmkguard.execute(old, None, journal=MemoryJournal(), dry_run=False)  # type: ignore[arg-type]
    with pytest.raises(PlanIntegrityError):
        MigrationPlan.from_dict({**_v1(plan), "fingerprint": "0" * 64})


def test_a_schema_1_journal_resumes_with_the_plan_made_again(tmp_path: Path) -> None:
    plan = _plan(_instance())
    legacy_fingerprint = _v1(plan)["fingerprint"]
    path = tmp_path / "j.json"
    first = plan.steps[0].id
    path.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "plan_fingerprint": legacy_fingerprint,
                "steps": {first: {"status": "done", "finished_at": "x", "output": {}}},
                "in_progress": None,
                "failure": None,
            }
        )
    )
    report = cmkguard.execute(plan, None, journal=path)  # type: ignore[arg-type]
    assert report.results[0].status == "skipped"
    assert [r.status for r in report.results[1:]] == ["would-run"] * (len(plan.steps) - 1)


def test_a_dry_run_of_a_blocked_plan_says_blocked() -> None:
    blocked = _plan(_instance(), settings={})
    report = cmkguard.execute(blocked, None, journal=MemoryJournal())  # type: ignore[arg-type]
    assert report.state == "blocked"
    assert report.blocking == blocked.blocking
    assert "BLOCKED: 1 blocking pre-flight item(s): source-settings" in str(report)
    with pytest.raises(cmkguard.PreflightError, match="source-settings"):
        cmkguard.execute(blocked, None, journal=MemoryJournal(), dry_run=False)  # type: ignore[arg-type]
