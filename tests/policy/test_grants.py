"""Grant analysis: external grantees, retiring principals, constraints, malformed entries."""

from __future__ import annotations

from typing import Any

import pytest

import cmkguard
from cmkguard import Grant
from cmkguard.severity import Severity

K = "111122223333"
X = "444455556666"


def _grant(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "GrantId": "g1",
        "GranteePrincipal": f"arn:aws:iam::{K}:role/App",
        "Operations": ["Encrypt"],
        "IssuingAccount": f"arn:aws:iam::{K}:root",
    }
    base.update(fields)
    return base


def test_same_account_constrained_grant_has_no_findings() -> None:
    grants = [
        _grant(
            Operations=["Decrypt", "Encrypt"],
            Constraints={"EncryptionContextSubset": {"aws:rds:db-id": "db-1"}},
        ),
        _grant(GrantId="g2", GranteePrincipal="rds.us-east-1.amazonaws.com"),
    ]
    result = cmkguard.analyze_grants(grants, key_account=K)
    assert result.findings == ()
    assert result.external_grantees == frozenset()
    assert result.grantees_for("kms:Decrypt") == {f"arn:aws:iam::{K}:role/App"}


def test_external_grantee_retiring_principal_and_unconstrained_operations() -> None:
    grants = [
        _grant(
            GrantId="ext",
            GranteePrincipal=f"arn:aws:iam::{X}:role/Reader",
            RetiringPrincipal=f"arn:aws:iam::{X}:root",
            Operations=["Decrypt", "CreateGrant"],
        ),
        _grant(GrantId="root", GranteePrincipal=f"arn:aws:iam::{X}:root"),
    ]
    result = cmkguard.analyze_grants(grants, key_account=K)
    assert result.external_grantees == {f"arn:aws:iam::{X}:role/Reader", X}
    by_id = {(f.id, f.grant_id) for f in result.findings}
    assert by_id == {
        ("grant-cross-account", "ext"),
        ("grant-cross-account", "root"),
        ("grant-retiring-external", "ext"),
        ("grant-decrypt-unconstrained", "ext"),
        ("grant-create-grant", "ext"),
    }
    assert result.findings[0].severity is Severity.HIGH
    assert result.to_dict()["external_grantees"] == sorted(result.external_grantees)


def test_trusted_account_grant_is_downgraded() -> None:
    result = cmkguard.analyze_grants(
        [_grant(GranteePrincipal=f"arn:aws:iam::{X}:role/Reader")],
        key_account=K,
        trusted_accounts=[X],
    )
    (finding,) = result.findings
    assert finding.downgraded
    assert finding.severity is Severity.INFO


def test_grant_model_to_api_round_trip_is_analysable() -> None:
    grant = Grant(
        grant_id="g",
        grantee_principal=f"arn:aws:iam::{X}:role/R",
        operations=("Decrypt",),
        constraints={"EncryptionContextEquals": {"k": "v"}},
    )
    result = cmkguard.analyze_grants([grant.to_api()], key_account=K)
    assert result.finding_ids == {"grant-cross-account"}


@pytest.mark.parametrize(
    ("grants", "location"),
    [
        ([_grant(), _grant(), _grant(), _grant(Operations=["Explode"])], "Grants[3].Operations[0]"),
        ([_grant(Operations=[])], "Grants[0].Operations"),
        ([_grant(Operations="Decrypt")], "Grants[0].Operations"),
        ([{"GranteePrincipal": "x"}], "Grants[0]: missing GrantId"),
        ([_grant(GranteePrincipal="*")], "Grants[0].GranteePrincipal"),
        ([_grant(GranteePrincipal="arn:aws:iam::*:root")], "Grants[0].GranteePrincipal"),
        ([_grant(Constraints={"Other": {}})], "Grants[0].Constraints"),
        ([_grant(Constraints={"EncryptionContextEquals": {"a": 1}})], "Grants[0].Constraints"),
        (["not a grant"], "Grants[0]: expected an object"),
    ],
)
def test_malformed_grants_raise_located_errors(grants: list[Any], location: str) -> None:
    with pytest.raises(cmkguard.PolicyParseError) as info:
        cmkguard.analyze_grants(grants, key_account=K)
    assert str(info.value).startswith(location)


def test_html_repr_escapes_grant_fields() -> None:
    result = cmkguard.analyze_grants(
        [_grant(GrantId="<b>g</b>", GranteePrincipal=f"arn:aws:iam::{X}:role/R")], key_account=K
    )
    page = result._repr_html_()
    assert "&lt;b&gt;g&lt;/b&gt;" in page
    assert "<b>g</b>" not in page
    assert "grant-cross-account" in page
    assert page.startswith('<div class="cmkguard cmkguard-grants"><style>')
