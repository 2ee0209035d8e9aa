"""A migration step whose answer cannot be read (a garbled or truncated body, a proxy's page)
fails that step with a clear error and leaves a journal that resumes, never a crash of
`execute`. Faults from the fault kit, server-side, on the emulated account."""

from __future__ import annotations

from typing import Any

import pytest

from cmkguard import MigrationOptions, execute, plan_migration
from cmkguard.migrate import MemoryJournal
from cmkguard.testing import Fault, FaultKind
from tests.migrate.conftest import FAST, build_estate, inventory_and_settings

COPY = "us-east-1/db:orders/04-copy"


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (FaultKind.GARBLED_BODY, "ResponseParserError"),
        (FaultKind.TRUNCATED_BODY, "ResponseParserError"),
    ],
)
def test_an_unreadable_answer_fails_the_step_and_the_journal_resumes(
    cmkguard_emulated_aws: Any, kind: FaultKind, code: str
) -> None:
    aws = cmkguard_emulated_aws
    estate = build_estate(aws)
    inventory, settings = inventory_and_settings(estate, [estate.instance_arn])
    plan = plan_migration(
        inventory,
        estate.instance_arn,
        target_key="alias/orders",
        options=MigrationOptions(),
        source_settings=settings,
    )
    journal = MemoryJournal()
    fault = Fault(kind, service="rds", operation="CopyDBSnapshot", first=1)
    with aws.faults.injecting(fault):
        report = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert aws.faults.injected() == {("rds", "CopyDBSnapshot", kind.value): 1}
    assert report.state == "failed"
    assert report.failed_step == COPY
    assert report.error_code == code
    assert "unreadable response" in (report.error or "")
    document = journal.read()
    assert document is not None
    assert document["failure"]["step"] == COPY
    assert COPY not in document["steps"]
    # The fault is gone: the same call resumes at the copy (the copy AWS made before the
    # garbled answer is adopted, not made twice) and completes.
    resumed = execute(plan, estate.session, journal=journal, dry_run=False, waiter_config=FAST)
    assert resumed.completed, str(resumed)
    assert [r.status for r in resumed.results[:3]] == ["skipped"] * 3
