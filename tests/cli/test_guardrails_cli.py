"""`cmkguard guardrails ...` and the three output formats of every guardrail set."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cmkguard.cli import main
from cmkguard.errors import ConfigurationError
from cmkguard.guardrails import (
    FORMATS,
    SCP_MAX_CHARS,
    alert_rules,
    build_key_policy,
    config_rules,
    generate_scps,
    key_tags,
    render_alerts,
    render_config_rules,
    render_key,
    render_scps,
)
from tests.guardrails.conftest import ACCOUNT, OTHER, REALISTIC_KEYS

ADMIN = f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"
USER = f"arn:aws:iam::{ACCOUNT}:role/OrdersApp"
TAGS = ["owner=db", "application=orders", "data-sensitivity=high", "cost-centre=cc-1"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["guardrails", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_scp_prints_a_json_array_of_documents_and_sizes_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, "scp", "--approved-key", *REALISTIC_KEYS, "alias/cmk/*")
    assert code == 0
    docs = json.loads(out)
    assert isinstance(docs, list)
    assert all(d["Version"] == "2012-10-17" for d in docs)
    assert docs == generate_scps([*REALISTIC_KEYS, "alias/cmk/*"]).documents
    assert "characters (limit 5120)" in err
    assert "management account" in err
    assert "to verify" in err


def test_scp_in_cloudformation_and_terraform(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "scp", "--approved-key", REALISTIC_KEYS[0], "--format", "cloudformation"
    )
    assert code == 0
    template = json.loads(out)
    (res,) = template["Resources"].values()
    assert res["Type"] == "AWS::Organizations::Policy"
    assert res["Properties"]["Type"] == "SERVICE_CONTROL_POLICY"
    assert len(json.dumps(res["Properties"]["Content"], separators=(",", ":"))) <= SCP_MAX_CHARS
    assert any("management account" in n for n in template["Metadata"]["cmkguard"]["notes"])
    code, out, _ = _run(capsys, "scp", "--approved-key", REALISTIC_KEYS[0], "--format", "terraform")
    tf = json.loads(out)
    (policy,) = tf["resource"]["aws_organizations_policy"].values()
    assert json.loads(policy["content"])["Statement"]
    assert tf["resource"]["aws_organizations_policy_attachment"]
    assert "target_ids" in tf["variable"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scp", "--approved-key", f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/*"], "wildcard"),
        (["scp", "--approved-key", "alias/aws/rds"], "AWS-managed alias"),
        (["scp", "--approved-key", REALISTIC_KEYS[0], "--break-glass", "x"], "break-glass"),
        (["scp", "--approved-key", REALISTIC_KEYS[0], "--max-policies", "9"], "max_policies"),
        (
            ["key-policy", "--account", ACCOUNT, "--region", "eu-west-1", "--service", "rds"],
            "no administrator",
        ),
        (
            [
                "key-policy",
                "--account",
                "12",
                "--region",
                "eu-west-1",
                "--service",
                "rds",
                "--admin",
                ADMIN,
            ],
            "12-digit",
        ),
        (
            [
                "key-policy",
                "--account",
                ACCOUNT,
                "--region",
                "eu-west-1",
                "--service",
                "rds",
                "--admin",
                ADMIN,
                "--format",
                "terraform",
            ],
            "missing mandatory tag",
        ),
        (
            [
                "key-policy",
                "--account",
                ACCOUNT,
                "--region",
                "eu-west-1",
                "--service",
                "rds",
                "--admin",
                ADMIN,
                "--tag",
                "owner",
            ],
            "KEY=VALUE",
        ),
        (["config", "--approved-key", REALISTIC_KEYS[0], "--region", "mars"], "region name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err


def test_key_policy_prints_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "key-policy",
        "--account",
        ACCOUNT,
        "--region",
        "eu-west-1",
        "--service",
        "rds",
        "--admin",
        ADMIN,
        "--user",
        USER,
        "--external-account",
        OTHER,
    )
    assert code == 0
    assert json.loads(out) == build_key_policy(
        account=ACCOUNT,
        region="eu-west-1",
        service="rds",
        admins=[ADMIN],
        users=[USER],
        external_accounts=[OTHER],
    )


def test_key_policy_templates_carry_policy_tags_rotation_and_alias(
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = [
        "key-policy",
        "--account",
        ACCOUNT,
        "--region",
        "eu-west-1",
        "--service",
        "secretsmanager",
        "--admin",
        ADMIN,
        "--alias",
        "alias/cmk/orders",
    ]
    tag_args = [a for t in TAGS for a in ("--tag", t)]
    code, out, _ = _run(capsys, *base, *tag_args, "--format", "cloudformation")
    assert code == 0
    key = json.loads(out)["Resources"]["Key"]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert {t["Key"] for t in key["Tags"]} == {
        "owner",
        "application",
        "data-sensitivity",
        "cost-centre",
    }
    assert key["KeyPolicy"]["Statement"][0]["Sid"] == "KeyAdministration"
    code, out, _ = _run(capsys, *base, *tag_args, "--format", "terraform")
    tf = json.loads(out)["resource"]
    assert (
        json.loads(tf["aws_kms_key"]["cmk"]["policy"])["Id"] == "cmkguard-secretsmanager-key-policy"
    )
    assert tf["aws_kms_alias"]["cmk"]["name"] == "alias/cmk/orders"
    # A configured tag set replaces the default one.
    code, out, _ = _run(
        capsys, *base, "--required-tag", "team", "--tag", "team=db", "--format", "terraform"
    )
    assert code == 0
    assert json.loads(out)["resource"]["aws_kms_key"]["cmk"]["tags"] == {"team": "db"}


def test_render_key_refuses_an_aws_alias() -> None:
    policy = build_key_policy(account=ACCOUNT, region="eu-west-1", service="rds", admins=[ADMIN])
    tags = key_tags(dict(t.split("=") for t in TAGS))
    with pytest.raises(ConfigurationError, match="reserved"):
        render_key(policy, "cloudformation", tags=tags, alias="alias/aws/rds")


@pytest.mark.parametrize("fmt", FORMATS)
def test_alerts_in_every_format(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, _ = _run(capsys, "alerts", "--format", fmt)
    assert code == 0
    doc: Any = json.loads(out)
    rules = alert_rules()
    if fmt == "json":
        assert [r["Name"] for r in doc] == [r.name for r in rules]
    elif fmt == "cloudformation":
        patterns = [r["Properties"]["EventPattern"] for r in doc["Resources"].values()]
        assert patterns == [dict(r.pattern) for r in rules]
    else:
        tf = doc["resource"]["aws_cloudwatch_event_rule"]
        assert [json.loads(r["event_pattern"]) for r in tf.values()] == [
            dict(r.pattern) for r in rules
        ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_config_in_every_format(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, _ = _run(
        capsys,
        "config",
        "--approved-key",
        REALISTIC_KEYS[0],
        "--region",
        "eu-west-1",
        "us-east-1",
        "--format",
        fmt,
    )
    assert code == 0
    doc: Any = json.loads(out)
    rules = config_rules([REALISTIC_KEYS[0]], regions=["eu-west-1", "us-east-1"])
    assert out == render_config_rules(rules, fmt)
    if fmt == "json":
        assert len(doc) == 8
        assert {d["Region"] for d in doc} == {"eu-west-1", "us-east-1"}
    elif fmt == "cloudformation":
        assert set(doc) == {"eu-west-1", "us-east-1"}
        types = {r["Type"] for t in doc.values() for r in t["Resources"].values()}
        assert types == {"AWS::Config::ConfigRule"}
    else:
        assert len(doc["resource"]["aws_config_config_rule"]) == 8
        assert {p["region"] for p in doc["provider"]["aws"]} == {"eu-west-1", "us-east-1"}


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(ConfigurationError, match="not one of json, cloudformation, terraform"):
        render_scps(generate_scps(REALISTIC_KEYS[:1]), "yaml")
    with pytest.raises(ConfigurationError, match="not one of"):
        render_alerts(alert_rules(), "xml")
