"""`cmkguard iac check`: formats, the exit-code contract, bad input, DescribeKey on the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from cmkguard.cli import main
from tests.iac.conftest import CFN_JSON, CFN_YAML, PLAN, SARIF_SCHEMA

if TYPE_CHECKING:
    import boto3

_CLEAN = """
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      EnableKeyRotation: true
      Tags:
        - {Key: owner, Value: a}
        - {Key: application, Value: b}
        - {Key: data-sensitivity, Value: c}
        - {Key: cost-center, Value: d}
  Db:
    Type: AWS::RDS::DBInstance
    Properties: {Engine: postgres, StorageEncrypted: true, KmsKeyId: !GetAtt Key.Arn}
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["iac", "check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_lists_every_resource(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(PLAN), str(CFN_YAML), "--format", "json")
    assert code == 3, err  # unknown keys: incomplete
    doc = json.loads(out)
    assert doc["complete"] is False
    assert doc["gaps"]
    files = {r["file"] for r in doc["resources"]}
    assert files == {str(PLAN), str(CFN_YAML)}
    cfn = next(r for r in doc["resources"] if r.get("logical_id") == "AuroraDefault")
    assert cfn["resource_type"] == "AWS::RDS::DBCluster"
    assert cfn["key_class"] == "aws_owned"
    assert [f["rule_id"] for f in cfn["findings"]] == ["resource-aws-owned-key"]
    for r in doc["resources"]:
        assert {"file", "line", "address", "resource_type", "key_class", "findings"} <= set(r)


def test_incomplete_is_exit_3_with_the_gaps_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(CFN_YAML))
    assert code == 3
    assert "incomplete: 3 key(s)" in err
    assert "SharedKeyDb" in err
    assert "incomplete: 3 key(s)" in out  # the table says so too
    code, _, _ = _run(capsys, str(CFN_YAML), "--allow-incomplete")
    assert code == 0


def test_fail_on_gates_and_wins_over_incomplete(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, str(PLAN), "--fail-on", "critical")
    assert code == 1
    assert "1 finding(s) at or above critical" in err
    code, _, _ = _run(capsys, str(CFN_JSON), "--fail-on", "high", "--account", "111122223333")
    assert code == 0


def test_a_clean_template_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "clean.yaml"
    path.write_text(_CLEAN)
    code, out, err = _run(capsys, str(path), "--fail-on", "low")
    assert (code, err) == (0, "")
    assert "2 resources checked (1 customer_managed)" in out


