"""scan() on a small hand-built estate in the emulated account: classes, keys, requests."""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs
import pytest

import cmkguard
from cmkguard import ConfigurationError, Inventory, KeyClass, ScanEvent, ScanEventKind, scan

PRIMARY = "111122223333"
OTHER = "444455556666"
REGIONS = ("us-east-1", "eu-west-1")
SmallEstate = Any  # the conftest's SmallEstate (conftest modules are not importable)


def _by_name(inv: Inventory) -> dict[str, cmkguard.EncryptedResource]:
    return {f"{r.name}@{r.region}" if r.region != "us-east-1" else r.name: r for r in inv.resources}


def _count_calls(session: Any) -> Counter[str]:
    calls: Counter[str] = Counter()

    def record(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}:{model.name}"] += 1

    session.events.register("before-call", record)
    return calls


@pytest.fixture(name="inventory", scope="module")
def _inventory(shared_small_estate: SmallEstate) -> Inventory:
    return scan(shared_small_estate.aws.session("us-east-1"), regions=REGIONS)


def test_every_resource_gets_the_expected_key_class(
    shared_small_estate: SmallEstate, inventory: Inventory
) -> None:
    found = _by_name(inventory)
    for name, key_class in shared_small_estate.expected.items():
        assert found[name].key_class is key_class, (name, found[name])


def test_key_identifiers_in_every_form_normalise_to_the_key_arn(
    shared_small_estate: SmallEstate, inventory: Inventory
) -> None:
    found = _by_name(inventory)
    # alias name, key id, key ARN: one key ARN.
    assert found["sec-cmk"].key_reference == "alias/orders"
    assert found["db-cmk-alias"].key_arn == shared_small_estate.cmk_arn
    assert found["db-cmk-id"].key_arn == shared_small_estate.cmk_arn
    assert found["sec-cmk"].key_arn == shared_small_estate.cmk_arn
    assert found["db-eu@eu-west-1"].key_arn == shared_small_estate.eu_cmk_arn


def test_default_keys_resolve_to_the_aws_managed_keys(inventory: Inventory) -> None:
    found = _by_name(inventory)
    secret = found["sec-default"]
    assert secret.key_reference is None  # Secrets Manager omits KmsKeyId for aws/secretsmanager
    assert secret.key_arn is not None
    assert inventory.keys[secret.key_arn].aliases == ("alias/aws/secretsmanager",)
    db = found["db-default"]
    assert db.key_arn is not None
    assert inventory.keys[db.key_arn].aliases == ("alias/aws/rds",)
    assert inventory.keys[db.key_arn].is_aws_managed


def test_another_accounts_key_is_cross_account_even_if_it_cannot_be_described(
    shared_small_estate: SmallEstate, inventory: Inventory
) -> None:
    secret = _by_name(inventory)["sec-other"]
    assert secret.key_arn == shared_small_estate.other_key_arn
    assert secret.key_arn.split(":")[4] == OTHER


def test_a_key_whose_describe_is_denied_is_unknown_with_a_reason_and_an_error(
    shared_small_estate: SmallEstate, inventory: Inventory
) -> None:
    db = _by_name(inventory)["db-denied"]
    assert db.key_class is KeyClass.UNKNOWN
    assert db.reason
    assert "denied" in db.reason.lower()
    errors = [e for e in inventory.errors if e.target == shared_small_estate.denied_key_arn]
    assert [(e.operation, e.account, e.region) for e in errors] == [
        ("DescribeKey", PRIMARY, "us-east-1")
    ]
    assert shared_small_estate.denied_key_arn not in inventory.keys


def test_unencrypted_resources_have_no_key(inventory: Inventory) -> None:
    db = _by_name(inventory)["db-plain"]
    assert (db.key_arn, db.key_reference) == (None, None)


