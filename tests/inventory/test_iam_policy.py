"""Every AWS operation a scan makes on the emulated account is allowed by the shipped policy."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

from cmkguard import scan

POLICY = Path(__file__).resolve().parents[2] / "docs" / "scan-iam-policy.json"


def _allows(action: str) -> bool:
    allowed: list[str] = []
    denied: list[str] = []
    for statement in json.loads(POLICY.read_text())["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        (allowed if statement["Effect"] == "Allow" else denied).extend(actions)

    def hit(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatch(action.lower(), p.lower()) for p in patterns)

    return hit(allowed) and not hit(denied)


def test_every_operation_of_a_scan_is_allowed_by_the_policy(shared_small_estate: Any) -> None:
    aws = shared_small_estate.aws
    session = aws.session("us-east-1")
    seen: set[str] = set()

    # Recorded client-side too, so an operation the emulator might not count is still caught.
    def record(model: Any, **_: Any) -> None:
        seen.add(f"{model.service_model.signing_name}:{model.name}")

    session.events.register("before-call", record)
    aws.reset_request_counts()
    scan(session, regions=["us-east-1", "eu-west-1"])
    seen.update(f"{service}:{operation}" for service, operation in aws.request_counts())
    # IAM prefixes that differ from the signing name: the Resource Groups Tagging API.
    seen = {a.replace("tagging:", "tag:", 1) for a in seen}
    # The scan touches every kind of read (a sanity check that the recording works).
    assert {
        "kms:ListKeys",
        "kms:GetKeyPolicy",
        "rds:DescribeDBInstances",
        "tag:GetResources",
    } <= seen
    assert "secretsmanager:ListSecrets" in seen
    assert [action for action in sorted(seen) if not _allows(action)] == []


def test_the_iam_policy_page_shows_the_shipped_policy() -> None:
    page = (POLICY.parent / "iam-policy.md").read_text()
    block = page.split("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(block) == json.loads(POLICY.read_text())
