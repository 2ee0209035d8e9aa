"""AuditPolicy: defaults, TOML/JSON files, and errors that name the bad field."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from cmkguard import AuditPolicyError, Severity
from cmkguard.auditing import DEFAULT_REQUIRED_TAGS, AuditPolicy, Suppression

TOML = """
required_tags = ["owner", "application"]
max_rotation_days = 180
trusted_accounts = ["444455556666"]
org_id = "o-a1b2c3d4e5"
blast_radius_min_severity = "high"

[severity_overrides]
key-unused = "info"

[[suppressions]]
rule_id = "rds-snapshot-aws-managed-key"
resource = "arn:aws:rds:*:111122223333:snapshot:legacy-*"
reason = "legacy snapshots, deleted in Q1"
expires = 2027-03-31
"""


def test_defaults() -> None:
    policy = AuditPolicy()
    assert policy.required_tags == DEFAULT_REQUIRED_TAGS
    assert policy.required_tags == ("owner", "application", "data-sensitivity", "cost-center")
    assert policy.max_rotation_days == 365
    assert policy.suppressions == ()
    assert policy.severity_for("key-unused", Severity.LOW) is Severity.LOW


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(TOML)
    policy = AuditPolicy.from_file(path)
    assert policy.required_tags == ("owner", "application")
    assert policy.max_rotation_days == 180
    assert policy.trusted_accounts == ("444455556666",)
    assert policy.org_id == "o-a1b2c3d4e5"
    assert policy.blast_radius_min_severity is Severity.HIGH
    assert policy.severity_overrides == {"key-unused": Severity.INFO}
    assert policy.suppressions == (
        Suppression(
            "rds-snapshot-aws-managed-key",
            "arn:aws:rds:*:111122223333:snapshot:legacy-*",
            "legacy snapshots, deleted in Q1",
            date(2027, 3, 31),
        ),
    )


def test_json_file_round_trips_through_to_dict(tmp_path: Path) -> None:
    toml = tmp_path / "policy.toml"
    toml.write_text(TOML)
    policy = AuditPolicy.from_file(toml)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy.to_dict()))
    assert AuditPolicy.from_file(path) == policy


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("max_rotation_days = 'yearly'", "max_rotation_days"),
        ("max_rotation_days = 0", "max_rotation_days"),
        ("required_tags = 'owner'", "required_tags"),
        ("required_tag = ['owner']", "required_tag: unknown field"),
        ("trusted_accounts = ['12345']", "trusted_accounts[0]"),
        # A TOML basic string: a real trailing newline, which a `^\\d{12}$` check would let pass.
        ('trusted_accounts = ["111122223333\\n"]', "trusted_accounts[0]"),
        ("org_id = 'acme'", "org_id"),
        ("[severity_overrides]\nno-such-rule = 'low'", "severity_overrides.no-such-rule"),
        ("[severity_overrides]\nkey-unused = 'urgent'", "severity_overrides.key-unused"),
        ("blast_radius_min_severity = 'urgent'", "blast_radius_min_severity"),
        ("[[suppressions]]\nrule_id = 'x'\nresource = '*'", "suppressions[0].reason"),
        (
            "[[suppressions]]\nrule_id = 'x'\nresource = '*'\nreason = 'r'\nexpires = 'soon'",
            "suppressions[0].expires",
        ),
        (
            "[[suppressions]]\nrule_id = 'x'\nresource = '*'\nreason = 'r'\nuntil = 1",
            "suppressions[0].until",
        ),
        ("suppressions = 'none'", "suppressions"),
    ],
)
def test_errors_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(AuditPolicyError, match=field.replace("[", r"\[").replace("]", r"\]")):
        AuditPolicy.from_file(path)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(AuditPolicyError, match="cannot read"):
        AuditPolicy.from_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(AuditPolicyError, match="not valid JSON"):
        AuditPolicy.from_file(bad)
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("= 1")
    with pytest.raises(AuditPolicyError, match="not valid TOML"):
        AuditPolicy.from_file(bad_toml)
    top = tmp_path / "list.json"
    top.write_text("[1]")
    with pytest.raises(AuditPolicyError, match="top level"):
        AuditPolicy.from_file(top)


def test_audit_policy_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="max_rotation_days"):
        AuditPolicy.from_dict({"max_rotation_days": True})
