"""Paging: every list/describe call goes through here, page by page.

Pages are yielded as they arrive so a caller never holds a whole listing twice, and each
operation asks for the largest page its API allows (fewer round trips is the whole game when a
request costs 50 ms).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import botocore

from cmkguard.aws.errormap import MalformedResponseError

__all__ = ["MAX_EMPTY_PAGES", "MAX_PAGE_SIZE", "iter_items", "iter_pages"]

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
    """Yield the response pages of `operation` (its API name, e.g. `"ListSecrets"`).

    Uses botocore's paginator for the operation and the page size in `MAX_PAGE_SIZE`.
    """
    paginator = client.get_paginator(botocore.xform_name(operation))
    config: dict[str, Any] = {}
    if operation in MAX_PAGE_SIZE:
        config["PageSize"] = MAX_PAGE_SIZE[operation]
    yield from paginator.paginate(**dict(params or {}), PaginationConfig=config)


def iter_items(
    client: Any, operation: str, result_key: str, params: Mapping[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield every item under `result_key` across the pages of `operation`.

    Every page must carry `result_key` (botocore parses a truncated JSON body as `{}`,
    which would otherwise read as an empty listing): a page without it raises
    `MalformedResponseError`, as does a run of more than `MAX_EMPTY_PAGES` empty pages that
    each promise more (AWS may send an empty page with a next token, not endlessly).
    """
    empty_run = 0
    for page in iter_pages(client, operation, params):
        items = page.get(result_key) if isinstance(page, Mapping) else None
        if not isinstance(items, list):
            raise MalformedResponseError(operation, result_key, "a page without its result list")
        more = any(page.get(token) for token in _NEXT_TOKENS)
        empty_run = empty_run + 1 if (more and not items) else 0
        if empty_run > MAX_EMPTY_PAGES:
            raise MalformedResponseError(
                operation, result_key, f"{empty_run} empty pages in a row, each with a next token"
            )
        yield from items


MAX_EMPTY_PAGES = 100
"""Empty pages with a next token tolerated in a row before a listing is called broken."""

_NEXT_TOKENS = ("NextToken", "Marker", "NextMarker", "PaginationToken")
