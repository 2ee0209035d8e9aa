"""Empty pages with a next token, on every paged listing a scan makes.

AWS may answer a listing page with no items and a next token; the listing must go on (one
such page, or a run of them, changes nothing), and only a run past `MAX_EMPTY_PAGES` is a
broken listing, reported (`MalformedResponseError`, a `ScanError` in a scan) and never read as
"no more items". The pages come from the fault kit (`FaultKind.EMPTY_PAGE`, server-side, in
the protocol's shape), so the client under test is the scan's own.
"""

from __future__ import annotations

from typing import Any

import pytest

from cmkguard import Inventory, scan
from cmkguard.aws import paging
from cmkguard.aws.access import AwsAccess
from cmkguard.aws.errormap import MalformedResponseError
from cmkguard.aws.paging import MAX_EMPTY_PAGES, iter_items
from cmkguard.testing import Fault, FaultKind

REGION = "us-east-1"

# (signing name, client name, operation, result key, needs a KeyId)
LISTINGS = [
    ("kms", "kms", "ListKeys", "Keys", False),
    ("kms", "kms", "ListAliases", "Aliases", False),
    ("kms", "kms", "ListGrants", "Grants", True),
    ("kms", "kms", "ListKeyRotations", "Rotations", True),
    ("kms", "kms", "ListResourceTags", "Tags", True),
    ("rds", "rds", "DescribeDBInstances", "DBInstances", False),
    ("rds", "rds", "DescribeDBClusters", "DBClusters", False),
    ("rds", "rds", "DescribeDBSnapshots", "DBSnapshots", False),
    ("rds", "rds", "DescribeDBClusterSnapshots", "DBClusterSnapshots", False),
    ("secretsmanager", "secretsmanager", "ListSecrets", "SecretList", False),
    ("tagging", "resourcegroupstaggingapi", "GetResources", "ResourceTagMappingList", False),
]
IDS = [listing[2] for listing in LISTINGS]


@pytest.fixture(name="estate", scope="module")
def _estate(cmkguard_seeded_estate_module: Any) -> Any:
    return cmkguard_seeded_estate_module


@pytest.fixture(name="access", scope="module")
def _access(estate: Any) -> Any:
    with AwsAccess.from_session(estate.aws.session(REGION)) as access:
        yield access


@pytest.fixture(name="key_id", scope="module")
def _key_id(estate: Any) -> str:
    """A customer-managed key of the region with grants, tags and rotation (each listing of
    a key then has items to lose)."""
    keys = [
        k
        for k in estate.truth.keys.values()
        if k.region == REGION
        and k.manager == "CUSTOMER"
        and k.state == "Enabled"
        and k.tags
        and k.rotation_enabled
    ]
    assert keys, "the seeded estate has a tagged CMK with rotation"
    kms = estate.aws.client("kms", REGION)
    key_id = str(keys[0].arn)
    kms.rotate_key_on_demand(KeyId=key_id)  # so ListKeyRotations has an entry to lose
    if not kms.list_grants(KeyId=key_id)["Grants"]:
        kms.create_grant(
            KeyId=key_id,
            GranteePrincipal=f"arn:aws:iam::{estate.aws.primary_account}:role/reader",
            Operations=["Decrypt"],
        )
    return key_id


IDENTITY = (
    "KeyArn",
    "AliasArn",
    "GrantId",
    "RotationDate",
    "TagKey",
    "DBInstanceArn",
    "DBClusterArn",
    "DBSnapshotArn",
    "DBClusterSnapshotArn",
    "ARN",
    "ResourceARN",
)
"""What names an item (moto recomputes some fields, such as `LatestRestorableTime`, at
each answer: two listings of the same items are compared by what they list)."""


def _identity(item: dict[str, Any]) -> Any:
    found = [item[name] for name in IDENTITY if name in item]
    assert found, f"no identity field in {sorted(item)}"
    return found[0]


def _items(access: Any, listing: tuple[str, str, str, str, bool], key_id: str) -> list[Any]:
    _signing, client_name, operation, result_key, keyed = listing
    params = {"KeyId": key_id} if keyed else None
    items = iter_items(access.client(client_name, REGION), operation, result_key, params)
    return [_identity(item) for item in items]


def _with(estate: Any, *faults: Fault) -> Any:
    injector = estate.aws.faults
    injector.clear()
    injector.add(*faults)
    return injector


