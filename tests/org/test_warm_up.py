"""The process warm-up before an organisation scan's threads start: botocore's data is loaded
once, in the coordinator, not by every account thread of a fresh process at once."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import pytest

import cmkguard
import cmkguard.org.scanner as org_scanner
from cmkguard.aws.access import shared_loader
from cmkguard.org import aws_scan
from cmkguard.testing import EmulatedOrganization

REGIONS = ("eu-west-1",)


def test_warm_up_loads_every_model_an_account_scan_reads() -> None:
    aws_scan.warm_up()
    cached = set(shared_loader()._cache)  # botocore's instance cache of the shared loader
    services = aws_scan._services(None)
    # The registry's services (its resource types and their linked reads) and the key reads'.
    assert {"kms", "rds", "secretsmanager", "sts", "resourcegroupstaggingapi"} <= set(services)
    assert aws_scan._services(["rds"]) == ("kms", "resourcegroupstaggingapi", "sts", "rds")
    for service in services:
        for type_name in aws_scan._WARM_TYPES:
            assert any(
                key[0] == "load_service_model" and key[1:3] == (service, type_name)
                for key in cached
            ), (service, type_name)


def test_threads_start_after_the_warm_up(
    org: EmulatedOrganization, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_warm, real_run = aws_scan.warm_up, org_scanner.run_account_scan

    def warm(resource_types: Iterable[str] | None = None) -> None:
        events.append(f"warm {threading.current_thread().name}")
        real_warm(resource_types)

    def run(unit: aws_scan.AccountScan) -> cmkguard.AccountResult:
        events.append("account")
        return real_run(unit)

    monkeypatch.setattr(org_scanner, "warm_up", warm)
    monkeypatch.setattr(org_scanner, "run_account_scan", run)
    found = cmkguard.organization_accounts(org.session())
    results = list(cmkguard.scan_organization(org.session(), found, regions=REGIONS))
    assert len(results) == len(found.selected)  # the active accounts
    assert events[0] == f"warm {threading.current_thread().name}"  # the caller's thread
    assert events.count("account") == len(results)
    assert not any(e.startswith("warm") for e in events[1:])