def test_keys_carry_metadata_aliases_tags_rotation_policy_and_grants(
    shared_small_estate: SmallEstate, inventory: Inventory
) -> None:
    cmk = inventory.keys[shared_small_estate.cmk_arn]
    assert cmk.manager == "CUSTOMER"
    assert cmk.aliases == ("alias/orders",)
    assert cmk.tags == {"owner": "team-a"}
    assert cmk.rotation is not None
    assert cmk.rotation.enabled is True
    assert cmk.rotation.period_days is None  # moto omits RotationPeriodInDays: not invented
    assert cmk.policy is not None
    assert "Statement" in cmk.policy
    asym = inventory.keys[shared_small_estate.asym_key_arn]
    assert asym.rotation is not None
    assert asym.rotation.applicable is False
    assert shared_small_estate.eu_cmk_arn in inventory.keys


def test_aws_managed_keys_are_included_and_marked(inventory: Inventory) -> None:
    managed = [k for k in inventory.keys.values() if k.is_aws_managed]
    assert {a for k in managed for a in k.aliases} >= {"alias/aws/rds", "alias/aws/secretsmanager"}
    for key in managed:
        assert key.rotation is not None
        assert key.rotation.enabled is True
        assert key.rotation.period_days == 365


def test_describe_key_is_called_once_per_unique_key_per_region(
    shared_small_estate: SmallEstate,
) -> None:
    session = shared_small_estate.aws.session("us-east-1")
    calls: Counter[tuple[str, str]] = Counter()

    def record(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        calls[(context["client_region"], params["KeyId"])] += 1

    session.events.register("before-parameter-build.kms.DescribeKey", record)
    inv = scan(session, regions=REGIONS)
    assert calls, "no DescribeKey recorded: the hook is not wired"
    assert max(calls.values()) == 1, calls
    # One per listed key per region, plus one for the other account's key; none per resource.
    listed = sum(1 for k in inv.keys.values() if k.account == PRIMARY) + 1  # + denied key
    assert sum(calls.values()) == listed + 1


def test_per_key_reads_skip_what_cannot_apply(shared_small_estate: SmallEstate) -> None:
    session = shared_small_estate.aws.session("us-east-1")
    targets: Counter[str] = Counter()

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name in ("GetKeyRotationStatus", "GetKeyPolicy", "ListGrants"):
            targets[f"{model.name} {params['KeyId']}"] += 1

    session.events.register("before-parameter-build.kms", record)
    inv = scan(session, regions=REGIONS)
    for key in inv.keys.values():
        if key.is_aws_managed:
            assert not [t for t in targets if key.key_id in t], key.aliases
    asym_id = shared_small_estate.asym_key_arn.rsplit("/", 1)[-1]
    assert f"GetKeyRotationStatus {asym_id}" not in targets
    assert f"GetKeyPolicy {asym_id}" in targets


def test_the_scan_never_reads_a_secret_value(shared_small_estate: SmallEstate) -> None:
    scan(shared_small_estate.aws.session("us-east-1"), regions=REGIONS)
    counts = shared_small_estate.aws.request_counts()
    assert counts.get(("secretsmanager", "ListSecrets"), 0) >= 2
    assert not [op for (svc, op) in counts if op in ("GetSecretValue", "BatchGetSecretValue")]


def test_secret_replicas_are_recorded_with_their_region_and_key(inventory: Inventory) -> None:
    primary = _by_name(inventory)["sec-replicated"]
    replicas = [k for k in primary.secondary_keys if k.purpose == "replica"]
    assert [k.region for k in replicas] == ["eu-west-1"]
    assert replicas[0].key_class is not KeyClass.UNKNOWN
    replica = _by_name(inventory)["sec-replicated@eu-west-1"]
    assert replica.details["primary_region"] == "us-east-1"
    assert replica.details["is_replica"] is True


def test_snapshots_record_their_type(inventory: Inventory) -> None:
    types = {
        r.name: r.details.get("snapshot_type")
        for r in inventory.resources
        if r.resource_type == "rds:db-snapshot"
    }
    assert types["snap-default"] == "manual"
    assert "automated" in types.values()


def test_the_inventory_round_trips_through_json(inventory: Inventory) -> None:
    again = Inventory.from_json(inventory.to_json())
    assert again == inventory
    assert again.to_dict() == inventory.to_dict()


def test_resource_types_and_service_prefixes_narrow_the_scan(
    shared_small_estate: SmallEstate,
) -> None:
    session = shared_small_estate.aws.session("us-east-1")
    inv = scan(session, regions=["us-east-1"], resource_types=["secretsmanager:secret"])
    assert {r.resource_type for r in inv.resources} == {"secretsmanager:secret"}
    inv = scan(session, regions=["us-east-1"], resource_types=["rds"])
    assert {r.resource_type for r in inv.resources} == {"rds:db-instance", "rds:db-snapshot"}
    assert inv.resource_types == (
        "rds:db-instance",
        "rds:db-cluster",
        "rds:db-snapshot",
        "rds:db-cluster-snapshot",
    )


def test_progress_hooks_see_every_unit(shared_small_estate: SmallEstate) -> None:
    class Recorder(cmkguard.NullProgress):
        def __init__(self) -> None:
            self.total = 0
            self.done = 0
            self.finished: Inventory | None = None

        def on_start(self, units: int) -> None:
            self.total += units

        def on_units_added(self, units: int) -> None:
            self.total += units

        def on_unit_done(self, unit: Any, items: int, errors: int) -> None:
            self.done += 1

        def on_finish(self, inventory: Inventory) -> None:
            self.finished = inventory

    recorder = Recorder()
    with pytest.warns(DeprecationWarning, match="ScanEvent"):  # the old style, for one release
        inv = scan(shared_small_estate.aws.session("us-east-1"), regions=REGIONS, progress=recorder)
    assert recorder.total == recorder.done > 2 * 7
    assert recorder.finished is inv


def test_a_progress_object_may_implement_only_some_hooks(shared_small_estate: SmallEstate) -> None:
    seen: list[int] = []

    class OnlyStart:
        def on_start(self, units: int) -> None:
            seen.append(units)

    with pytest.warns(DeprecationWarning, match="ScanEvent"):
        scan(
            shared_small_estate.aws.session("us-east-1"),
            regions=["us-east-1"],
            progress=OnlyStart(),
        )
    # The region's key listing, its alias listing (at the same time) and one per resource type.
    assert seen == [7]


def test_progress_is_a_callable_receiving_frozen_events(shared_small_estate: SmallEstate) -> None:
    events: list[ScanEvent] = []
    inv = scan(
        shared_small_estate.aws.session("us-east-1"), regions=REGIONS, progress=events.append
    )
    kinds = [e.kind for e in events]
    assert kinds[0] is ScanEventKind.STARTED
    assert events[0].added == events[0].total == 2 * 7  # per region: keys, aliases, 5 types
    assert kinds[-1] is ScanEventKind.FINISHED
    assert events[-1].inventory is inv
    done = [e for e in events if e.kind is ScanEventKind.UNIT_DONE]
    assert [e.done for e in done] == list(range(1, len(done) + 1))
    assert events[-1].done == events[-1].total == len(done) > 2 * 6
    assert ScanEventKind.UNITS_ADDED in kinds  # one unit per key after each key listing
    assert all(e.unit is not None and e.unit.region in REGIONS for e in done)
    assert sum(e.items for e in done) >= len(inv.resources)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        events[0].done = 0  # type: ignore[misc]
    with pytest.raises(ConfigurationError, match="callable"):
        scan(shared_small_estate.aws.session("us-east-1"), regions=REGIONS, progress=42)  # type: ignore[arg-type]


def test_multi_account_scan_by_assuming_roles(shared_small_estate: SmallEstate) -> None:
    aws = shared_small_estate.aws
    roles = [f"arn:aws:iam::{a}:role/cmkguard-scan" for a in (PRIMARY, OTHER)]
    inv = scan(aws.session("us-east-1"), regions=["us-east-1"], role_arns=roles)
    assert inv.accounts == (PRIMARY, OTHER)
    assert shared_small_estate.other_key_arn in inv.keys
    assert {r.account for r in inv.resources} == {PRIMARY}
