"""The audit of an emulated organisation: coverage by account and OU, the kill-switch view,
in-organisation sharing told apart from outside access, unread and suspended accounts."""

from __future__ import annotations

import pytest

import cmkguard
from cmkguard.testing import EmulatedOrganization

REGIONS = ("eu-west-1", "us-east-1")


@pytest.fixture(name="inventory", scope="module")
def _inventory(org: EmulatedOrganization) -> cmkguard.Inventory:
    found = cmkguard.organization_accounts(org.session())
    results = cmkguard.scan_organization(org.session(), found, regions=REGIONS)
    return cmkguard.merge_results(results, found)


def test_kill_switch_lists_every_dependent_of_the_central_keys(
    org: EmulatedOrganization, inventory: cmkguard.Inventory
) -> None:
    view = cmkguard.organization_view(inventory)
    readable = set(org.truth.readable)
    for key_arn, dependents in org.truth.shared_key_dependents.items():
        expected = {
            arn for arn in dependents if org.truth.estate.resources[arn].account in readable
        }
        found = view.dependents_of(key_arn)
        assert found is not None
        assert {d.resource_arn for d in found.dependents} == expected
        assert found.key_account == org.truth.key_account
    org_data = [k for k in view.kill_switch if "alias/org-data" in k.aliases]
    assert len(org_data) == len(REGIONS)
    # The central key's dependents are spread over the application accounts.
    assert len(org_data[0].accounts) >= 3


def test_kill_switch_lists_customer_managed_keys_only(
    org: EmulatedOrganization, inventory: cmkguard.Inventory
) -> None:
    view = cmkguard.organization_view(inventory)
    truth = org.truth.estate.resources
    readable = set(org.truth.readable)
    on_aws_keys = {
        t.key_arn for t in truth.values() if t.key_class is cmkguard.KeyClass.AWS_MANAGED
    }
    assert on_aws_keys, "the emulated organisation has resources on AWS managed keys"
    expected = {
        t.key_arn
        for t in truth.values()
        if t.account in readable
        and t.key_arn
        and t.key_class not in (cmkguard.KeyClass.AWS_MANAGED, cmkguard.KeyClass.UNENCRYPTED)
    }
    # Secondary keys (a secret's replica, Performance Insights...) are customer-managed too.
    expected |= {
        use.key_arn
        for r in inventory.resources
        for use in r.secondary_keys
        if use.key_arn and use.key_class is not cmkguard.KeyClass.AWS_MANAGED
    }
    listed = {k.key_arn for k in view.kill_switch}
    assert listed == expected
    assert not listed & on_aws_keys
    keys = {**inventory.external_keys, **inventory.keys}
    assert not any(keys[k].is_aws_managed for k in listed if k in keys)
    # The JSON and the notebook say the same.
    exported = view.to_dict()["kill_switch"]
    assert {k["key_arn"] for k in exported} == listed
    assert "alias/aws/" not in view._repr_html_()


def test_outside_access_is_the_partner_key_only(
    org: EmulatedOrganization, inventory: cmkguard.Inventory
) -> None:
    view = cmkguard.organization_view(inventory)
    assert {o.key_arn for o in view.outside_access} == set(org.truth.outside_shared_keys)
    assert all(o.principals == ("999988887777",) for o in view.outside_access)
    # Named as the security team knows them (the truth seeds it as alias/partner-share).
    assert all(o.aliases == ("alias/partner-share",) for o in view.outside_access)
    assert all(e["aliases"] == ["alias/partner-share"] for e in view.to_dict()["outside_access"])


def test_coverage_counts_the_organisations_cmks_worst_first(
    org: EmulatedOrganization, inventory: cmkguard.Inventory
) -> None:
    view = cmkguard.organization_view(inventory)
    unread = [a for a in view.coverage_by_account if not a.read]
    assert [a.account for a in unread] == list(org.truth.unassumable)
    read = [a for a in view.coverage_by_account if a.read]
    percents = [a.coverage.percent for a in read]
    assert percents == sorted(percents, key=lambda p: (p is not None, p or 0))
    for a in read:
        truth = org.truth.resources_in(a.account)
        on_cmk = sum(
            1
            for r in truth
            if r.key_class is cmkguard.KeyClass.CUSTOMER_MANAGED
            or r.key_class is cmkguard.KeyClass.CROSS_ACCOUNT  # the key account's: ours
        )
        assert (a.coverage.measured, a.coverage.on_cmk) == (len(truth), on_cmk)
        assert a.ou == "/".join(org.truth.accounts[a.account].ou_path) or a.ou == "/"
    ous = {o.ou: o for o in view.coverage_by_ou}
    assert {"Workloads", "Workloads/Prod", "Security", "/"} <= set(ous)
    assert ous["Security"].coverage.percent == 100.0
    # The OU whose only account was not read is listed, worst first (its coverage unknown).
    (unassumable,) = org.truth.unassumable
    dark = "/".join(org.truth.accounts[unassumable].ou_path)
    assert (ous[dark].accounts, ous[dark].unread, ous[dark].coverage.measured) == (0, 1, 0)
    assert view.coverage_by_ou[0].ou == dark
    assert ous["Workloads"].unread == 1
    assert [u.account for u in view.unread] == list(org.truth.unassumable)
    assert "AssumeRole" in view.unread[0].reason
    assert view.suspended == org.truth.suspended


def test_audit_trusts_the_organisation_and_flags_the_outside(
    org: EmulatedOrganization, inventory: cmkguard.Inventory
) -> None:
    report = cmkguard.audit(inventory)
    assert report.policy.org_id == org.truth.org_id
    assert not [f for f in report.findings if f.rule_id == "resource-cross-account-key"]
    external = [
        f
        for f in report.findings
        if f.rule_id == "cross-account-access" and f.severity >= cmkguard.Severity.MEDIUM
    ]
    assert external
    assert all("999988887777" in f.message for f in external)
    keys = {f.key_arn for f in external if f.resource_arn is None}
    assert keys == set(org.truth.outside_shared_keys)
    # KPIs count the central key account's CMKs as ours.
    view = cmkguard.organization_view(inventory)
    assert report.kpis.coverage.on_cmk == view.coverage.on_cmk
    assert "inventory-incomplete" in {f.rule_id for f in report.findings}


def test_the_same_inventory_without_the_organisation_is_the_old_answer(
    inventory: cmkguard.Inventory,
) -> None:
    import attrs

    plain = attrs.evolve(inventory, organization=None)
    report = cmkguard.audit(plain)
    assert [f for f in report.findings if f.rule_id == "resource-cross-account-key"]
    with pytest.raises(cmkguard.ConfigurationError, match="no organisation"):
        cmkguard.organization_view(plain)


def test_notebook_view_renders_every_section(inventory: cmkguard.Inventory) -> None:
    html = cmkguard.organization_view(inventory)._repr_html_()
    for heading in ("Coverage by OU", "Coverage by account", "Kill switch", "outside", "not read"):
        assert heading in html
    assert "alias/org-data" in html
    # Styled like every view: figures right-aligned (headers too), account ids on one line.
    assert '<div class="cmkguard cmkguard-organization"><style>' in html
    assert '<th class="num">on a CMK</th>' in html
    assert '<th class="num">resources</th>' in html
    assert '<td class="num">not read</td>' in html or "not read" not in html.split("Kill")[0]
    assert '<td class="nowrap"><code>' in html
