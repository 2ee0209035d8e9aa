"""organization_accounts against the emulated organisation: management and delegated-admin
paths, OU paths, suspended accounts, filters, paging and the refusals."""

from __future__ import annotations

import pytest

import cmkguard
from cmkguard.testing import EmulatedOrganization
from cmkguard.testing._org import AUDIT_ROLE


def test_management_path_lists_every_account_with_its_ou(org: EmulatedOrganization) -> None:
    truth = org.truth
    found = cmkguard.organization_accounts(org.session())
    assert found.id == truth.org_id
    assert found.caller_role == "management"
    assert found.management_account == truth.management_account
    assert {a.id for a in found.accounts} == set(truth.accounts)
    for account in found.accounts:
        expected = truth.accounts[account.id]
        assert account.ou_path == expected.ou_path
        assert account.status == expected.status
    assert {a.id for a in found.suspended} == set(truth.suspended)
    assert set(found.selected) == set(truth.accounts) - set(truth.suspended)
    own = found.account(truth.management_account).target
    assert own is not None
    assert own.uses_own_credentials
    member = found.account(truth.readable[1]).target
    assert member is not None
    assert member.role_arns == (
        f"arn:aws:iam::{truth.readable[1]}:role/OrganizationAccountAccessRole",
    )
    assert found.account(truth.suspended[0]).target is None


def test_delegated_administrator_sees_the_same_organisation(org: EmulatedOrganization) -> None:
    hub = org.hub_session()
    found = cmkguard.organization_accounts(hub, role_name=AUDIT_ROLE)
    assert found.caller_role == "delegated-administrator"
    assert found.caller_account == org.truth.key_account
    assert {a.id for a in found.accounts} == set(org.truth.accounts)
    # The delegated administrator's own account is read with its own credentials.
    own = found.account(org.truth.key_account).target
    assert own is not None
    assert own.uses_own_credentials


def test_member_that_is_not_delegated_admin_is_told_why(org: EmulatedOrganization) -> None:
    member = org.aws.session(account=org.truth.readable[2])
    with pytest.raises(cmkguard.OrganizationAccessError) as caught:
        cmkguard.organization_accounts(member)
    err = caught.value
    assert err.caller_role == "member"
    assert err.management_account == org.truth.management_account
    assert "not its management account" in str(err)
    assert "delegated administrator" in str(err)


def test_account_outside_any_organisation_is_refused(org: EmulatedOrganization) -> None:
    org.aws.add_accounts(["777766665555"])
    with pytest.raises(cmkguard.OrganizationAccessError, match="not a member of an organization"):
        cmkguard.organization_accounts(org.aws.session(account="777766665555"))


def test_list_accounts_pages_of_20_through_empty_pages(org: EmulatedOrganization) -> None:
    assert org.empty_pages
    org.aws.reset_request_counts()
    cmkguard.organization_accounts(org.session())
    counts = org.aws.request_counts()
    # One empty page (with a next token) before the one real page: both are read.
    assert counts[("organizations", "ListAccounts")] == 2
    assert counts[("organizations", "DescribeOrganization")] == 1
    assert ("organizations", "ListParents") not in counts  # the OU tree is walked instead


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"ous": ["Workloads"]}, {"Workloads/Prod", "Workloads/Dev"}),
        ({"ous": ["Workloads/Dev"]}, {"Workloads/Dev"}),
        ({"exclude_ous": ["Workloads", "Security"]}, {"Sandbox", "/"}),
    ],
)
def test_ou_filters(
    org: EmulatedOrganization, kwargs: dict[str, list[str]], expected: set[str]
) -> None:
    found = cmkguard.organization_accounts(org.session(), **kwargs)  # type: ignore[arg-type]
    assert found.selected
    assert {found.ou_of(a) for a in found.selected} == expected


def test_filter_by_ou_id_and_account(org: EmulatedOrganization) -> None:
    everything = cmkguard.organization_accounts(org.session())
    key = everything.account(org.truth.key_account)
    by_id = cmkguard.organization_accounts(org.session(), ous=[key.ou_ids[-1]])
    assert by_id.selected == (org.truth.key_account,)
    excluded = cmkguard.organization_accounts(
        org.session(), exclude_accounts=[org.truth.key_account]
    )
    assert org.truth.key_account not in excluded.selected
    only = cmkguard.organization_accounts(org.session(), accounts=[org.truth.key_account])
    assert only.selected == (org.truth.key_account,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ous": ["NoSuchOU"]}, "no account of o-"),
        ({"exclude_accounts": ["12345"]}, "not a 12-digit account id"),
        ({"accounts": "111122223333"}, "not the string"),
        ({"role_name": "bad role!"}, "not an IAM role name"),
        ({"role_template": "arn:aws:iam::123:role/x"}, "must contain {account}"),
        ({"role_chain": ["not-an-arn"]}, "not a role ARN"),
        ({"external_id": "x"}, "external_id"),
    ],
)
def test_bad_input_is_a_configuration_error(
    org: EmulatedOrganization, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(cmkguard.ConfigurationError, match=message):
        cmkguard.organization_accounts(org.session(), **kwargs)  # type: ignore[arg-type]
