"""Reports end to end on the emulated account: scan -> audit -> HTML, SARIF and DataFrames.

One seeded estate per module (read only): what a user would see in a notebook and upload to
GitHub, checked against what the scan found, not against hand-written expectations.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import jsonschema
import pytest

import cmkguard
from cmkguard import report as export
from cmkguard.auditing import AuditReport
from cmkguard.inventory import Inventory, KeyClass
from cmkguard.report.frames import FINDING_COLUMNS, KEY_COLUMNS, PLAN_COLUMNS, RESOURCE_COLUMNS
from cmkguard.report.sarif import finding_lines, github_problems

pd = pytest.importorskip("pandas")


@pytest.fixture(name="scanned", scope="module")
def _scanned(cmkguard_seeded_estate_module: Any) -> tuple[Inventory, AuditReport]:
    estate = cmkguard_seeded_estate_module
    regions = estate.truth.regions
    inventory = cmkguard.scan(estate.aws.session(regions[0]), regions=regions)
    return inventory, cmkguard.audit(inventory, cmkguard.AuditPolicy(max_rotation_days=365))


def _details(html: str) -> list[str]:
    return re.findall(r"<details(?: open)?>.*?</details>", html)


def test_findings_roll_up_by_rule_worst_first_with_near_identical_rows_grouped(
    scanned: tuple[Inventory, AuditReport],
) -> None:
    _, report = scanned
    html = report._repr_html_()
    sections = _details(html)
    per_rule = Counter(f.rule_id for f in report.findings)
    assert len(sections) == len(per_rule)
    ranks = []
    for section in sections:
        rule_id = re.search(r"<b>([a-z0-9-]+)</b>", section).group(1)  # type: ignore[union-attr]
        count = per_rule[rule_id]
        assert f"({count} finding{'s' if count != 1 else ''}" in section
        worst = max(f.severity for f in report.findings if f.rule_id == rule_id)
        ranks.append(worst.rank)
        # Critical and high start open; the rest collapsed.
        assert section.startswith("<details open>") == (worst >= cmkguard.Severity.HIGH)
        # The rule's remediation once, not once per row.
        assert section.count("Remediation:") == 1
        # Every finding's name appears (hover title = its ARN).
        rule_findings = [f for f in report.findings if f.rule_id == rule_id]
        shown = min(12, len(rule_findings))
        assert section.count('class="name"') >= min(shown, len({f.target for f in rule_findings}))
    assert ranks == sorted(ranks, reverse=True)
    # The info rule with one row per key of the estate collapses to one grouped row.
    root = next(s for s in sections if "<b>root-delegation</b>" in s)
    assert per_rule["root-delegation"] >= 10
    assert root.count("<tr>") == 2  # header + one grouped row
    assert f'<td class="num">{per_rule["root-delegation"]}</td>' in root


def test_keys_and_resources_show_by_name_with_the_arn_on_hover(
    scanned: tuple[Inventory, AuditReport],
) -> None:
    inventory, _ = scanned
    html = inventory._repr_html_()
    for key in inventory.keys.values():
        label = key.aliases[0] if key.aliases else key.key_id
        assert f'title="{key.arn}">{label}</span>' in html
        assert f">{key.arn}<" not in html  # never the ARN as the visible text
    for resource in inventory.resources:
        assert f'title="{resource.arn}">' in html
    assert '<td class="nowrap">eu-west-1</td>' in html


def test_rotation_shows_what_aws_reported_never_a_guessed_period(
    scanned: tuple[Inventory, AuditReport],
) -> None:
    inventory, _ = scanned
    html = inventory._repr_html_()
    keys = list(inventory.keys.values())
    reported_365 = [
        k for k in keys if k.rotation and k.rotation.enabled and k.rotation.period_days == 365
    ]
    unknown_period = [
        k for k in keys if k.rotation and k.rotation.enabled and k.rotation.period_days is None
    ]
    assert unknown_period, "the seeded estate has customer keys whose period moto does not report"
    assert html.count('<td class="nowrap">every 365 d</td>') == len(reported_365)
    assert html.count("on (period unknown)") == len(unknown_period)


def test_coverage_charts_say_their_values_in_words(scanned: tuple[Inventory, AuditReport]) -> None:
    _, report = scanned
    for by in ("resource_type", "account", "region"):
        chart = report.coverage_chart(by=by)
        svg = chart.to_svg()
        assert f"<title>{chart.title}</title>" in svg
        assert f'aria-label="{chart.alt_text()}"' in svg
        assert 'role="img"' in svg
        for label, pct in chart.items:
            assert f"{label} {'n/a' if pct is None else f'{pct:.1f}%'}" in chart.alt_text()


def test_sarif_of_the_audit_validates_and_meets_githubs_rules(
    scanned: tuple[Inventory, AuditReport],
) -> None:
    _, report = scanned
    text = report.to_json()
    log = export.to_sarif(report, report_json=text, artifact_uri="reports/audit.json")
    schema = export.schema("sarif-2.1.0")
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    assert github_problems(log) == []
    results = log["runs"][0]["results"]
    assert len(results) == len(report.findings)
    lines = text.splitlines()
    assert len(finding_lines(text)) == len(report.findings)
    for result in results:
        line = result["locations"][0]["physicalLocation"]["region"]["startLine"]
        assert result["partialFingerprints"]["cmkguard/v1"] in lines[line - 1]
    rule_ids = {r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rule_ids == {f.rule_id for f in report.findings}


def _kinds(frame: Any, columns: dict[str, str] | Any) -> None:
    assert list(frame.columns) == list(columns)
    for name, kind in columns.items():
        dtype = frame[name].dtype
        if kind == "string":
            assert isinstance(dtype, pd.StringDtype), (name, dtype)
        elif kind == "severity":  # ordered, so `frame.severity >= "high"` works
            assert isinstance(dtype, pd.CategoricalDtype), (name, dtype)
            assert dtype.ordered
            assert list(dtype.categories) == [s.value for s in sorted(cmkguard.Severity)]
        elif kind == "key_class":
            assert isinstance(dtype, pd.CategoricalDtype), (name, dtype)
            assert set(dtype.categories) == {c.value for c in KeyClass}
        elif kind == "boolean":
            assert isinstance(dtype, pd.BooleanDtype), (name, dtype)
        elif kind == "datetime":
            assert isinstance(dtype, pd.DatetimeTZDtype), (name, dtype)
        elif kind == "Int64":
            assert isinstance(dtype, pd.Int64Dtype), (name, dtype)
        else:
            assert dtype.kind == "O", (name, dtype)


def test_dataframes_of_the_scan_and_audit_have_every_row_and_typed_columns(
    scanned: tuple[Inventory, AuditReport],
) -> None:
    inventory, report = scanned
    resources = inventory.to_dataframe()
    _kinds(resources, RESOURCE_COLUMNS)
    assert len(resources) == len(inventory.resources)
    assert set(resources["arn"]) == {r.arn for r in inventory.resources}
    on_cmk = resources[resources["key_class"] == KeyClass.CUSTOMER_MANAGED.value]
    assert on_cmk["key_alias"].notna().all()

    keys = inventory.keys_dataframe()
    _kinds(keys, KEY_COLUMNS)
    scanned_accounts = {r.account for r in inventory.resources}
    assert len(keys) == sum(k.account in scanned_accounts for k in inventory.keys.values())
    # A resource uses its key and its secondary keys (a replica's, a rotation Lambda's).
    users = Counter(
        arn
        for r in inventory.resources
        for arn in {r.key_arn, *(use.key_arn for use in r.secondary_keys)} - {None}
    )
    assert any(r.secondary_keys for r in inventory.resources)
    assert dict(zip(keys["arn"], keys["resources"], strict=True)) == {
        arn: users.get(arn, 0) for arn in keys["arn"]
    }

    findings = report.to_dataframe()
    _kinds(findings, FINDING_COLUMNS)
    assert len(findings) == len(report.findings)
    assert findings["target"].notna().all()
    assert (findings["severity"] >= "high").sum() == sum(
        f.severity >= cmkguard.Severity.HIGH for f in report.findings
    )


def test_the_plan_dataframe_has_one_typed_row_per_step(
    scanned: tuple[Inventory, AuditReport],
) -> None:
    inventory, _ = scanned
    target = next(
        k
        for k in inventory.keys.values()
        if "alias/app-000-data" in k.aliases and k.region == "eu-west-1"
    )
    secrets = [
        r.arn
        for r in inventory.resources
        if r.resource_type == "secretsmanager:secret"
        and r.key_class is KeyClass.AWS_MANAGED
        and r.region == "eu-west-1"
        and not r.name.startswith("rds!")
    ]
    plan = cmkguard.plan_migration(inventory, secrets, target_key=target.arn)
    frame = plan.to_dataframe()
    _kinds(frame, PLAN_COLUMNS)
    assert len(frame) == len(plan.steps)
    assert set(frame["resource_arn"].dropna()) <= set(secrets)
