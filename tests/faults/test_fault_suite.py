"""The fault suite: every fault kind against the seeded estate, judged against its truth.

For each kind the scan must never raise, and either equal the clean scan or report
`ScanError`s covering exactly what it lacks: "silently missing" (in the truth, not in the
inventory, not covered by an error; `GroundTruth.unaccounted`) must be empty. Faults are
injected server-side by `cmkguard.testing.FaultInjector`, seeded, so each case is repeatable.
Bounded: one seeded estate per module, one scan per case (~1-3 s each).
"""

from __future__ import annotations

from typing import Any

import pytest

from cmkguard import Inventory, scan
from cmkguard.testing import Fault, FaultKind

REGIONS = ("us-east-1", "eu-west-1")
SEED = 20261207


def _summary(inventory: Inventory) -> dict[str, tuple[str, str | None]]:
    return {r.arn: (r.key_class.value, r.key_arn) for r in inventory.resources}


@pytest.fixture(name="estate", scope="module")
def _estate(cmkguard_seeded_estate_module: Any) -> Any:
    return cmkguard_seeded_estate_module


@pytest.fixture(name="clean", scope="module")
def _clean(estate: Any) -> Inventory:
    inventory = scan(estate.aws.session("us-east-1"), regions=REGIONS)
    assert inventory.errors == ()
    assert estate.truth.unaccounted(inventory) == []
    return inventory


SERVICES = ("kms", "rds", "secretsmanager", "tagging", "lambda")
"""What a scan calls after its identity check (a fault on STS fails the whole scan: exit 2)."""


def _everywhere(kind: FaultKind, **options: Any) -> tuple[Fault, ...]:
    return tuple(Fault(kind, service=service, **options) for service in SERVICES)


def _scan_with(estate: Any, *faults: Fault, seed: int = SEED) -> Inventory:
    injector = estate.aws.faults
    injector.clear()
    injector.seed = seed
    with injector.injecting(*faults):
        inventory = scan(estate.aws.session("us-east-1"), regions=REGIONS)
    assert sum(injector.injected().values()) > 0, "the fault never fired: the case tests nothing"
    injector.clear()
    return inventory


def _judge(estate: Any, clean: Inventory, inventory: Inventory) -> None:
    assert estate.truth.unaccounted(inventory) == []
    if not inventory.errors:
        assert _summary(inventory) == _summary(clean)
        assert set(inventory.keys) == set(clean.keys)
    # What the faulted scan did read is read right: no resource changed class silently.
    before = _summary(clean)
    for arn, (key_class, key_arn) in _summary(inventory).items():
        if key_class != "unknown":
            assert (key_class, key_arn) == before[arn], arn


CASES = [
    # Throttling on a schedule: at a rate, adaptive retries slow the whole scan down (that
    # figure is in benchmarks/faults.py, not here).
    pytest.param((Fault(FaultKind.THROTTLE, service="kms", first=3),), id="throttle-kms"),
    pytest.param((Fault(FaultKind.THROTTLE, service="secretsmanager", first=2),), id="throttle-sm"),
    pytest.param((Fault(FaultKind.THROTTLE, service="rds", first=4),), id="throttle-rds"),
    pytest.param(_everywhere(FaultKind.ACCESS_DENIED, rate=0.2), id="access-denied"),
    pytest.param(_everywhere(FaultKind.SERVER_ERROR, rate=0.25), id="server-error"),
    pytest.param(_everywhere(FaultKind.SERVER_ERROR, rate=0.25, status=503), id="server-error-503"),
    pytest.param(_everywhere(FaultKind.HTML_ERROR, rate=0.25), id="html-error"),
    pytest.param(_everywhere(FaultKind.CONNECTION_RESET, rate=0.25), id="connection-reset"),
    pytest.param(_everywhere(FaultKind.LATENCY, rate=0.3, latency_ms=30), id="latency"),
    pytest.param(_everywhere(FaultKind.TRUNCATED_BODY, rate=0.25), id="truncated-body"),
    pytest.param(_everywhere(FaultKind.GARBLED_BODY, rate=0.25), id="garbled-body"),
    pytest.param(_everywhere(FaultKind.CUT_SHORT, rate=0.25), id="cut-short"),
]


