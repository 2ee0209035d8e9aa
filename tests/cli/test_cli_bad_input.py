"""Bad input to any command: one ``cmkguard: error:`` line and exit code 2, never a traceback.

Found by a QA pass feeding every command malformed files, unusable outputs and endpoints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmkguard import Inventory
from cmkguard.cli import main

_SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf"

# A JSON document of the wrong shape: valid JSON, but not what the command reads.
_WRONG_SHAPES = {
    "list": "[1, 2]",
    "scalar": "42",
    "resource-not-object": '{"schema_version": 1, "resources": [1]}',
    "keys-not-list": '{"schema_version": 1, "keys": "abc"}',
}


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("cmkguard: error: ")


@pytest.fixture(name="plan_file")
def _plan_file(tmp_path: Path) -> Path:
    # Any well-formed plan will do: the journal/output is what these tests get wrong.
    from cmkguard import MigrationPlan

    plan = MigrationPlan(target_key="alias/k", resources=(), steps=())
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    return path


@pytest.mark.parametrize("shape", sorted(_WRONG_SHAPES))
def test_wrong_shaped_inventory_is_bad_input(
    shape: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "inv.json"
    path.write_text(_WRONG_SHAPES[shape])
    _one_line_exit_2(
        capsys, ["audit", "--from-inventory", str(path)], "is not a cmkguard inventory"
    )
    _one_line_exit_2(
        capsys,
        [
            *("migrate", "plan", "arn:aws:rds:us-east-1:111122223333:db:x", "--key", "alias/k"),
            *("--from-inventory", str(path), "--no-capture"),
        ],
        "is not a cmkguard inventory",
    )


@pytest.mark.parametrize("shape", ["list", "scalar"])
def test_wrong_shaped_report_and_plan_are_bad_input(
    shape: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inv = tmp_path / "inv.json"
    inv.write_text(Inventory(resources=(), keys=[]).to_json())
    path = tmp_path / "doc.json"
    path.write_text(_WRONG_SHAPES[shape])
    _one_line_exit_2(
        capsys,
        ["audit", "--from-inventory", str(inv), "--previous", str(path)],
        "is not a cmkguard audit report",
    )
    _one_line_exit_2(
        capsys,
        ["migrate", "run", str(path), "--journal", str(tmp_path / "j.json")],
        "is not a valid cmkguard plan",
    )


def test_non_utf8_files_are_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "inv.json"
    inv.write_text(Inventory(resources=(), keys=[]).to_json())
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    _one_line_exit_2(capsys, ["audit", "--from-inventory", str(binary)], "not UTF-8")
    _one_line_exit_2(
        capsys, ["audit", "--from-inventory", str(inv), "--previous", str(binary)], "not UTF-8"
    )


def test_inventory_from_json_rejects_a_non_object_with_value_error() -> None:
    for text in ("[1]", '"x"', '{"schema_version": 1, "resources": [1]}'):
        with pytest.raises(ValueError, match="not a cmkguard inventory"):
            Inventory.from_json(text)


@pytest.mark.parametrize(
    "content", ["{bad json", "[1, 2]", b"\xff\xfe"], ids=["json", "list", "binary"]
)
def test_corrupt_journal_is_bad_input(
    content: str | bytes, plan_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "j.json"
    if isinstance(content, bytes):
        journal.write_bytes(content)
    else:
        journal.write_text(content)
    _one_line_exit_2(
        capsys,
        ["migrate", "run", str(plan_file), "--journal", str(journal)],
        "is not a cmkguard journal",
    )


def test_a_json_object_without_fingerprint_is_not_a_journal(
    plan_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "j.json"
    journal.write_text(json.dumps({"hello": 1}))
    _one_line_exit_2(
        capsys,
        ["migrate", "run", str(plan_file), "--journal", str(journal)],
        "is not a cmkguard journal",
    )


def test_output_that_fails_while_writing_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # /dev/full opens fine and fails on write/flush with ENOSPC, as a full disk does.
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    inv = tmp_path / "inv.json"
    inv.write_text(Inventory(resources=(), keys=[]).to_json())
    _one_line_exit_2(
        capsys,
        ["audit", "--from-inventory", str(inv), "--format", "json", "-o", "/dev/full"],
        "cannot write /dev/full",
    )


@pytest.mark.parametrize(
    "url", ["notaurl", "http://127.0.0.1:99999", "ftp://127.0.0.1:9", "http://"]
)
@pytest.mark.usefixtures("fake_aws_env")
def test_malformed_endpoint_url_is_bad_input(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_exit_2(
        capsys, ["scan", "--regions", "us-east-1", "--endpoint-url", url], "invalid endpoint URL"
    )


@pytest.mark.usefixtures("fake_aws_env")
def test_unwritable_output_fails_before_scanning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The endpoint is unreachable: had the scan started, the error would name the endpoint.
    out = str(tmp_path / "missing-dir" / "inv.json")
    base = ["--regions", "us-east-1", "--endpoint-url", "http://127.0.0.1:9", "-o", out]
    _one_line_exit_2(capsys, ["scan", *base], f"cannot write {out}")
    _one_line_exit_2(capsys, ["audit", *base], f"cannot write {out}")


class _ClosedPipe:
    """A stdout whose reader went away (``cmkguard ... | head -1``)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        raise OSError("not a real file")


def test_a_closed_stdout_pipe_ends_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inv = tmp_path / "inv.json"
    inv.write_text(Inventory(resources=(), keys=[]).to_json())
    monkeypatch.setattr("sys.stdout", _ClosedPipe())
    assert main(["audit", "--from-inventory", str(inv), "--format", "json"]) == 141
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.usefixtures("no_aws_credentials")
def test_migrate_execute_without_credentials_is_bad_input(
    plan_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "j.json"
    argv = ["migrate", "run", str(plan_file), "--journal", str(journal), "--execute"]
    _one_line_exit_2(capsys, argv, "no AWS credentials")
    assert not journal.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["notanarn"], "'notanarn' is not an ARN"),
        ([_SECRET, "--consumer", f"{_SECRET}=app-role"], "--consumer: 'app-role' is not an ARN"),
        (
            [_SECRET, "--rotation-role", "my-secret=arn:aws:iam::111122223333:role/r"],
            "--rotation-role",
        ),
    ],
)
def test_migrate_plan_arguments_that_are_not_arns_are_bad_input(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inv = tmp_path / "inv.json"
    inv.write_text(Inventory(resources=(), keys=[]).to_json())
    argv = ["migrate", "plan", *extra, "--key", "alias/k", "--from-inventory", str(inv)]
    _one_line_exit_2(capsys, [*argv, "--no-capture"], message)


def test_unknown_region_suggests_rather_than_claims_the_known_list(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import pickle

    from cmkguard import UnknownRegionError
    from cmkguard.aws.regions import validate_regions

    # "known regions: us-east-2, us-east-1" read as if AWS had only those two.
    _one_line_exit_2(
        capsys,
        ["scan", "--demo", "--regions", "us-east-99"],
        "did you mean us-east-2 or us-east-1?",
    )
    with pytest.raises(UnknownRegionError) as info:
        validate_regions(["us-east-99"])
    assert "eu-west-1" in info.value.known
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.suggestions, str(again)) == (info.value.suggestions, str(info.value))
