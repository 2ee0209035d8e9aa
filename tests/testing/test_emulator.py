"""EmulatedAWS: loopback only, accounts, AWS-managed keys on first use, latency, counts, reset."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from cmkguard.errors import ConfigurationError
from cmkguard.testing import EmulatedAWS

PRIMARY = "111122223333"
SECOND = "444455556666"
PLACEHOLDER = "default_kms_key_id"


def _create_instance(rds: object, name: str, **extra: object) -> dict[str, object]:
    response = rds.create_db_instance(  # type: ignore[attr-defined]
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="admin_user",
        MasterUserPassword="fake-password-1",
        AllocatedStorage=20,
        **extra,
    )
    instance: dict[str, object] = response["DBInstance"]
    return instance


def test_server_binds_loopback_only(cmkguard_emulated_aws: EmulatedAWS) -> None:
    parts = urlsplit(cmkguard_emulated_aws.endpoint_url)
    assert parts.hostname == "127.0.0.1"
    assert parts.port is not None
    assert parts.port != 5000


def test_primary_session_acts_in_primary_account(cmkguard_emulated_aws: EmulatedAWS) -> None:
    identity = cmkguard_emulated_aws.client("sts").get_caller_identity()
    assert identity["Account"] == PRIMARY


def test_unknown_credentials_act_in_primary_account(cmkguard_emulated_aws: EmulatedAWS) -> None:
    import boto3

    # The plugin's fake environment credentials (AWS_ACCESS_KEY_ID=testing).
    client = boto3.Session(region_name="us-east-1").client(
        "sts", endpoint_url=cmkguard_emulated_aws.endpoint_url
    )
    assert client.get_caller_identity()["Account"] == PRIMARY


def test_second_account_session_assumes_a_role_and_resources_land_there(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    identity = cmkguard_emulated_aws.client("sts", account=SECOND).get_caller_identity()
    assert identity["Account"] == SECOND
    assert ":assumed-role/" in identity["Arn"]

    key = cmkguard_emulated_aws.client("kms", account=SECOND).create_key()["KeyMetadata"]
    assert key["Arn"].split(":")[4] == SECOND
    primary_keys = cmkguard_emulated_aws.client("kms").list_keys()["Keys"]
    assert key["KeyId"] not in {k["KeyId"] for k in primary_keys}


def test_unknown_account_is_refused(cmkguard_emulated_aws: EmulatedAWS) -> None:
    with pytest.raises(ConfigurationError, match="not emulated"):
        cmkguard_emulated_aws.session(account="999999999999")


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        EmulatedAWS(accounts=())
    with pytest.raises(ConfigurationError):
        EmulatedAWS(accounts=("1234",))
    with pytest.raises(ConfigurationError):
        EmulatedAWS(latency_ms=-1)


def test_no_aws_managed_key_before_first_use(cmkguard_emulated_aws: EmulatedAWS) -> None:
    kms = cmkguard_emulated_aws.client("kms")
    assert kms.list_keys()["Keys"] == []
    assert kms.list_aliases()["Aliases"] == []


def test_encrypted_instance_without_key_creates_aws_rds_key(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    rds = cmkguard_emulated_aws.client("rds")
    kms = cmkguard_emulated_aws.client("kms")
    created = _create_instance(rds, "db-default", StorageEncrypted=True)

    aliases = {a["AliasName"]: a["TargetKeyId"] for a in kms.list_aliases()["Aliases"]}
    assert set(aliases) == {"alias/aws/rds"}
    meta = kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert meta["KeyId"] == aliases["alias/aws/rds"]
    assert created["KmsKeyId"] == meta["Arn"]
    assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"] is True
    # One AWS-managed key per account and region, however many resources use it.
    _create_instance(rds, "db-default-2", StorageEncrypted=True)
    assert len(kms.list_keys()["Keys"]) == 1


def test_aws_managed_key_policy_is_via_service_only(cmkguard_emulated_aws: EmulatedAWS) -> None:
    import json

    _create_instance(
        cmkguard_emulated_aws.client("rds", region="eu-west-1"), "db", StorageEncrypted=True
    )
    kms = cmkguard_emulated_aws.client("kms", region="eu-west-1")
    key_id = kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["KeyId"]
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    via = policy["Statement"][0]["Condition"]["StringEquals"]
    assert via == {"kms:CallerAccount": PRIMARY, "kms:ViaService": "rds.eu-west-1.amazonaws.com"}
    # The other region has not used aws/rds: it has no such key.
    assert cmkguard_emulated_aws.client("kms").list_keys()["Keys"] == []


def test_describe_key_on_predefined_alias_never_makes_a_customer_key(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    kms = cmkguard_emulated_aws.client("kms")
    meta = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert all(
        kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyManager"] == "AWS"
        for k in kms.list_keys()["Keys"]
    )


def test_no_placeholder_on_rds_resources(cmkguard_emulated_aws: EmulatedAWS) -> None:
    rds = cmkguard_emulated_aws.client("rds")
    _create_instance(rds, "enc", StorageEncrypted=True)
    _create_instance(rds, "plain")
    rds.create_db_snapshot(DBInstanceIdentifier="enc", DBSnapshotIdentifier="enc-manual")
    for encrypted, name in ((True, "aur-enc"), (False, "aur-plain")):
        rds.create_db_cluster(
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            MasterUsername="admin_user",
            MasterUserPassword="fake-password-1",
            StorageEncrypted=encrypted,
        )
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier=name, DBClusterSnapshotIdentifier=f"{name}-manual"
        )
    responses = [
        rds.describe_db_instances(),
        rds.describe_db_clusters(),
        rds.describe_db_snapshots(),
        rds.describe_db_cluster_snapshots(),
    ]
    assert PLACEHOLDER not in repr(responses)
    aws_rds = cmkguard_emulated_aws.client("kms").describe_key(KeyId="alias/aws/rds")[
        "KeyMetadata"
    ]["Arn"]
    clusters = {c["DBClusterIdentifier"]: c for c in responses[1]["DBClusters"]}
    assert clusters["aur-enc"]["KmsKeyId"] == aws_rds
    assert "KmsKeyId" not in clusters["aur-plain"]
    snapshots = responses[2]["DBSnapshots"]
    assert {s["SnapshotType"] for s in snapshots} == {"manual", "automated"}
    assert all(s.get("KmsKeyId") in (aws_rds, None) for s in snapshots)


def test_secret_on_default_key_creates_aws_secretsmanager_key(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    sm = cmkguard_emulated_aws.client("secretsmanager")
    kms = cmkguard_emulated_aws.client("kms")
    assert kms.list_aliases()["Aliases"] == []
    sm.create_secret(Name="app/db", SecretString="fake")
    assert "KmsKeyId" not in sm.describe_secret(SecretId="app/db")
    meta = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert [a["AliasName"] for a in kms.list_aliases()["Aliases"]] == ["alias/aws/secretsmanager"]


def test_reset_clears_state(cmkguard_emulated_aws: EmulatedAWS) -> None:
    kms = cmkguard_emulated_aws.client("kms")
    kms.create_key()
    second = cmkguard_emulated_aws.client("kms", account=SECOND)
    second_sts = cmkguard_emulated_aws.client("sts", account=SECOND)
    second.create_key()
    cmkguard_emulated_aws.reset()
    assert kms.list_keys()["Keys"] == []
    assert second.list_keys()["Keys"] == []
    # A session handed out before the reset still acts in its account...
    assert second_sts.get_caller_identity()["Account"] == SECOND
    # ...and a new one assumes the role again.
    identity = cmkguard_emulated_aws.client("sts", account=SECOND).get_caller_identity()
    assert ":assumed-role/" in identity["Arn"]


def test_request_counts_count_per_operation(cmkguard_emulated_aws: EmulatedAWS) -> None:
    kms = cmkguard_emulated_aws.client("kms")
    rds = cmkguard_emulated_aws.client("rds")
    cmkguard_emulated_aws.reset_request_counts()
    kms.list_keys()
    kms.list_keys()
    rds.describe_db_instances()
    counts = cmkguard_emulated_aws.request_counts()
    assert counts[("kms", "ListKeys")] == 2
    assert counts[("rds", "DescribeDBInstances")] == 1
    cmkguard_emulated_aws.reset_request_counts()
    assert cmkguard_emulated_aws.request_counts() == {}


def test_latency_delays_each_request_and_requests_overlap() -> None:
    latency_ms = 30
    with EmulatedAWS(latency_ms=latency_ms) as aws:
        kms = aws.client("kms")
        kms.list_keys()  # warm the connection and the backend
        started = time.perf_counter()
        kms.list_keys()
        assert time.perf_counter() - started >= latency_ms / 1000

        def batch() -> float:
            with ThreadPoolExecutor(8) as pool:
                started = time.perf_counter()
                list(pool.map(lambda _: kms.list_keys(), range(8)))
                return time.perf_counter() - started

        # Behaviour, not a benchmark: 8 concurrent requests must not queue behind one another.
        # Compared with the same batch without latency, so a busy CPU does not make it flaky.
        # The best of three runs each: other processes on the machine only add time.
        with_latency = min(batch() for _ in range(3))
        aws.latency_ms = 0
        without_latency = min(batch() for _ in range(3))
        assert with_latency >= latency_ms / 1000
        assert with_latency - without_latency < 4 * latency_ms / 1000


def test_stopped_emulator_has_no_endpoint() -> None:
    aws = EmulatedAWS()
    with pytest.raises(RuntimeError, match="not running"):
        _ = aws.endpoint_url
    with aws:
        assert aws.running
    assert not aws.running


def test_cross_account_key_can_be_described_when_its_policy_allows(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    import json

    def policy(grantee: str | None) -> str:
        statements = [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SECOND}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
        if grantee:
            statements.append(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{grantee}:root"},
                    "Action": ["kms:DescribeKey", "kms:Decrypt"],
                    "Resource": "*",
                }
            )
        return json.dumps({"Version": "2012-10-17", "Statement": statements})

    owner = cmkguard_emulated_aws.client("kms", account=SECOND)
    shared = owner.create_key(Policy=policy(PRIMARY))["KeyMetadata"]
    private = owner.create_key(Policy=policy(None))["KeyMetadata"]
    kms = cmkguard_emulated_aws.client("kms")
    meta = kms.describe_key(KeyId=shared["Arn"])["KeyMetadata"]
    assert meta["AWSAccountId"] == SECOND
    assert meta["KeyManager"] == "CUSTOMER"
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=private["Arn"])


def test_fixture_environment_is_fake_and_local(cmkguard_emulated_aws: EmulatedAWS) -> None:
    import os

    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in os.environ
    assert not [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]


def test_sessions_ignore_profile_and_endpoint_settings(
    cmkguard_emulated_aws: EmulatedAWS, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A profile that does not exist would make a plain boto3.Session() raise.
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://192.0.2.1:9")
    client = cmkguard_emulated_aws.client("sts", region="eu-west-1")
    assert client.meta.endpoint_url == cmkguard_emulated_aws.endpoint_url
    assert client.get_caller_identity()["Account"] == PRIMARY


def test_missing_moto_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from cmkguard.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "moto.server", None)
    with pytest.raises(MissingExtraError, match=r"cmkguard\[demo\]"):
        EmulatedAWS().start()


def test_resources_made_on_moto_backends_are_fixed_before_reads(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    # As if a test made them with moto's decorator or backends, not through the emulator.
    from moto.core.parse import XFormedDict
    from moto.rds.models import rds_backends
    from moto.secretsmanager.models import secretsmanager_backends

    rds_backends[PRIMARY]["ap-south-1"].create_db_instance(
        XFormedDict(
            {
                "DBInstanceIdentifier": "made-on-backend",
                "Engine": "postgres",
                "DBInstanceClass": "db.t3.micro",
                "AllocatedStorage": 20,
                "StorageEncrypted": True,
            }
        )
    )
    secretsmanager_backends[PRIMARY]["ap-south-1"].create_secret(
        name="made-on-backend",
        secret_string="fake",
        secret_binary=None,
        description="",
        tags=[],
        kms_key_id=None,
        client_request_token=None,
        replica_regions=[],
        force_overwrite=False,
    )
    kms = cmkguard_emulated_aws.client("kms", region="ap-south-1")
    aliases = {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    assert aliases == {"alias/aws/rds", "alias/aws/secretsmanager"}
    rds = cmkguard_emulated_aws.client("rds", region="ap-south-1")
    (db,) = rds.describe_db_instances()["DBInstances"]
    assert db["KmsKeyId"] == kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["Arn"]


def test_aws_managed_keys_refuse_what_their_policy_does_not_allow(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    import json

    from botocore.exceptions import ClientError

    kms = cmkguard_emulated_aws.client("kms")
    meta = kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]
    key_id = meta["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    for call in (
        lambda: kms.disable_key(KeyId=key_id),
        lambda: kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7),
        lambda: kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy="{}"),
        lambda: kms.disable_key_rotation(KeyId=key_id),
        lambda: kms.encrypt(KeyId="alias/aws/rds", Plaintext=b"direct use"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    # Another account cannot use it either (kms:CallerAccount).
    other = cmkguard_emulated_aws.client("kms", account=SECOND)
    with pytest.raises(other.exceptions.NotFoundException):
        other.describe_key(KeyId=meta["Arn"])


def test_a_secret_replica_arn_changes_only_the_region_field(
    cmkguard_emulated_aws: EmulatedAWS,
) -> None:
    # moto 5.2.5 replaces the primary region everywhere in the ARN, the name included.
    primary = cmkguard_emulated_aws.client("secretsmanager", region="us-east-1").create_secret(
        Name="app/config-from-us-east-1",
        SecretString="never-read",
        AddReplicaRegions=[{"Region": "eu-west-1"}],
    )["ARN"]
    expected = primary.replace(":us-east-1:", ":eu-west-1:", 1)
    assert expected.count("us-east-1") == 1  # the name still names the primary region
    replica_sm = cmkguard_emulated_aws.client("secretsmanager", region="eu-west-1")
    (listed,) = replica_sm.list_secrets()["SecretList"]
    assert (listed["ARN"], listed["Name"]) == (expected, "app/config-from-us-east-1")
    described = replica_sm.describe_secret(SecretId=expected)
    assert (described["ARN"], described["PrimaryRegion"]) == (expected, "us-east-1")
    # Removing the replica finds it under its ARN.
    cmkguard_emulated_aws.client(
        "secretsmanager", region="us-east-1"
    ).remove_regions_from_replication(SecretId=primary, RemoveReplicaRegions=["eu-west-1"])
    assert replica_sm.list_secrets()["SecretList"] == []