@pytest.mark.parametrize("listing", LISTINGS, ids=IDS)
def test_empty_pages_with_a_next_token_are_paged_through(
    estate: Any, access: Any, key_id: str, listing: tuple[str, str, str, str, bool]
) -> None:
    signing, _client, operation, _key, _keyed = listing
    clean = _items(access, listing, key_id)
    assert clean, f"{operation} lists something in the seeded estate"
    try:
        for run in (1, 5):
            injector = _with(
                estate, Fault(FaultKind.EMPTY_PAGE, service=signing, operation=operation, first=run)
            )
            assert _items(access, listing, key_id) == clean, f"{run} empty page(s)"
            assert injector.injected() == {(signing, operation, "empty-page"): run}
    finally:
        estate.aws.faults.clear()


@pytest.mark.parametrize("listing", LISTINGS, ids=IDS)
def test_a_run_of_empty_pages_past_the_limit_is_a_broken_listing(
    estate: Any, access: Any, key_id: str, listing: tuple[str, str, str, str, bool]
) -> None:
    signing, _client, operation, result_key, _keyed = listing
    fault = Fault(FaultKind.EMPTY_PAGE, service=signing, operation=operation)
    _with(estate, fault)
    try:
        with pytest.raises(MalformedResponseError, match="empty pages in a row") as caught:
            _items(access, listing, key_id)
    finally:
        estate.aws.faults.clear()
    assert caught.value.operation == operation
    assert caught.value.missing == result_key
    assert f"{MAX_EMPTY_PAGES + 1} empty pages" in str(caught.value)


# moto pages these three (it answers ListKeys and ListAliases in one page whatever the Limit).
@pytest.mark.parametrize("operation", ["ListSecrets", "DescribeDBInstances", "GetResources"])
def test_empty_pages_between_full_pages_lose_nothing(
    estate: Any, access: Any, key_id: str, operation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = next(item for item in LISTINGS if item[2] == operation)
    monkeypatch.setattr(paging, "MAX_PAGE_SIZE", {operation: 2})
    clean = _items(access, listing, key_id)
    assert len(clean) > 4, "several pages of 2"
    injector = _with(estate, Fault(FaultKind.EMPTY_PAGE, operation=operation, skip=1, first=3))
    try:
        assert _items(access, listing, key_id) == clean
        assert sum(injector.injected().values()) == 3
    finally:
        injector.clear()


def _summary(inventory: Inventory) -> dict[str, tuple[str, str | None]]:
    return {r.arn: (r.key_class.value, r.key_arn) for r in inventory.resources}


def test_a_scan_through_empty_pages_on_every_listing_equals_the_clean_scan(estate: Any) -> None:
    regions = ("us-east-1", "eu-west-1")
    clean = scan(estate.aws.session(REGION), regions=regions)
    injector = _with(
        estate,
        *(
            Fault(FaultKind.EMPTY_PAGE, service=s, operation=op, first=4)
            for s, _c, op, _k, _r in LISTINGS
        ),
    )
    try:
        faulted = scan(estate.aws.session(REGION), regions=regions)
        fired = {op for (_s, op, _kind) in injector.injected()}
    finally:
        injector.clear()
    assert faulted.errors == ()
    assert _summary(faulted) == _summary(clean)
    assert set(faulted.keys) == set(clean.keys)
    assert fired >= {
        "ListKeys",
        "ListAliases",
        "ListSecrets",
        "DescribeDBInstances",
        "GetResources",
    }


def test_a_scan_reports_a_listing_that_only_sends_empty_pages(estate: Any) -> None:
    regions = ("us-east-1", "eu-west-1")
    fault = Fault(FaultKind.EMPTY_PAGE, operation="ListSecrets", region="eu-west-1")
    _with(estate, fault)
    try:
        inventory = scan(estate.aws.session(REGION), regions=regions)
    finally:
        estate.aws.faults.clear()
    errors = [e for e in inventory.errors if e.error_code == "MalformedResponse"]
    assert [(e.region, e.operation) for e in errors] == [("eu-west-1", "ListSecrets")]
    assert "empty pages in a row" in errors[0].reason
    assert estate.truth.unaccounted(inventory) == []
    assert not [
        r
        for r in inventory.resources
        if r.resource_type == "secretsmanager:secret" and r.region == "eu-west-1"
    ]
