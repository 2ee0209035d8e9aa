"""The static KMS action model stays in step with botocore's kms service model."""

from __future__ import annotations

import botocore.session

from cmkguard.policy import KMS_ACTIONS


def test_every_botocore_kms_operation_is_in_the_action_model() -> None:
    # ReEncrypt is authorised by the permissions ReEncryptFrom/ReEncryptTo, not by its own name.
    model = botocore.session.get_session().get_service_model("kms")
    operations = {f"kms:{op}" for op in model.operation_names} - {"kms:ReEncrypt"}
    missing = operations - set(KMS_ACTIONS)
    assert not missing, f"regenerate src/cmkguard/policy/_actions.py: {sorted(missing)}"


def test_action_model_is_sorted_unique_and_has_permission_only_actions() -> None:
    assert list(KMS_ACTIONS) == sorted(set(KMS_ACTIONS))
    assert {"kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:SynchronizeMultiRegionKey"} <= set(
        KMS_ACTIONS
    )
    assert "kms:ReEncrypt" not in KMS_ACTIONS
