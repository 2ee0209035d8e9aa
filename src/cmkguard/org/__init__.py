"""Organisation scale: discover an AWS organisation's accounts and scan them on any executor.

* `organization_accounts` (AWS edge, `aws_discovery`): the organisation, its accounts with their
  OU paths, and a way into each (`AccountTarget`);
* `scan_organization` (`scanner`): one `AccountScan` unit per account on any
  `concurrent.futures.Executor` (threads, processes, Dask), yielding each account's
  `AccountResult` as soon as it is complete; `merge_results`, `failed_targets`;
* `aws_dask`: `local_dask_cluster` (workers that cannot deadlock on Python 3.11) and
  `dask_deadlock_risks` (the workers of an existing cluster that can);
* `model`: the values; `discovery`: the pure filters and role templates.

See docs/organizations.md.
"""

from cmkguard.org.aws_dask import DASK_WORKER_CONFIG, dask_deadlock_risks, local_dask_cluster
from cmkguard.org.aws_discovery import organization_accounts
from cmkguard.org.aws_scan import AccountScan, run_account_scan
from cmkguard.org.discovery import (
    DEFAULT_ROLE_NAME,
    DEFAULT_ROLE_TEMPLATE,
    AccountFilter,
    RoleTemplate,
)
from cmkguard.org.model import AccountResult, AccountTarget, OrgAccount, Organization
from cmkguard.org.scanner import (
    DEFAULT_ACCOUNTS_IN_FLIGHT,
    OrgScanEvent,
    failed_targets,
    merge_results,
    scan_organization,
)

__all__ = [  # noqa: RUF022 - plain sorted() order (tests/test_exported_members.py)
    "AccountFilter",
    "AccountResult",
    "AccountScan",
    "AccountTarget",
    "DASK_WORKER_CONFIG",
    "DEFAULT_ACCOUNTS_IN_FLIGHT",
    "DEFAULT_ROLE_NAME",
    "DEFAULT_ROLE_TEMPLATE",
    "OrgAccount",
    "OrgScanEvent",
    "Organization",
    "RoleTemplate",
    "dask_deadlock_risks",
    "failed_targets",
    "local_dask_cluster",
    "merge_results",
    "organization_accounts",
    "run_account_scan",
    "scan_organization",
]
