"""Reading AWS Organizations: the organisation, its accounts and its OU tree (AWS edge).

Requests, for an organisation of `N` accounts and `U` OUs: `GetCallerIdentity`,
`DescribeOrganization`, `ceil(N / 20)` `ListAccounts` pages (plus the empty pages AWS
may return with a next token), then the OU tree walked from the root:
`ListRoots` and, per parent, one `ListOrganizationalUnitsForParent` and one
`ListChildren` page per 20 children. That is far fewer than one `ListParents` per
account, which matters because Organizations throttles readily.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from cmkguard.aws.errormap import CALL_ERRORS, error_code, failure
from cmkguard.aws.identity import caller_account
from cmkguard.aws.paging import iter_items
from cmkguard.aws.ratelimit import DEFAULT_RATE_LIMITS, RateLimiter, RateLimits
from cmkguard.aws.session import make_client
from cmkguard.errors import OrganizationAccessError
from cmkguard.org.discovery import AccountFilter, RoleTemplate, select
from cmkguard.org.model import CallerRole, OrgAccount, Organization
from cmkguard.types import AccountId

if TYPE_CHECKING:
    import boto3

__all__ = ["organization_accounts"]

_ORGANIZATIONS_REGION = "us-east-1"  # Organizations' endpoint (a global service)
_NOT_IN_USE = "AWSOrganizationsNotInUseException"


def _walk_tree(client: Any) -> tuple[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]]:
    """The root id, and account id -> (OU names, OU ids) from the root down."""
    roots = client.list_roots()["Roots"]
    root_id = str(roots[0]["Id"])
    placed: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    queue: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [(root_id, (), ())]
    while queue:
        parent, names, ids = queue.pop(0)
        for ou in iter_items(
            client, "ListOrganizationalUnitsForParent", "OrganizationalUnits", {"ParentId": parent}
        ):
            queue.append((str(ou["Id"]), (*names, str(ou["Name"])), (*ids, str(ou["Id"]))))
        for child in iter_items(
            client, "ListChildren", "Children", {"ParentId": parent, "ChildType": "ACCOUNT"}
        ):
            placed[str(child["Id"])] = (names, ids)
    return root_id, placed


def _list_accounts(client: Any) -> Iterator[Mapping[str, Any]]:
    """Every account, 20 a page (botocore's paginator goes on through empty pages that carry a
    next token, and stops if AWS repeats a token)."""
    yield from iter_items(client, "ListAccounts", "Accounts")


def _refusal(
    exc: BaseException, caller: str, management: str | None, org_id: str | None
) -> OrganizationAccessError:
    _, reason = failure(exc)
    if management is None:
        return OrganizationAccessError(
            f"AWS Organizations cannot be read from account {caller}: {reason}",
            caller, "none", None,
        )  # fmt: skip
    if caller == management:
        return OrganizationAccessError(
            f"account {caller} is the management account of {org_id}, but AWS Organizations "
            f"refused to list its accounts: {reason} (the caller needs "
            "organizations:ListAccounts, ListRoots, ListChildren and "
            "ListOrganizationalUnitsForParent)",
            caller, "management", management,
        )  # fmt: skip
    return OrganizationAccessError(
        f"account {caller} is a member of {org_id}, not its management account ({management}), "
        f"and AWS Organizations refused to list the accounts: {reason}. Run discovery from the "
        "management account, or from a delegated administrator account (registered with "
        "organizations:RegisterDelegatedAdministrator)",
        caller, "member", management,
    )  # fmt: skip


def organization_accounts(
    session: boto3.Session,
    *,
    role_name: str = "OrganizationAccountAccessRole",
    role_template: str = "arn:aws:iam::{account}:role/{role_name}",
    external_id: str | None = None,
    role_chain: Iterable[str] = (),
    accounts: Iterable[str] | None = None,
    exclude_accounts: Iterable[str] = (),
    ous: Iterable[str] | None = None,
    exclude_ous: Iterable[str] = (),
    limits: RateLimits = DEFAULT_RATE_LIMITS,
) -> Organization:
    """Discover the organisation's accounts through AWS Organizations, each with a way in.

    Works from the management account or from a delegated administrator account. Every
    listed account is in the result (suspended ones too, so they can be reported); the
    ones a scan covers are `selected`: active accounts passing the filters. The caller's own
    account is entered with the caller's credentials (the management account has no member
    role); every other account through `role_chain` then the member role.

    Args:
        session: Credentials in the management account or a delegated administrator.
        role_name: The member role's name (default `OrganizationAccountAccessRole`).
        role_template: Where the member role is; formatted with `{account}` and
            `{role_name}`.
        external_id: The `ExternalId` the member role requires, if any.
        role_chain: Roles to assume before the member role, hub role first.
        accounts: Only these account ids (default: every account).
        exclude_accounts: Never these account ids.
        ous: Only accounts under these OUs at any depth: ids (`ou-...`, `r-...`), paths
            from the root (`Workloads/Prod`) or OU names.
        exclude_ous: Never accounts under these OUs.
        limits: Client-side rate limits (Organizations throttles readily).

    Returns:
        The `Organization`.

    Raises:
        ConfigurationError: a malformed filter, role name, template or external id, or an OU
            filter that matches nothing (before scanning anything).
        OrganizationAccessError: the caller is outside any organisation, or is a member that
            is not a delegated administrator (the message says which, and what to do).
        NoCredentialsError: the session has no credentials.
        EndpointUnreachableError: the endpoint does not answer.
    """
    template = RoleTemplate(role_name, role_template, external_id, tuple(role_chain))
    account_filter = AccountFilter.build(accounts, exclude_accounts, ous, exclude_ous)
    caller = caller_account(session, session.region_name or _ORGANIZATIONS_REGION)
    client = make_client(session, "organizations", _ORGANIZATIONS_REGION)
    RateLimiter(limits).attach(client, caller)
    try:
        described = client.describe_organization()["Organization"]
    except CALL_ERRORS as exc:
        if error_code(exc) == _NOT_IN_USE:
            raise OrganizationAccessError(
                f"account {caller} is not a member of an organization (AWS Organizations: "
                f"{failure(exc)[1]})",
                caller, "none", None,
            ) from None  # fmt: skip
        raise _refusal(exc, caller, None, None) from None
    org_id = str(described["Id"])
    management = str(
        described.get("MasterAccountId") or described["MasterAccountArn"].split(":")[4]
    )
    # The OU tree is walked while the accounts are listed: two chains of round trips at once.
    with cf.ThreadPoolExecutor(1, thread_name_prefix="cmkguard-ou-tree") as pool:
        tree = pool.submit(_walk_tree, client)
        try:
            listed = list(_list_accounts(client))
            root_id, placed = tree.result()
        except CALL_ERRORS as exc:  # PaginationError (a repeated token) is a BotoCoreError
            tree.cancel()
            raise _refusal(exc, caller, management, org_id) from None
    role: CallerRole = "management" if caller == management else "delegated-administrator"
    org_accounts = []
    for raw in listed:
        account = str(raw["Id"])
        names, ids = placed.get(account, ((), ()))
        status = str(raw.get("State") or raw.get("Status") or "ACTIVE")
        org_accounts.append(
            OrgAccount(
                id=AccountId(account),
                name=str(raw.get("Name", "")),
                email=str(raw.get("Email", "")),
                status=status,
                ou_path=names,
                ou_ids=ids,
                target=template.target(account, own=account == caller)
                if status == "ACTIVE"
                else None,
            )
        )
    unknown = account_filter.unknown_ous(org_accounts, root_id)
    if unknown:
        raise _unknown_ou(unknown[0], org_id)
    return Organization(
        id=org_id,
        management_account=AccountId(management),
        caller_account=AccountId(caller),
        caller_role=role,
        accounts=tuple(org_accounts),
        selected=select(org_accounts, account_filter, root_id),
    )


def _unknown_ou(ou: str, org_id: str) -> Exception:
    from cmkguard.errors import ConfigurationError

    return ConfigurationError(f"no account of {org_id} is under the OU {ou!r}")
