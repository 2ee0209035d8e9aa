"""Paging: every list/describe call goes through here, page by page.

Pages are yielded as they arrive so a caller never holds a whole listing twice, and each
operation asks for the largest page its API allows (fewer round trips is the whole game when a
request costs 50 ms).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import botocore

__all__ = ["MAX_PAGE_SIZE", "iter_items", "iter_pages"]

MAX_PAGE_SIZE: Mapping[str, int] = {
    # RDS describe* accept MaxRecords 20..100.
    "DescribeDBInstances": 100,
    "DescribeDBClusters": 100,
    "DescribeDBSnapshots": 100,
    "DescribeDBClusterSnapshots": 100,
    # Secrets Manager ListSecrets accepts MaxResults 1..100.
    "ListSecrets": 100,
    # KMS list operations accept Limit 1..1000 (ListKeys, ListAliases) or 1..100 (ListGrants).
    "ListKeys": 1000,
    "ListAliases": 100,
    "ListGrants": 100,
    "ListResourceTags": 50,
    "ListKeyRotations": 1000,
    # Resource Groups Tagging API GetResources accepts ResourcesPerPage 1..100.
    "GetResources": 100,
    # Organizations list operations accept MaxResults 1..20.
    "ListAccounts": 20,
    "ListOrganizationalUnitsForParent": 20,
    "ListChildren": 20,
}
"""The largest page each paged operation accepts."""


def iter_pages(
    client: Any, operation: str, params: Mapping[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the response pages of ``operation`` (its API name, e.g. ``"ListSecrets"``).

    Uses botocore's paginator for the operation and the page size in :data:`MAX_PAGE_SIZE`.
    """
    paginator = client.get_paginator(botocore.xform_name(operation))
    config: dict[str, Any] = {}
    if operation in MAX_PAGE_SIZE:
        config["PageSize"] = MAX_PAGE_SIZE[operation]
    yield from paginator.paginate(**dict(params or {}), PaginationConfig=config)


def iter_items(
    client: Any, operation: str, result_key: str, params: Mapping[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield every item under ``result_key`` across the pages of ``operation``."""
    for page in iter_pages(client, operation, params):
        yield from page.get(result_key, ())
