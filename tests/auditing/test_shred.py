"""Crypto-shredding readiness on the emulated account: a tenant on the AWS managed key, and a
CMK shared by two tenants, are reported; a tenant alone on its own CMK is not."""

from __future__ import annotations

import cmkguard
from cmkguard.testing import EmulatedAWS


def test_tenants_on_shared_or_aws_managed_keys(cmkguard_emulated_aws: EmulatedAWS) -> None:
    aws = cmkguard_emulated_aws
    kms, sm = aws.client("kms"), aws.client("secretsmanager")
    shared = kms.create_key()["KeyMetadata"]["Arn"]
    own = kms.create_key()["KeyMetadata"]["Arn"]
    sm.create_secret(
        Name="a1", SecretString="x", KmsKeyId=shared, Tags=[{"Key": "tenant", "Value": "acme"}]
    )
    sm.create_secret(
        Name="b1", SecretString="x", KmsKeyId=shared, Tags=[{"Key": "Tenant", "Value": "bolt"}]
    )
    sm.create_secret(Name="b2", SecretString="x", Tags=[{"Key": "tenant", "Value": "bolt"}])
    sm.create_secret(
        Name="c1", SecretString="x", KmsKeyId=own, Tags=[{"Key": "tenant", "Value": "core"}]
    )
    inv = cmkguard.scan(aws.session(), resource_types=["secretsmanager"])

    report = cmkguard.audit(inv, tenant_tag="tenant")
    (shared_finding,) = report.by_rule("tenant-key-shared")
    assert shared_finding.key_arn == shared
    assert sorted(shared_finding.evidence["tenants"]) == ["acme", "bolt"]
    (stuck,) = report.by_rule("tenant-key-not-shreddable")
    assert stuck.evidence["tenant"] == "bolt"
    assert [a.rsplit(":", 1)[-1].split("-")[0] for a in stuck.evidence["resources"]] == ["b2"]
    assert "cannot be crypto-shredded" in stuck.message
    assert stuck.remediation

    plain = cmkguard.audit(inv)
    assert not plain.by_rule("tenant-key-shared")
    assert not plain.by_rule("tenant-key-not-shreddable")
    assert cmkguard.AuditPolicy.from_dict({"tenant_tag": "tenant"}).tenant_tag == "tenant"
