"""`cmkguard policy explain`: per verdict the witness request and the deciding statements."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cmkguard.cli import main

K = "111122223333"
X = "444455556666"
ORG = "o-a1b2c3d4e5"
ROOT = {
    "Sid": "Root",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{K}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
EVERYONE = {
    "Sid": "Everyone",
    "Effect": "Allow",
    "Principal": "*",
    "Action": ["kms:Decrypt", "kms:DescribeKey"],
    "Resource": "*",
}
PERIMETER = {
    "Sid": "Perimeter",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "kms:*",
    "Resource": "*",
    "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG}},
}


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _run(tmp_path: Path, policy: Any, *extra: str) -> list[str]:
    path = tmp_path / "policy.json"
    path.write_text(policy if isinstance(policy, str) else json.dumps(policy), encoding="utf-8")
    return ["policy", "explain", str(path), "--account", K, *extra]


def test_a_public_policy_shows_the_outside_request_and_exits_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(_run(tmp_path, _policy(ROOT, EVERYONE)))
    out = capsys.readouterr().out
    assert code == 1
    assert f"Key policy of account {K}: PUBLIC" in out
    public = re.split(r"\n  [A-Z]", out.split("  PUBLIC *\n", 1)[1])[0]
    assert "request:    role arn:aws:iam::" in public
    assert f"arn:aws:iam::{K}:" not in public  # a caller from an account the policy never names
    assert "allowed by: Statement[1] 'Everyone'" in public


def test_a_perimeter_deny_is_explained_for_each_surviving_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(_run(tmp_path, _policy(ROOT, EVERYONE, PERIMETER), "--org-id", ORG))
    out = capsys.readouterr().out
    assert code == 0
    assert "not public" in out
    assert f"CROSS-ACCOUNT {ORG}" in out
    assert f"org {ORG}" in out
    assert "not denied by Statement[2] 'Perimeter': its condition StringNotEqualsIfExists" in out
    assert "PUBLIC *" not in out


def test_a_grant_removed_by_deny_names_the_deny(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grant = {"Effect": "Allow", "Principal": {"AWS": X}, "Action": "kms:Decrypt", "Resource": "*"}
    deny = dict(grant, Effect="Deny", Sid="NoPartner")
    code = main(_run(tmp_path, _policy(ROOT, grant, deny)))
    out = capsys.readouterr().out
    assert code == 0
    assert "External access: none" in out
    assert "Removed by Deny (1):" in out
    removed = f"Statement[1] gives kms:Decrypt to arn:aws:iam::{X}:root: removed by Statement[2]"
    assert f"{removed} 'NoPartner'" in out


def test_json_output_carries_witnesses_and_denials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(_run(tmp_path, _policy(ROOT, EVERYONE, PERIMETER), "--format", "json"))
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["is_public"] is False
    assert data["external_access"] == [ORG]
    by_entity = {w["entity"]: w for w in data["witnesses"]}
    org = by_entity[ORG]
    assert org["org_id"] == ORG
    assert org["account"] not in (K, None)
    assert org["allowed_by"] == 1
    assert org["context"]["aws:PrincipalOrgID"] == ORG
    assert [e["statement_index"] for e in org["deny_escapes"]] == [2]
    assert org["request"].startswith("role arn:aws:iam::")


@pytest.mark.parametrize(
    ("policy", "extra", "message"),
    [
        ('{"Statement": [', (), "malformed key policy"),
        (_policy(), (), "empty list"),
        (_policy(ROOT), ("--org-id", "o-"), "--org-id"),
    ],
)
def test_bad_input_is_one_line_and_exit_two(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    policy: Any,
    extra: tuple[str, ...],
    message: str,
) -> None:
    code = main(_run(tmp_path, policy, *extra))
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
