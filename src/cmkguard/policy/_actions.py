"""The finite model of the KMS action space (GENERATED: do not edit by hand).

Source: the operation names of botocore's `kms` service model (botocore 1.44.5,
API version 2014-11-01), adjusted to the IAM permission names of the KMS service authorization
reference (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html):
the `ReEncrypt` operation is authorised by the two permissions `kms:ReEncryptFrom` and
`kms:ReEncryptTo`, and `kms:SynchronizeMultiRegionKey` is a permission without an API operation.

Regenerate with `python -c` over `botocore.session.get_session().get_service_model("kms")`
(see `tests/policy/test_actions.py`, which fails when botocore knows an operation this tuple
lacks). The policy package stays pure: this module is plain data.
"""

from __future__ import annotations

__all__ = ["KMS_ACTIONS"]

KMS_ACTIONS: tuple[str, ...] = (
    "kms:CancelKeyDeletion",
    "kms:ConnectCustomKeyStore",
    "kms:CreateAlias",
    "kms:CreateCustomKeyStore",
    "kms:CreateGrant",
    "kms:CreateKey",
    "kms:Decapsulate",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DeleteCustomKeyStore",
    "kms:DeleteImportedKeyMaterial",
    "kms:DeriveSharedSecret",
    "kms:DescribeCustomKeyStores",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:DisconnectCustomKeyStore",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encapsulate",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateMac",
    "kms:GenerateRandom",
    "kms:GetKeyLastUsage",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:GetParametersForImport",
    "kms:GetPublicKey",
    "kms:ImportKeyMaterial",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListKeys",
    "kms:ListResourceTags",
    "kms:ListRetirableGrants",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:ReplicateKey",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:Sign",
    "kms:SynchronizeMultiRegionKey",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateCustomKeyStore",
    "kms:UpdateKeyDescription",
    "kms:UpdatePrimaryRegion",
    "kms:Verify",
    "kms:VerifyMac",
)
"""Every `kms:` action a key policy can name, in canonical spelling, sorted."""
