"""The aws/ layer's pure parts: regions, error mapping, key resolution, session specs."""

from __future__ import annotations

import pickle

import boto3
import botocore.exceptions as bx
import pytest

from cmkguard import (
    EndpointUnreachableError,
    KeyClass,
    KmsKey,
    NoCredentialsError,
    SessionSpec,
    UnknownRegionError,
)
from cmkguard.aws.access import _fast_timestamp
from cmkguard.aws.errormap import access_error, failure
from cmkguard.aws.regions import known_regions, partition_of, validate_regions
from cmkguard.aws.session import EndpointSession
from cmkguard.inventory.resolve import KeyResolver, Lookup, Resolved
from cmkguard.types import KeyArn

ACCOUNT = "111122223333"
OTHER = "444455556666"
CMK = KeyArn(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1111")
RDS_KEY = KeyArn(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/2222")


def test_regions_come_from_botocore_partitions() -> None:
    assert {"eu-west-1", "us-gov-west-1", "cn-north-1"} <= known_regions()
    assert partition_of("cn-north-1") == "aws-cn"
    assert validate_regions([" eu-west-1", "eu-west-1", "us-east-1"]) == ("eu-west-1", "us-east-1")


def test_an_unknown_region_lists_close_names_or_the_commercial_partition() -> None:
    with pytest.raises(UnknownRegionError) as typo:
        validate_regions(["eu-west-9"])
    assert "eu-west-1" in typo.value.known
    with pytest.raises(UnknownRegionError) as nonsense:
        validate_regions(["mars"])
    assert "us-east-1" in nonsense.value.known
    assert "cn-north-1" not in nonsense.value.known
    assert str(nonsense.value).startswith("unknown region 'mars'")


def _client_error(code: str, attempts: int = 0) -> bx.ClientError:
    return bx.ClientError(
        {
            "Error": {"Code": code, "Message": "nope"},
            "ResponseMetadata": {"RetryAttempts": attempts},
        },
        "ListSecrets",
    )


def test_failures_are_phrased_for_a_human() -> None:
    assert failure(_client_error("AccessDeniedException")) == (
        "AccessDeniedException",
        "access denied: nope",
    )
    code, reason = failure(_client_error("ThrottlingException", 7))
    assert (code, reason) == ("ThrottlingException", "throttled (still after 7 retries): nope")
    code, reason = failure(bx.EndpointConnectionError(endpoint_url="https://kms.x"))
    assert code == "EndpointConnectionError"
    assert "not reachable" in reason


def test_access_errors_map_to_cmkguard_exceptions() -> None:
    assert isinstance(access_error(bx.NoCredentialsError()), NoCredentialsError)
    unreachable = access_error(bx.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"))
    assert isinstance(unreachable, EndpointUnreachableError)
    assert unreachable.endpoint == "http://127.0.0.1:9"
    assert access_error(_client_error("AccessDenied")) is None
    assert pickle.loads(pickle.dumps(unreachable)).endpoint == unreachable.endpoint


def _key(arn: str, manager: str = "CUSTOMER") -> KmsKey:
    return KmsKey(
        arn=KeyArn(arn),
        key_id=arn.rsplit("/", 1)[-1],
        account=arn.split(":")[4],  # type: ignore[arg-type]
        region=arn.split(":")[3],  # type: ignore[arg-type]
        manager=manager,
        state="Enabled",
    )


@pytest.fixture(name="resolver")
def _resolver() -> KeyResolver:
    resolver = KeyResolver(scanned={(ACCOUNT, "eu-west-1")})
    resolver.add_listing(
        ACCOUNT, "eu-west-1", (CMK, RDS_KEY), {"alias/app": "1111", "alias/aws/rds": "2222"}
    )
    resolver.add_key(_key(CMK))
    resolver.add_key(_key(RDS_KEY, "AWS"))
    return resolver


@pytest.mark.parametrize(
    "ident",
    ["1111", CMK, "alias/app", f"arn:aws:kms:eu-west-1:{ACCOUNT}:alias/app"],
)
def test_every_identifier_form_resolves_from_the_listing(resolver: KeyResolver, ident: str) -> None:
    answer = resolver.lookup(ACCOUNT, "eu-west-1", ident)
    assert isinstance(answer, Resolved)
    assert answer.key_arn == CMK
    assert answer.classify(ACCOUNT) == (KeyClass.CUSTOMER_MANAGED, None)


def test_aws_managed_and_missing_default_aliases(resolver: KeyResolver) -> None:
    answer = resolver.lookup(ACCOUNT, "eu-west-1", "alias/aws/rds")
    assert isinstance(answer, Resolved)
    assert answer.classify(ACCOUNT)[0] is KeyClass.AWS_MANAGED
    # aws/secretsmanager does not exist yet: still AWS-managed, no key ARN, no request.
    missing = resolver.lookup(ACCOUNT, "eu-west-1", "alias/aws/secretsmanager")
    assert isinstance(missing, Resolved)
    assert missing.key_arn is None
    assert missing.classify(ACCOUNT)[0] is KeyClass.AWS_MANAGED


def test_what_the_listing_cannot_answer_needs_a_describe(resolver: KeyResolver) -> None:
    other = f"arn:aws:kms:eu-west-1:{OTHER}:key/9999"
    assert resolver.lookup(ACCOUNT, "eu-west-1", other) is Lookup.DESCRIBE
    assert resolver.lookup(ACCOUNT, "eu-west-1", "alias/unknown") is Lookup.DESCRIBE
    assert resolver.lookup(ACCOUNT, "us-east-1", "alias/app") is Lookup.DESCRIBE  # not scanned
    resolver.scanned.add((ACCOUNT, "us-east-1"))
    assert resolver.lookup(ACCOUNT, "us-east-1", "alias/app") is Lookup.WAIT
    # A describe that fails still leaves the other account's key cross-account, with a reason.
    resolver.add_described(ACCOUNT, "eu-west-1", other, None, "access denied: no")
    answer = resolver.lookup(ACCOUNT, "eu-west-1", other)
    assert isinstance(answer, Resolved)
    assert answer.key_arn == other
    assert answer.classify(ACCOUNT) == (KeyClass.CROSS_ACCOUNT, "access denied: no")


def test_a_listed_key_whose_describe_was_denied_is_unknown(resolver: KeyResolver) -> None:
    denied = KeyArn(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/3333")
    resolver.add_listing(ACCOUNT, "eu-west-1", (CMK, denied), {})
    assert resolver.lookup(ACCOUNT, "eu-west-1", denied) is Lookup.WAIT
    resolver.add_denied(denied, "access denied: key policy")
    answer = resolver.lookup(ACCOUNT, "eu-west-1", "3333")
    assert isinstance(answer, Resolved)
    assert answer.classify(ACCOUNT) == (KeyClass.UNKNOWN, "access denied: key policy")


def test_unrecognised_identifiers_are_unknown(resolver: KeyResolver) -> None:
    answer = resolver.lookup(ACCOUNT, "eu-west-1", "arn:aws:s3:::bucket")
    assert isinstance(answer, Resolved)
    assert answer.classify(ACCOUNT)[0] is KeyClass.UNKNOWN


def test_session_spec_captures_explicit_keys_and_endpoint_but_never_prints_them() -> None:
    session = EndpointSession(
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="very-secret",
        region_name="eu-west-1",
    )
    spec = SessionSpec.from_session(session)
    assert (spec.endpoint_url, spec.access_key_id, spec.region) == (
        "http://127.0.0.1:1",
        "AKIAEXAMPLE",
        "eu-west-1",
    )
    assert "very-secret" not in repr(spec)
    again = pickle.loads(pickle.dumps(spec))
    rebuilt = again.build_base_session()
    assert isinstance(rebuilt, EndpointSession)
    assert rebuilt.get_credentials().secret_key == "very-secret"  # type: ignore[union-attr]
    assert spec.for_role("arn:aws:iam::1:role/x").role_arn == "arn:aws:iam::1:role/x"


def test_session_spec_of_a_profile_session_keeps_only_the_profile(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"  # type: ignore[operator]
    config.write_text("[profile audit]\nregion = eu-west-1\n")
    credentials = tmp_path / "credentials"  # type: ignore[operator]
    credentials.write_text("[audit]\naws_access_key_id = A\naws_secret_access_key = B\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    spec = SessionSpec.from_session(boto3.Session(profile_name="audit"))
    assert (spec.profile, spec.region, spec.access_key_id) == ("audit", "eu-west-1", None)


@pytest.mark.parametrize(
    "value", ["2026-11-22T13:29:32.809306Z", "2026-11-22T13:29:32+00:00", 1700000000.5, "17000"]
)
def test_fast_timestamps_equal_botocores(value: object) -> None:
    from botocore.utils import parse_timestamp

    assert _fast_timestamp(value) == parse_timestamp(value)


def test_the_newest_rotation_wins_whatever_the_listing_order() -> None:
    from datetime import UTC, datetime

    from cmkguard.inventory.aws_kms import newest_rotation

    old, new = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)
    entries = [
        {"RotationDate": new, "RotationType": "ON_DEMAND"},
        {"RotationDate": old, "RotationType": "AUTOMATIC"},
        {"RotationType": "AUTOMATIC"},  # imported material listed without a date
    ]
    assert newest_rotation(entries) == new
    assert newest_rotation(reversed(entries)) == new
    assert newest_rotation([]) is None
