"""Capture the settings of RDS instances and clusters for a migration plan.

A restore falls back to defaults for every setting it is not given, and an inventory keeps only
what a key audit needs. So the planner is fed the full `DescribeDBInstances` /
`DescribeDBClusters` records captured here (made JSON-safe: datetimes as ISO text), keyed by
resource ARN. Cluster members and same-region read replicas are captured with their parent,
because re-creating them needs their own settings (class, promotion tier, monitoring...).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cmkguard._json import json_safe
from cmkguard.arn import parse_arn
from cmkguard.aws.errormap import CALL_ERRORS, NOT_FOUND_CODES, access_error, failure
from cmkguard.aws.session import rds_client
from cmkguard.errors import AwsAccessError

if TYPE_CHECKING:
    import boto3

__all__ = [
    "capture_cluster_settings",
    "capture_instance_settings",
    "capture_settings",
    "json_safe",
]


def capture_instance_settings(session: boto3.Session, arn: str) -> dict[str, Any]:
    """The `DescribeDBInstances` record of the instance `arn` (JSON-safe)."""
    parsed = parse_arn(arn)
    client = rds_client(session, parsed.region)
    record = client.describe_db_instances(DBInstanceIdentifier=arn)["DBInstances"][0]
    out: dict[str, Any] = json_safe(record)
    return out


def capture_cluster_settings(session: boto3.Session, arn: str) -> dict[str, Any]:
    """The `DescribeDBClusters` record of the cluster `arn` (JSON-safe)."""
    parsed = parse_arn(arn)
    client = rds_client(session, parsed.region)
    record = client.describe_db_clusters(DBClusterIdentifier=arn)["DBClusters"][0]
    out: dict[str, Any] = json_safe(record)
    return out


def capture_settings(session: boto3.Session, arns: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Resource ARN -> describe record for every RDS instance and cluster among `arns`.

    Also captures each cluster's members and each instance's same-region read replicas. Other
    ARNs (snapshots, secrets) are ignored: the inventory holds all they need. A resource that
    does not exist is skipped (the planner reports it); no credentials, an unreachable endpoint
    or a refused describe raise `AwsAccessError`.
    """
    out: dict[str, dict[str, Any]] = {}
    for arn in arns:
        try:
            _capture_one(session, arn, out)
        except CALL_ERRORS as exc:
            fatal = access_error(exc, getattr(session, "endpoint_url", None))
            if fatal is not None:
                raise fatal from None
            code, reason = failure(exc)
            if code in NOT_FOUND_CODES:
                continue  # the planner reports the resource; nothing to capture
            raise AwsAccessError(f"cannot read the settings of {arn}: {reason}") from None
    return out


def _capture_one(session: boto3.Session, arn: str, out: dict[str, dict[str, Any]]) -> None:
    try:
        parsed = parse_arn(arn)
    except ValueError:
        return
    if parsed.service != "rds":
        return
    kind = parsed.resource.split(":", 1)[0]
    prefix = f"arn:{parsed.partition}:rds:{parsed.region}:{parsed.account}:db:"
    if kind == "db":
        record = capture_instance_settings(session, arn)
        out[arn] = record
        for rep in record.get("ReadReplicaDBInstanceIdentifiers") or ():
            if not rep.startswith("arn:"):
                out[prefix + rep] = capture_instance_settings(session, prefix + rep)
    elif kind == "cluster":
        record = capture_cluster_settings(session, arn)
        out[arn] = record
        for member in record.get("DBClusterMembers") or ():
            member_arn = prefix + member["DBInstanceIdentifier"]
            out[member_arn] = capture_instance_settings(session, member_arn)