def _sarif(capsys: pytest.CaptureFixture[str], *paths: str) -> dict[str, Any]:
    code, out, _ = _run(capsys, *paths, "--format", "sarif", "--allow-incomplete")
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_sarif_validates_and_locates_every_result(capsys: pytest.CaptureFixture[str]) -> None:
    log = _sarif(capsys, str(PLAN), str(CFN_YAML), str(CFN_JSON))
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["results"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        physical = result["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert not uri.startswith(("/", "file:")), uri  # relative to the repository root
        assert Path(uri).is_file()
        line = Path(uri).read_text().splitlines()[physical["region"]["startLine"] - 1]
        logical = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        assert logical.split("[")[0].rsplit(".", 1)[-1] in line or logical in line
        assert result["partialFingerprints"]
    # GitHub code scanning: a numeric security-severity and help text on every rule.
    for rule in rules:
        assert float(rule["properties"]["security-severity"]) >= 0
        assert rule["help"]["text"]
        assert rule["shortDescription"]["text"]


@pytest.mark.parametrize("fmt", ["csv", "ocsf", "table"])
def test_other_formats(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(CFN_JSON), "--format", fmt, "--account", "111122223333")
    assert code == 0
    assert "resource-cross-account-key" in out


def _one_line_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert err.startswith("cmkguard: error: ")
    assert len(err.strip().splitlines()) == 1, err
    assert message in err


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("{not json", "x.json", "is not valid JSON"),
        ("a: [b\n", "x.yaml", "is not valid YAML"),
        ('{"a": 1}', "x.json", "is not a Terraform plan"),
        ('{"format_version": "1.0", "values": {}}', "state.json", "is Terraform state"),
        ("", "empty.yaml", "is not a Terraform plan"),
        ("Resources: []\n", "list.yaml", "is not a Terraform plan"),
    ],
)
def test_bad_files_are_exit_2(
    content: str, name: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_text(content)
    _one_line_2(capsys, [str(path)], message)


def test_bad_arguments_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_2(capsys, [str(tmp_path / "missing.json")], "cannot read")
    _one_line_2(capsys, [str(tmp_path)], "no Terraform plan or CloudFormation template found")
    _one_line_2(capsys, [str(CFN_YAML), "--parameter", "x"], "--parameter expects NAME=VALUE")
    _one_line_2(capsys, [str(CFN_YAML), "--account", "12"], "12-digit account id")
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    _one_line_2(capsys, [str(binary)], "not UTF-8")


def test_a_directory_skips_files_that_are_neither(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "package.json").write_text('{"name": "x"}')
    (tmp_path / "broken.yaml").write_text("a: [")
    (tmp_path / "t.yaml").write_text(_CLEAN)
    code, out, _ = _run(capsys, str(tmp_path), "--format", "json")
    assert code == 0
    assert json.loads(out)["files"] == [str(tmp_path / "t.yaml")]


def test_describe_keys_resolves_literals_on_the_emulated_account(
    cmkguard_aws_session: boto3.Session, tmp_path: Path
) -> None:
    """A literal ARN that is really aws/rds is AWS-managed; a disabled key is reported."""
    from cmkguard.aws import AwsAccess
    from cmkguard.iac import check_text
    from cmkguard.iac.aws_keys import describe_with
    from cmkguard.inventory.values import KeyClass

    kms = cmkguard_aws_session.client("kms", region_name="us-east-1")
    meta = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=meta["KeyId"])
    disabled = meta["Arn"]
    aws_rds = kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["Arn"]
    account = disabled.split(":")[4]
    missing = f"arn:aws:kms:us-east-1:{account}:key/00000000-0000-0000-0000-000000000000"
    template = f"""
Resources:
  OnDefault:
    Type: AWS::RDS::DBInstance
    Properties: {{Engine: postgres, StorageEncrypted: true, KmsKeyId: "{aws_rds}"}}
  OnDisabled:
    Type: AWS::RDS::DBInstance
    Properties: {{Engine: postgres, StorageEncrypted: true, KmsKeyId: "{disabled}"}}
  OnMissing:
    Type: AWS::SecretsManager::Secret
    Properties: {{KmsKeyId: "{missing}"}}
"""
    without = check_text(template, "t.yaml", account=account)
    assert without.resource("OnDefault").key_class is KeyClass.CUSTOMER_MANAGED  # by form only
    with AwsAccess.from_session(cmkguard_aws_session) as access:
        report = check_text(template, "t.yaml", account=account, describe=describe_with(access))
    assert report.resource("OnDefault").key_class is KeyClass.AWS_MANAGED
    on_disabled = report.resource("OnDisabled")
    assert on_disabled.key_class is KeyClass.CUSTOMER_MANAGED
    assert "resource-key-disabled" in {f.rule_id for f in on_disabled.findings}
    on_missing = report.resource("OnMissing")
    assert on_missing.key_class is KeyClass.UNKNOWN
    assert "NotFoundException" in (on_missing.reason or "")


def test_describe_with_a_boto3_session_still_works_but_is_deprecated(
    cmkguard_aws_session: boto3.Session,
) -> None:
    from cmkguard.iac.aws_keys import describe_with

    aws_rds = cmkguard_aws_session.client("kms", region_name="us-east-1").describe_key(
        KeyId="alias/aws/rds"
    )["KeyMetadata"]["Arn"]
    with pytest.deprecated_call():
        describe = describe_with(cmkguard_aws_session, "us-east-1")
    facts = describe(aws_rds, None)
    assert facts is not None
    assert facts.manager == "AWS"
    assert facts.arn == aws_rds
    assert describe("alias/no-such-key", None) is not None
    assert "NotFoundException" in (describe("alias/no-such-key", None).error or "")
