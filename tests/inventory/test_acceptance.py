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
    cmkguard_seeded_estate_module: Any,
) -> None:
    truth = cmkguard_seeded_estate_module.truth
    inv = _scan(cmkguard_seeded_estate_module)
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
    cmkguard_seeded_estate_module: Any,
) -> None:
    truth = cmkguard_seeded_estate_module.truth
    inv = _scan(cmkguard_seeded_estate_module)
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
    cmkguard_seeded_estate_module: Any,
) -> None:
    inv = _scan(cmkguard_seeded_estate_module)
    cross = [r for r in inv.resources if r.key_class is KeyClass.CROSS_ACCOUNT]
    assert cross
    for resource in cross:
        assert resource.key_arn is not None
        assert resource.key_arn not in inv.keys
        external = inv.external_keys[resource.key_arn]  # the emulator lets the account describe
        assert external.account != resource.account
    assert all(k.account in inv.accounts for k in inv.keys.values())
    assert Inventory.from_json(inv.to_json()) == inv


def test_every_seeded_key_use_is_reported(cmkguard_seeded_estate_module: Any) -> None:
    # The ground truth lists each rotating secret's Lambda key (both the CMK and aws/lambda).
    truth = cmkguard_seeded_estate_module.truth
    inv = _scan(cmkguard_seeded_estate_module)
    found = {r.arn: r for r in inv.resources}
    expected = [(arn, u) for arn, r in truth.resources.items() for u in r.key_uses]
    assert expected, "the seeding records no key uses"
    for arn, use in expected:
        reported = [u for u in found[arn].secondary_keys if u.purpose == use.purpose]
        assert [(u.region, u.key_arn, u.key_class, u.detail) for u in reported] == [
            (use.region, use.key_arn, use.key_class, use.detail)
        ], arn
    assert {u.key_class for _, u in expected} >= {KeyClass.AWS_MANAGED}


def test_every_operation_a_scan_of_the_seeded_estate_makes_is_in_the_shipped_policy(
    cmkguard_seeded_estate_module: Any,
) -> None:
    # The seeded estate exercises what the small estate does not (rotation Lambdas, rotation
    # history): same check as test_iam_policy.py, on every operation the emulator counted.
    import fnmatch
    import json
    from pathlib import Path

    policy = Path(__file__).resolve().parents[2] / "docs" / "scan-iam-policy.json"
    statements = json.loads(policy.read_text())["Statement"]
    allowed = [a for s in statements if s["Effect"] == "Allow" for a in s["Action"]]
    denied = [a for s in statements if s["Effect"] == "Deny" for a in s["Action"]]
    aws = cmkguard_seeded_estate_module.aws
    aws.reset_request_counts()
    _scan(cmkguard_seeded_estate_module)
    seen = {f"{svc}:{op}".replace("tagging:", "tag:", 1) for svc, op in aws.request_counts()}
    assert {"lambda:GetFunctionConfiguration", "kms:ListKeyRotations"} <= seen

    def hit(action: str, patterns: list[str]) -> bool:
        return any(fnmatch.fnmatch(action.lower(), p.lower()) for p in patterns)

    assert [a for a in sorted(seen) if not hit(a, allowed) or hit(a, denied)] == []
