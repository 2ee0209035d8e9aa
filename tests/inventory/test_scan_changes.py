"""scan() on estates a test changes first (function-scoped emulator)."""

from __future__ import annotations

from typing import Any

from cmkguard import KeyClass, scan

PRIMARY = "111122223333"
REGIONS = ("us-east-1", "eu-west-1")
SmallEstate = Any


def test_rds_master_user_secret_and_owning_service(cmkguard_emulated_aws: Any) -> None:
    kms = cmkguard_emulated_aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    cmkguard_emulated_aws.client("rds").create_db_instance(
        DBInstanceIdentifier="managed",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        ManageMasterUserPassword=True,
        MasterUserSecretKmsKeyId=key["Arn"],
        StorageEncrypted=True,
    )
    inv = scan(cmkguard_emulated_aws.session(), regions=["us-east-1"])
    db = next(r for r in inv.resources if r.resource_type == "rds:db-instance")
    (use,) = [k for k in db.secondary_keys if k.purpose == "master-user-secret"]
    assert (use.key_arn, use.key_class) == (key["Arn"], KeyClass.CUSTOMER_MANAGED)
    secret = next(r for r in inv.resources if r.resource_type == "secretsmanager:secret")
    assert secret.details["owning_service"] == "rds"
    assert use.detail == secret.arn


def test_tags_come_from_the_listing_without_per_resource_tag_calls(
    small_estate: SmallEstate,
) -> None:
    small_estate.aws.client("rds").add_tags_to_resource(
        ResourceName=f"arn:aws:rds:us-east-1:{PRIMARY}:db:db-plain",
        Tags=[{"Key": "team", "Value": "payments"}],
    )
    small_estate.aws.reset_request_counts()
    inv = scan(small_estate.aws.session("us-east-1"), regions=REGIONS)
    assert next(r for r in inv.resources if r.name == "db-plain").tags == {"team": "payments"}
    ops = {op for (_, op) in small_estate.aws.request_counts()}
    assert not ops & {"ListTagsForResource", "DescribeSecret"} - {"DescribeSecret"}
    assert "ListTagsForResource" not in ops


def test_a_replicated_primary_is_described_for_its_replicas_keys(small_estate: Any) -> None:
    # moto's ListSecrets omits PrimaryRegion on a primary (AWS reports it for replicated
    # secrets): an after-call hook adds it to that one secret, so the DescribeSecret path runs.
    session = small_estate.aws.session("us-east-1")

    def add_primary_region(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        for entry in parsed.get("SecretList", ()):
            if entry["Name"] == "sec-replicated" and context["client_region"] == "us-east-1":
                entry["PrimaryRegion"] = "us-east-1"

    described: list[str] = []
    session.events.register("after-call.secretsmanager.ListSecrets", add_primary_region)
    session.events.register(
        "before-parameter-build.secretsmanager.DescribeSecret",
        lambda params, **_: described.append(params["SecretId"]),
    )
    inv = scan(session, regions=["us-east-1"])  # the replica region is not scanned
    primary = next(r for r in inv.resources if r.name == "sec-replicated")
    assert described == [primary.arn]
    (replica,) = [k for k in primary.secondary_keys if k.purpose == "replica"]
    assert replica.region == "eu-west-1"
    # ReplicationStatus names alias/aws/secretsmanager: resolved in eu-west-1, not us-east-1.
    assert replica.key_class is KeyClass.AWS_MANAGED