@pytest.mark.parametrize("faults", CASES)
def test_a_faulted_scan_equals_the_clean_one_or_reports_every_gap(
    estate: Any, clean: Inventory, faults: tuple[Fault, ...]
) -> None:
    inventory = _scan_with(estate, *faults)
    _judge(estate, clean, inventory)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(FaultKind.TRUNCATED_BODY, service="secretsmanager", operation="ListSecrets"),
        Fault(FaultKind.TRUNCATED_BODY, service="kms", operation="ListKeys", fraction=0.1),
        Fault(FaultKind.GARBLED_BODY, service="rds", operation="DescribeDBInstances"),
        Fault(FaultKind.CUT_SHORT, service="kms", operation="DescribeKey"),
        Fault(FaultKind.ACCESS_DENIED, service="rds", region="eu-west-1"),
    ],
    ids=str,
)
def test_an_operation_that_always_fails_is_reported_never_an_empty_answer(
    estate: Any, clean: Inventory, fault: Fault
) -> None:
    inventory = _scan_with(estate, fault)
    _judge(estate, clean, inventory)
    assert inventory.errors, "a listing that always fails must be reported"
    assert {e.operation for e in inventory.errors} >= {fault.operation or "DescribeDBInstances"}


def test_a_truncated_secrets_page_is_never_zero_secrets(estate: Any, clean: Inventory) -> None:
    fault = Fault(FaultKind.TRUNCATED_BODY, service="secretsmanager", operation="ListSecrets")
    inventory = _scan_with(estate, fault)
    errors = [e for e in inventory.errors if e.operation == "ListSecrets"]
    assert {(e.region, e.error_code) for e in errors} == {
        (region, "MalformedResponse") for region in REGIONS
    }
    assert "incomplete response" in errors[0].reason
    assert not [r for r in inventory.resources if r.resource_type == "secretsmanager:secret"]


def test_a_denied_region_names_the_secrets_whose_replica_there_is_unknown(
    estate: Any, clean: Inventory
) -> None:
    fault = Fault(FaultKind.ACCESS_DENIED, service="secretsmanager", region="eu-west-1")
    inventory = _scan_with(estate, fault)
    _judge(estate, clean, inventory)
    replicated = [
        r
        for r in estate.truth.resources.values()
        if r.region == "us-east-1" and "eu-west-1" in r.details.get("replica_regions", ())
    ]
    assert replicated, "the seeded estate has a secret replicated into eu-west-1"
    # Which secrets listed in us-east-1 have a replica in eu-west-1 is unknown (the emulator,
    # like services that do not echo PrimaryRegion, leaves it to eu-west-1's listing): each
    # is named, the replicated one included, and none of another region.
    linked = {e.target for e in inventory.errors if e.error_code == "LinkUnknown"}
    assert linked >= {r.arn for r in replicated}
    assert all(":us-east-1:" in str(arn) for arn in linked)
    assert all("eu-west-1" in e.reason for e in inventory.errors if e.error_code == "LinkUnknown")


def test_denied_aliases_never_say_the_default_key_does_not_exist_yet(
    estate: Any, clean: Inventory
) -> None:
    fault = Fault(FaultKind.ACCESS_DENIED, service="kms", operation="ListAliases")
    inventory = _scan_with(estate, fault)
    _judge(estate, clean, inventory)
    assert {e.operation for e in inventory.errors} == {"ListAliases"}
    assert not [r for r in inventory.resources if r.reason and "does not exist yet" in r.reason]
    # Each alias a resource names is described instead: the classes are still right.
    assert _summary(inventory) == _summary(clean)


def test_the_same_seed_gives_the_same_faults(estate: Any, clean: Inventory) -> None:
    faults = _everywhere(FaultKind.ACCESS_DENIED, rate=0.3)
    first = _scan_with(estate, *faults, seed=7)
    second = _scan_with(estate, *faults, seed=7)
    other = _scan_with(estate, *faults, seed=8)
    assert sorted(map(str, first.errors)) == sorted(map(str, second.errors))
    assert sorted(map(str, first.errors)) != sorted(map(str, other.errors))
