"""cmkguard.aws's pure parts: region names from botocore's partitions, error mapping."""

from __future__ import annotations

import pickle

import botocore.exceptions as bx
import pytest

from cmkguard import EndpointUnreachableError, NoCredentialsError, UnknownRegionError
from cmkguard.aws.errormap import access_error, failure
from cmkguard.aws.regions import known_regions, partition_of, validate_regions


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
