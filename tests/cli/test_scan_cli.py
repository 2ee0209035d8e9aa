"""``cmkguard scan``: formats, the demo, and one-line exit-2 errors for bad input."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from cmkguard import Inventory
from cmkguard.cli import main
from cmkguard.cli.scan import CSV_COLUMNS
from cmkguard.testing import seed_estate


def _identity(r: Any) -> tuple[str, str, str, str]:
    # See tests/inventory/test_acceptance.py: moto's replica ARNs differ from AWS's.
    return (r.account, r.region, r.resource_type, r.name)


def test_demo_json_matches_the_seeding_ground_truth(
    cmkguard_emulated_aws: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto's state is process-wide: the demo's own emulator starts from the reset state the
    # ``cmkguard_emulated_aws`` fixture leaves, as it would in a fresh ``cmkguard`` process.
    truths: list[Any] = []

    def recording_seed(*args: Any, **kwargs: Any) -> Any:
        truths.append(seed_estate(*args, **kwargs))
        return truths[-1]

    monkeypatch.setattr("cmkguard.testing.seed_estate", recording_seed)
    assert main(["scan", "--demo", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    inventory = Inventory.from_json(out)
    (truth,) = truths
    assert len(truth.regions) >= 2
    found = {_identity(r): r.key_class for r in inventory.resources}
    expected = {_identity(r): r.key_class for r in truth.resources.values()}
    assert found == expected
    assert {r.resource_type.split(":")[0] for r in inventory.resources} == {
        "rds",
        "secretsmanager",
    }
    assert "demo: started an emulated AWS account" in err
    assert "CMK coverage" in err


def test_table_and_csv_on_an_endpoint(
    cmkguard_emulated_aws: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kms = cmkguard_emulated_aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=key["KeyId"])
    sm = cmkguard_emulated_aws.client("secretsmanager")
    sm.create_secret(Name="on-cmk", SecretString="never-read", KmsKeyId="alias/app")
    sm.create_secret(Name="on-default", SecretString="never-read")
    args = ["scan", "--endpoint-url", cmkguard_emulated_aws.endpoint_url, "--regions", "us-east-1"]

    assert main([*args, "--format", "csv"]) == 0
    out, _ = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_name = {r["name"]: r for r in rows}
    assert by_name["on-cmk"]["key_class"] == "customer-managed"
    assert by_name["on-cmk"]["key_aliases"] == "alias/app"
    assert by_name["on-default"]["key_class"] == "aws-managed"

    assert main([*args, "--types", "secretsmanager:secret"]) == 0
    out, _ = capsys.readouterr()
    assert "on-cmk" in out
    assert "alias/app" in out
    assert "CMK coverage: 50.0%" in out


def test_output_file(
    cmkguard_emulated_aws: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "inventory.json"
    code = main(
        [
            "scan",
            "--endpoint-url",
            cmkguard_emulated_aws.endpoint_url,
            "--regions",
            "us-east-1",
            "--format",
            "json",
            "--output",
            str(target),
        ]
    )
    assert code == 0
    assert Inventory.from_json(target.read_text()).regions == ("us-east-1",)
    out, err = capsys.readouterr()
    assert out == ""
    assert "0 resources" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--regions", "eu-wset-1"], "unknown region 'eu-wset-1'"),
        (["--regions", "us-east-1", "--types", "rds:nope"], "unknown resource type 'rds:nope'"),
        (["--regions", "us-east-1", "--endpoint-url", "http://127.0.0.1:9"], "cannot reach"),
        (["--demo", "--regions", "mars-1"], "unknown region 'mars-1'"),
        (["--demo", "--profile", "x"], "--demo scans an emulated account"),
    ],
)
@pytest.mark.usefixtures("fake_aws_env")
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("no_aws_credentials")
def test_no_credentials_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--regions", "us-east-1", "--endpoint-url", "http://127.0.0.1:9"]) == 2
    _, err = capsys.readouterr()
    assert "no AWS credentials" in err
    assert main(["scan", "--regions", "us-east-1", "--profile", "missing"]) == 2
    _, err = capsys.readouterr()
    assert "missing" in err
    assert err.count("\n") == 1


def test_json_is_parseable_and_complete(
    cmkguard_emulated_aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cmkguard_emulated_aws.client("kms").create_key()
    args = ["scan", "--endpoint-url", cmkguard_emulated_aws.endpoint_url, "--regions", "us-east-1"]
    assert main([*args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema_version"] == 1
    assert len(data["keys"]) == 1


def test_progress_shows_on_a_terminal_only(
    cmkguard_emulated_aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cmkguard import scan
    from cmkguard.cli import _scan_options

    with _scan_options.terminal_progress(enabled=False) as none:
        assert none is None
    with _scan_options.terminal_progress(enabled=True) as bar:
        assert bar is not None
        scan(cmkguard_emulated_aws.session(), regions=["us-east-1"], progress=bar)
    assert bar.total >= 6  # type: ignore[attr-defined]
    # Without rich (the optional 'cli' extra), a plain counter.
    monkeypatch.setitem(__import__("sys").modules, "rich.progress", None)
    with _scan_options.terminal_progress(enabled=True) as plain:
        scan(cmkguard_emulated_aws.session(), regions=["us-east-1"], progress=plain)
    assert type(plain).__name__ == "_PlainProgress"
    assert "scanning:" in capsys.readouterr().err
