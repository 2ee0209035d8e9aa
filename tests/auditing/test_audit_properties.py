"""Properties that hold for any inventory: the audit never crashes, ids are catalogued and unique,
findings sit where their rule's scope says, and the report round-trips and validates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import ModuleType

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

import cmkguard
from cmkguard import EncryptedResource, KeyClass, KeyUse, KmsKey, RotationStatus, ScanError
from cmkguard.auditing import FINDING_CATALOGUE, AuditReport
from cmkguard.report import schema
from cmkguard.types import AccountId, KeyArn, Region, ResourceArn, ResourceTypeName

ACCOUNT = "111122223333"
# Built once: jsonschema.validate() re-checks the schema and rebuilds a validator per call.
_REPORT_SCHEMA = jsonschema.Draft202012Validator(schema("report"))
NOW = datetime(2026, 11, 22, tzinfo=UTC)
TYPES = ["rds:db-instance", "rds:db-snapshot", "secretsmanager:secret", "dynamodb:table"]
STATES = ["Enabled", "Disabled", "PendingDeletion", "PendingImport"]
TAGS = st.dictionaries(
    st.sampled_from(["owner", "application", "Owner", "cost-center", "data-sensitivity"]),
    st.sampled_from(["", "a", "b", "<x>"]),
    max_size=4,
)


def _key_arn(i: int) -> KeyArn:
    return KeyArn(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k{i}")


@st.composite
def keys(draw: st.DrawFn, i: int) -> KmsKey:
    applicable = draw(st.booleans())
    return KmsKey(
        arn=_key_arn(i),
        key_id=f"k{i}",
        account=AccountId(ACCOUNT),
        region=Region("us-east-1"),
        manager=draw(st.sampled_from(["CUSTOMER", "CUSTOMER", "AWS"])),
        state=draw(st.sampled_from(STATES)),
        spec=draw(st.sampled_from(["SYMMETRIC_DEFAULT", "RSA_2048"])),
        tags=draw(TAGS),
        deletion_date=NOW + timedelta(days=draw(st.integers(-3, 30))),
        rotation=draw(
            st.one_of(
                st.none(),
                st.just(RotationStatus(applicable=False, reason="n/a")),
                st.builds(
                    RotationStatus,
                    applicable=st.just(applicable),
                    enabled=st.one_of(st.none(), st.booleans()),
                    period_days=st.one_of(st.none(), st.integers(90, 2560)),
                ),
            )
        ),
    )


@st.composite
def inventories(draw: st.DrawFn) -> cmkguard.Inventory:
    n_keys = draw(st.integers(0, 4))
    ks = [draw(keys(i)) for i in range(n_keys)]
    key_refs = st.sampled_from(
        [None, *[k.arn for k in ks], "arn:aws:kms:us-east-1:444455556666:key/x"]
    )
    resources = []
    for i in range(draw(st.integers(0, 6))):
        rtype = draw(st.sampled_from(TYPES))
        resources.append(
            EncryptedResource(
                arn=ResourceArn(f"arn:aws:svc:us-east-1:{ACCOUNT}:thing:r{i}"),
                resource_type=ResourceTypeName(rtype),
                account=AccountId(ACCOUNT),
                region=Region("us-east-1"),
                name=f"r{i}<evil>",
                key_class=draw(st.sampled_from(KeyClass)),
                key_arn=draw(key_refs),
                tags=draw(TAGS),
                secondary_keys=tuple(
                    KeyUse(
                        purpose=draw(
                            st.sampled_from(["replica", "performance-insights", "rotation-lambda"])
                        ),
                        region=Region("eu-west-1"),
                        key_arn=draw(key_refs),
                        key_class=draw(st.sampled_from(KeyClass)),
                    )
                    for _ in range(draw(st.integers(0, 2)))
                ),
            )
        )
    errors = [
        ScanError(ACCOUNT, "eu-west-1", "ListSecrets", "AccessDenied", "secretsmanager:secret")
        for _ in range(draw(st.integers(0, 1)))
    ]
    return cmkguard.Inventory(resources=resources, keys=ks, errors=errors, accounts=(ACCOUNT,))


@settings(max_examples=40)
@given(inventories())
def test_audit_holds_its_invariants_on_any_inventory(inv: cmkguard.Inventory) -> None:
    report = cmkguard.audit(inv, now=NOW)
    fingerprints = [f.fingerprint for f in report.findings]
    assert len(set(fingerprints)) == len(fingerprints)
    for f in report.findings:
        spec = FINDING_CATALOGUE[f.rule_id]
        if spec.scope == "resource":
            assert f.resource_arn is not None, f.rule_id
        elif spec.scope == "key":
            assert f.resource_arn is None, f.rule_id
            assert f.key_arn is not None, f.rule_id
        elif spec.scope == "inventory":
            assert f.resource_arn is None, f.rule_id
    _REPORT_SCHEMA.validate(json.loads(report.to_json()))
    assert AuditReport.from_json(report.to_json()) == report
    assert sum(report.kpis.findings_by_severity.values()) == len(report.findings)
    again = cmkguard.audit(inv, now=NOW + timedelta(days=1))
    assert [f.fingerprint for f in again.findings] == fingerprints
    assert "<evil>" not in report._repr_html_()
    assert "<evil>" not in inv._repr_html_()


def test_reference_estate_findings_sit_where_their_scope_says(estate: ModuleType) -> None:
    report = cmkguard.audit(estate.inventory(), now=estate.NOW)
    scopes = {FINDING_CATALOGUE[f.rule_id].scope for f in report.findings}
    assert scopes == {"resource", "key", "inventory"}
