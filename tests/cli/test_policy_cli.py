"""``cmkguard policy analyze``: formats, exit codes, located errors without tracebacks."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from cmkguard.cli import main

K = "111122223333"
X = "444455556666"
ROOT = {
    "Sid": "Enable IAM policies",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{K}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
PRIVATE = {"Version": "2012-10-17", "Statement": [ROOT]}
PUBLIC = {
    "Version": "2012-10-17",
    "Statement": [
        ROOT,
        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
    ],
}


def _write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_private_policy_table_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["policy", "analyze", _write(tmp_path, "p.json", PRIVATE), "--account", K])
    out = capsys.readouterr().out
    assert code == 0
    assert f"Key policy of account {K}: not public" in out
    assert "root-delegation" in out
    assert "[0] 'Enable IAM policies' Allow -> same-account" in out


def test_public_policy_exits_one_with_explanations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["policy", "analyze", _write(tmp_path, "p.json", PUBLIC), "--account", K])
    out = capsys.readouterr().out
    assert code == 1
    assert ": PUBLIC" in out
    assert "CRITICAL public-access" in out
    assert "Principal '*' gives kms:Decrypt to any AWS principal" in out


def test_json_format_with_grants_and_trusted_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = {"Statement": [ROOT, dict(ROOT, Principal={"AWS": X}, Action="kms:Decrypt")]}
    grants = {
        "Grants": [
            {
                "GrantId": "g1",
                "GranteePrincipal": f"arn:aws:iam::{X}:role/R",
                "Operations": ["Decrypt"],
            }
        ]
    }
    code = main(
        [
            "policy",
            "analyze",
            _write(tmp_path, "p.json", policy),
            "--account",
            K,
            "--trusted-account",
            X,
            "--grants",
            _write(tmp_path, "g.json", grants),
            "--format",
            "json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["policy"]["external_access"] == [X]
    cross = [f for f in data["policy"]["findings"] if f["id"] == "cross-account-access"]
    assert cross[0]["downgraded"] is True
    assert {f["id"] for f in data["grants"]["findings"]} == {
        "grant-cross-account",
        "grant-decrypt-unconstrained",
    }


def test_stdin_and_get_key_policy_wrapper(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wrapped = json.dumps({"Policy": json.dumps(PUBLIC), "PolicyName": "default"})
    monkeypatch.setattr("sys.stdin", io.StringIO(wrapped))
    code = main(["policy", "analyze", "-", "--account", K, "--format", "json"])
    assert code == 1
    assert json.loads(capsys.readouterr().out)["policy"]["is_public"] is True


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ('{"Statement": [', [], "malformed key policy: line 1 column 16: invalid JSON"),
        (
            json.dumps({"Statement": [dict(ROOT, Condition={"StringEqual": {"a:b": "c"}})]}),
            [],
            "Statement[0].Condition: unknown operator 'StringEqual'",
        ),
        (json.dumps(PRIVATE), ["--account", "1234"], "--account '1234' is not a 12-digit"),
        (json.dumps(PRIVATE), ["--org-id", "org1"], "--org-id 'org1' is not an organization id"),
        (json.dumps(PRIVATE), ["--trusted-account", "x"], "--trusted-account 'x'"),
    ],
)
def test_malformed_input_exits_two_with_one_located_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    extra: list[str],
    message: str,
) -> None:
    args = ["policy", "analyze", _write(tmp_path, "p.json", content), "--account", K, *extra]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_missing_file_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["policy", "analyze", str(tmp_path / "nope.json"), "--account", K])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot read" in err
    assert "No such file" in err


def test_malformed_grants_exit_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grants = [
        {"GrantId": "g", "GranteePrincipal": f"arn:aws:iam::{K}:role/R", "Operations": ["Nope"]}
    ]
    code = main(
        [
            "policy",
            "analyze",
            _write(tmp_path, "p.json", PRIVATE),
            "--account",
            K,
            "--grants",
            _write(tmp_path, "g.json", grants),
        ]
    )
    assert code == 2
    assert "Grants[0].Operations[0]: unknown grant operation 'Nope'" in capsys.readouterr().err
