"""`cmkguard policy explain/analyze --grants`: per grant verdict the witness request, the key
policy's Denies overriding grants, JSON output, and bad grant files (one line, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cmkguard.cli import main

K = "111122223333"
X = "444455556666"
ROLE_X = f"arn:aws:iam::{X}:role/Reader"
ROOT = {
    "Sid": "Root",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{K}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
ONLY_PROD = {
    "Sid": "OnlyProd",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "kms:Decrypt",
    "Resource": "*",
    "Condition": {"StringNotEquals": {"kms:EncryptionContext:env": "prod"}},
}
GRANTS = {
    "Grants": [
        {
            "GrantId": "g-orders",
            "GranteePrincipal": ROLE_X,
            "Operations": ["Decrypt", "CreateGrant"],
            "Constraints": {"EncryptionContextSubset": {"app": "orders"}},
        },
        {
            "GrantId": "g-batch",
            "GranteePrincipal": f"arn:aws:iam::{K}:role/Batch",
            "Operations": ["Decrypt"],
            "Constraints": {"EncryptionContextEquals": {"app": "batch"}},
        },
    ]
}


def _files(tmp_path: Path, policy: Any, grants: Any) -> tuple[str, str]:
    p = tmp_path / "policy.json"
    p.write_text(json.dumps(policy), encoding="utf-8")
    g = tmp_path / "grants.json"
    g.write_text(grants if isinstance(grants, str) else json.dumps(grants), encoding="utf-8")
    return str(p), str(g)


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_explain_prints_each_grant_verdict_with_its_witness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy, grants = _files(tmp_path, _policy(ROOT, ONLY_PROD), GRANTS)
    code = main(["policy", "explain", policy, "--account", K, "--grants", grants])
    out = capsys.readouterr().out
    assert code == 0
    verdicts = out.split("Grant verdicts (", 1)[1]
    assert f"DECRYPT {ROLE_X} (grant g-orders, grant)" in verdicts
    assert (
        f'request:    {ROLE_X} calls Decrypt with encryption context {{"app": "orders", '
        '"env": "prod"} (grant g-orders)' in verdicts
    )
    assert 'constraint: only when the encryption context contains {"app": "orders"}' in verdicts
    assert "not denied by Statement[1] 'OnlyProd'" in verdicts
    assert "DECRYPT ANY PRINCIPAL (grant g-orders, re-delegation)" in verdicts
    removed = out.split("Grant operations removed by the key policy (1):", 1)[1]
    assert f"grant g-batch gives Decrypt to arn:aws:iam::{K}:role/Batch" in removed
    assert "removed by Statement[1] 'OnlyProd'" in removed


def test_explain_json_carries_the_grant_witnesses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy, grants = _files(tmp_path, _policy(ROOT, ONLY_PROD), GRANTS)
    fmt = ["--format", "json"]
    assert main(["policy", "explain", policy, "--account", K, "--grants", grants, *fmt]) == 0
    data = json.loads(capsys.readouterr().out)
    g = data["grants"]
    assert g["key_policy_checked"] is True
    assert g["decrypters"] == ["*", ROLE_X]
    own = next(a for a in g["accesses"] if a["principal"] == ROLE_X and a["operation"] == "Decrypt")
    assert own["encryption_context"] == {"app": "orders", "env": "prod"}
    assert own["deny_escapes"][0]["statement_index"] == 1
    assert g["denials"] == [
        {
            "grant_id": "g-batch",
            "principal": f"arn:aws:iam::{K}:role/Batch",
            "operation": "Decrypt",
            "via": "grant",
            "denied_by": [1],
        }
    ]


def test_analyze_lists_constraints_in_words_and_decrypters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy, grants = _files(tmp_path, _policy(ROOT), GRANTS)
    assert main(["policy", "analyze", policy, "--account", K, "--grants", grants]) == 0
    out = capsys.readouterr().out
    assert 'only when the encryption context is exactly {"app": "batch"}' in out
    assert f"Decrypt through grants (Decrypt, ReEncryptFrom): *, arn:aws:iam::{K}:role/Batch" in out
    assert "grant-create-grant" in out


@pytest.mark.parametrize(
    ("grants", "message"),
    [
        ("{not json", "invalid JSON"),
        ({"Grants": "x"}, "expected a list of grants"),
        (
            [
                {
                    "GrantId": "g",
                    "GranteePrincipal": ROLE_X,
                    "Operations": ["Verify"],
                    "Constraints": {"EncryptionContextSubset": {"a": "b"}},
                }
            ],
            "malformed grants: Grants[0].Constraints.EncryptionContextSubset",
        ),
    ],
)
def test_bad_grant_files_are_one_line_and_exit_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grants: Any, message: str
) -> None:
    policy, path = _files(tmp_path, _policy(ROOT), grants)
    for command in ("explain", "analyze"):
        assert main(["policy", command, policy, "--account", K, "--grants", path]) == 2
        err = capsys.readouterr().err
        assert message in err
        assert len(err.strip().splitlines()) == 1
