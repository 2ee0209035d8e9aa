"""scan_organization against the emulated organisation: every readable account matches the
seeded truth, the unreachable and suspended ones are reported, failures stay per account, and
threads, processes and Dask give the same inventory."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterable
from typing import Any

import pytest

import cmkguard
from cmkguard.testing import EmulatedOrganization
from cmkguard.testing._org import AUDIT_ROLE
from tests.org._hang import HANG_SECONDS, within_or_dump_stacks

REGIONS = ("eu-west-1", "us-east-1")


def _classes(inventory: cmkguard.Inventory) -> dict[str, tuple[str, str | None]]:
    return {r.arn: (r.key_class.value, r.key_arn) for r in inventory.resources}


def _expected(
    org: EmulatedOrganization, accounts: Iterable[str]
) -> dict[str, tuple[str, str | None]]:
    wanted = set(accounts)
    return {
        r.arn: (r.key_class.value, r.key_arn)
        for r in org.truth.estate.resources.values()
        if r.account in wanted
    }


def _comparable(inventory: cmkguard.Inventory) -> dict[str, Any]:
    data = inventory.to_dict()
    data.pop("scanned_at")
    return data


@pytest.fixture(name="threads", scope="module")
def _threads(
    org: EmulatedOrganization,
) -> tuple[cmkguard.Organization, list[cmkguard.AccountResult]]:
    found = cmkguard.organization_accounts(org.session())
    return found, list(cmkguard.scan_organization(org.session(), found, regions=REGIONS))


def test_every_readable_account_matches_the_seeded_truth(
    org: EmulatedOrganization, threads: tuple[cmkguard.Organization, list[cmkguard.AccountResult]]
) -> None:
    found, results = threads
    truth = org.truth
    by_account = {r.account: r for r in results}
    assert set(by_account) == set(found.selected)
    for account in truth.readable:
        result = by_account[account]
        assert result.complete, result.errors
        assert _classes(result.inventory) == _expected(org, [account])
    (unreachable,) = truth.unassumable
    failed = by_account[unreachable]
    assert not failed.reached
    (error,) = failed.errors
    assert error.account == unreachable
    assert error.operation == "AssumeRole"
    assert error.error_code == "AccessDenied"
    assert truth.suspended[0] not in by_account


def test_merged_inventory_names_covered_and_unread_accounts(
    org: EmulatedOrganization, threads: tuple[cmkguard.Organization, list[cmkguard.AccountResult]]
) -> None:
    found, results = threads
    merged = cmkguard.merge_results(results, found)
    assert set(merged.accounts) == set(org.truth.readable)
    assert merged.organization is not None
    assert merged.organization.unread == org.truth.unassumable
    assert merged.organization.suspended == org.truth.suspended
    assert merged.organization.org_id == org.truth.org_id
    assert _classes(merged) == _expected(org, org.truth.readable)
    again = cmkguard.Inventory.from_json(merged.to_json())
    assert again == merged
    assert again.organization == merged.organization


def test_retry_scans_only_the_failed_accounts(
    org: EmulatedOrganization, threads: tuple[cmkguard.Organization, list[cmkguard.AccountResult]]
) -> None:
    found, results = threads
    retry = cmkguard.failed_targets(results)
    assert [t.account for t in retry] == list(org.truth.unassumable)
    (account,) = org.truth.unassumable
    org.set_member_role(account, present=True)
    try:
        second = list(cmkguard.scan_organization(org.session(), retry, regions=REGIONS, attempt=2))
    finally:
        org.set_member_role(account, present=False)
    assert [(r.account, r.reached, r.attempt) for r in second] == [(account, True, 2)]
    assert _classes(second[0].inventory) == _expected(org, [account])
    merged = cmkguard.merge_results([*results, *second], found)
    assert merged.organization is not None
    assert merged.organization.unread == ()
    assert set(merged.accounts) == set(org.truth.readable) | {account}


def test_role_chain_with_external_id(org: EmulatedOrganization) -> None:
    def scan(external_id: str) -> list[cmkguard.AccountResult]:
        found = cmkguard.organization_accounts(
            org.session(),
            role_name=AUDIT_ROLE,
            role_chain=[org.hub_role_arn],
            external_id=external_id,
            accounts=org.truth.readable[:3],
        )
        return list(cmkguard.scan_organization(org.session(), found, regions=REGIONS[:1]))

    good = {r.account: r.reached for r in scan(org.truth.external_id)}
    assert good == dict.fromkeys(org.truth.readable[:3], True)
    bad = {r.account: r.reached for r in scan("the-wrong-external-id")}
    # The management account is read with its own credentials; the others refuse the role.
    assert bad == {a: a == org.truth.management_account for a in org.truth.readable[:3]}


def test_region_denied_by_scp_is_a_scan_error_and_the_rest_goes_on(
    org: EmulatedOrganization,
) -> None:
    account = org.truth.readable[2]
    org.deny_region(account, "us-east-1")
    try:
        (result,) = cmkguard.scan_organization(
            org.session(),
            [
                cmkguard.AccountTarget(
                    account, (f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",)
                )
            ],
            regions=REGIONS,
        )
    finally:
        org.allow_region(account, "us-east-1")
    assert result.reached
    assert not result.complete
    assert {e.region for e in result.errors} == {"us-east-1"}
    assert all(e.account == account for e in result.errors)
    denied = [e for e in result.errors if e.error_code != "LinkUnknown"]
    assert denied
    assert {e.error_code for e in denied} <= {"AccessDenied", "AccessDeniedException"}
    assert all("service control policy" in e.reason for e in denied)
    # A secret of eu-west-1 replicated into the denied region says its replica there is unknown.
    unknown = [e for e in result.errors if e.error_code == "LinkUnknown"]
    assert all(e.target and ":eu-west-1:" in e.target for e in unknown)
    expected = {a: v for a, v in _expected(org, [account]).items() if ":eu-west-1:" in a}
    assert _classes(result.inventory) == expected


def test_throttled_account_is_reported_then_retried(org: EmulatedOrganization) -> None:
    account = org.truth.readable[2]
    target = cmkguard.AccountTarget(
        account, (f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",)
    )
    org.throttle(account, 1000)  # more than every retry of the identity probe
    try:
        (first,) = cmkguard.scan_organization(org.session(), [target], regions=REGIONS[:1])
    finally:
        org.throttle(account, 0)  # the burst is over (and the shared organisation unharmed)
    assert not first.reached
    (error,) = first.errors
    assert error.account == account
    assert "Rate exceeded" in error.reason or "throttl" in error.reason.lower()
    (second,) = cmkguard.scan_organization(
        org.session(), cmkguard.failed_targets([first]), regions=REGIONS[:1], attempt=2
    )
    assert second.complete
    expected = {a: v for a, v in _expected(org, [account]).items() if ":eu-west-1:" in a}
    assert _classes(second.inventory) == expected


def test_process_pool_gives_the_same_inventory(
    org: EmulatedOrganization, threads: tuple[cmkguard.Organization, list[cmkguard.AccountResult]]
) -> None:
    found, results = threads
    with cf.ProcessPoolExecutor(2) as pool:
        in_processes = list(
            cmkguard.scan_organization(org.session(), found, regions=REGIONS, executor=pool)
        )
    assert _comparable(cmkguard.merge_results(in_processes, found)) == _comparable(
        cmkguard.merge_results(results, found)
    )


def test_dask_local_cluster_gives_the_same_inventory(
    org: EmulatedOrganization, threads: tuple[cmkguard.Organization, list[cmkguard.AccountResult]]
) -> None:
    import distributed  # the `dask` extra, in the `test` extra: CI has it (no skip)

    found, results = threads
    with (
        cmkguard.org.local_dask_cluster(n_workers=2, processes=True, threads_per_worker=2) as c,
        distributed.Client(c) as client,
    ):
        # The workers cmkguard starts cannot hit Python 3.11's profiler deadlock.
        assert cmkguard.org.dask_deadlock_risks(client) == []
        # ... and are ready before their first account (the preload imported the scanner).
        ready = client.run(lambda: "cmkguard.org.aws_scan" in __import__("sys").modules)
        assert list(ready.values()) == [True, True]
        on_dask = within_or_dump_stacks(
            HANG_SECONDS,
            lambda: list(
                cmkguard.scan_organization(
                    org.session(), found, regions=REGIONS, executor=client.get_executor()
                )
            ),
            client,
        )
    assert _comparable(cmkguard.merge_results(on_dask, found)) == _comparable(
        cmkguard.merge_results(results, found)
    )


def test_results_stream_one_account_at_a_time(org: EmulatedOrganization) -> None:
    found = cmkguard.organization_accounts(org.session())
    events: list[cmkguard.OrgScanEvent] = []
    stream = cmkguard.scan_organization(
        org.session(), found, regions=REGIONS[:1], accounts_in_flight=1, progress=events.append
    )
    first = next(stream)
    # One account in flight: the first result arrives before the others were submitted.
    assert len(events) == 1
    assert events[0].result is first
    assert events[0].total == len(found.selected)
    rest = list(stream)
    assert len(rest) == len(found.selected) - 1
    assert [e.done for e in events] == list(range(1, len(found.selected) + 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"regions": ["nowhere-1"]}, "nowhere-1"),
        ({"accounts_in_flight": 0}, "accounts_in_flight"),
        ({"threads_per_account": True}, "threads_per_account"),
        ({"resource_types": ["ec2:nothing"]}, "ec2:nothing"),
        ({"limits": {"rds": 1}}, "limits"),
    ],
)
def test_bad_arguments_fail_before_any_aws_call(
    org: EmulatedOrganization, kwargs: dict[str, Any], message: str
) -> None:
    org.aws.reset_request_counts()
    with pytest.raises(cmkguard.ConfigurationError, match=message):
        cmkguard.scan_organization(org.session(), [], **{"regions": REGIONS, **kwargs})
    assert not org.aws.request_counts()


def test_accounts_must_be_targets(org: EmulatedOrganization) -> None:
    with pytest.raises(cmkguard.ConfigurationError, match="not an AccountTarget"):
        cmkguard.scan_organization(org.session(), ["111122223333"], regions=REGIONS)  # type: ignore[list-item]
