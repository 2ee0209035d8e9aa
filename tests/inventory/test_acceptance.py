"""Acceptance: on the seeded estate, every resource's key class matches the ground truth."""

from __future__ import annotations

from typing import Any

from cmkguard import Inventory, KeyClass, scan


def identity(r: Any) -> str:
    """A resource's identity: its ARN (a secret replica's too: the emulator reports the ARN AWS
    does, the primary's with only the region changed, even when the name holds a region)."""
    return str(r.arn)


def _scan(estate: Any) -> Inventory:
    truth = estate.truth
    return scan(estate.aws.session(truth.regions[0]), regions=truth.regions)


def test_every_seeded_resource_has_its_ground_truth_class_and_key(
    seeded_estate_module: Any,
) -> None:
    truth = seeded_estate_module.truth
    inv = _scan(seeded_estate_module)
    assert len(truth.regions) >= 2
    found = {identity(r): r for r in inv.resources}
    expected_by_id = {identity(r): r for r in truth.resources.values()}
    assert len(expected_by_id) == len(truth.resources)
    assert sorted(set(expected_by_id) - set(found)) == []
    assert sorted(set(found) - set(expected_by_id)) == []
    wrong = [
        (ident, expected.key_class.value, found[ident].key_class.value, found[ident].reason)
        for ident, expected in sorted(expected_by_id.items())
        if found[ident].key_class is not expected.key_class
    ]
    assert wrong == []
    wrong_keys = [
        (ident, expected.key_arn, found[ident].key_arn)
        for ident, expected in sorted(expected_by_id.items())
        if found[ident].key_arn != expected.key_arn
    ]
    assert wrong_keys == []
    # Both services, every class the seeding made, in every seeded region.
    assert {r.resource_type.split(":")[0] for r in truth.resources.values()} == {
        "rds",
        "secretsmanager",
    }
    assert {r.region for r in inv.resources} >= set(truth.regions)
    assert {KeyClass.AWS_MANAGED, KeyClass.CUSTOMER_MANAGED, KeyClass.UNENCRYPTED} <= {
        r.key_class for r in inv.resources
    }


def test_every_seeded_key_is_in_the_inventory_with_its_state_and_rotation(
    seeded_estate_module: Any,
) -> None:
    truth = seeded_estate_module.truth
    inv = _scan(seeded_estate_module)
    for arn, expected in truth.keys.items():
        if expected.account not in inv.accounts:
            continue
        key = inv.keys[arn]
        assert (key.manager, key.state) == (expected.manager, expected.state), arn
        assert set(expected.aliases) <= set(key.aliases), arn
        if expected.manager == "CUSTOMER" and key.rotation and key.rotation.applicable:
            assert key.rotation.enabled is expected.rotation_enabled, arn
        if expected.manager == "CUSTOMER":
            assert key.policy is not None, arn
            assert dict(key.tags) == dict(expected.tags), arn
    assert inv.errors == ()


def test_other_accounts_keys_are_external_keys_not_scanned_keys(
    seeded_estate_module: Any,
) -> None:
    inv = _scan(seeded_estate_module)
    cross = [r for r in inv.resources if r.key_class is KeyClass.CROSS_ACCOUNT]
    assert cross
    for resource in cross:
        assert resource.key_arn is not None
        assert resource.key_arn not in inv.keys
        external = inv.external_keys[resource.key_arn]  # the emulator lets the account describe
        assert external.account != resource.account
    assert all(k.account in inv.accounts for k in inv.keys.values())
    assert Inventory.from_json(inv.to_json()) == inv
