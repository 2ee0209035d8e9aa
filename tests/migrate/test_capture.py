"""capture_settings: the describe records a plan is built from, and its failure modes."""

from __future__ import annotations

import json

import pytest

from cmkguard.errors import AwsAccessError
from cmkguard.migrate import capture_settings

from .conftest import Estate, fail_operation


def test_captures_instances_clusters_with_members_and_skips_the_rest(estate: Estate) -> None:
    ghost = estate.instance_arn.replace(":db:orders", ":db:ghost")
    captured = capture_settings(
        estate.session,
        [
            estate.instance_arn,
            estate.cluster_arn,
            estate.secret_arn,
            estate.snapshot_arn,
            ghost,
            "x",
        ],
    )
    prefix = estate.instance_arn.replace(":db:orders", ":db:")
    assert set(captured) == {
        estate.instance_arn,
        estate.cluster_arn,
        prefix + "ledger-1",
        prefix + "ledger-2",
    }
    assert captured[estate.instance_arn]["Endpoint"]["Port"] == 5433
    json.dumps(captured)  # JSON-safe: datetimes became text


def test_a_refused_describe_is_an_access_error_naming_the_resource(estate: Estate) -> None:
    fail_operation(estate.session, "DescribeDBInstances", "AccessDenied", "not allowed")
    with pytest.raises(AwsAccessError, match="orders"):
        capture_settings(estate.session, [estate.instance_arn])
