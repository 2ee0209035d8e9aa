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


def test_an_analysis_past_its_bound_says_so_per_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cmkguard.policy import _exact
    from cmkguard.policy.analysis import clear_memos
    from tests.policy.adversarial import wildcard_heavy

    clear_memos()
    monkeypatch.setattr(_exact, "ANALYSIS_BUDGET", 500)
    code = main(_run(tmp_path, wildcard_heavy(8)))
    out = capsys.readouterr().out
    assert code == 0
    assert "Not exact: the analysis reached its work bound" in out
    assert "not checked: past the work bound" in out
    clear_memos()
    main(_run(tmp_path, wildcard_heavy(8), "--format", "json"))
    data = json.loads(capsys.readouterr().out)
    assert data["exact"] is False
    assert any(w.get("checked") is False for w in data["witnesses"])
    clear_memos()
    main(_run(tmp_path, _policy(ROOT, EVERYONE), "--format", "json"))
    data = json.loads(capsys.readouterr().out)
    assert data["exact"] is True
    assert all("checked" not in w for w in data["witnesses"])


def _corpus() -> list[Any]:
    from tests.policy.policy_corpus import OWN_CORPUS, PUBLIC_CORPUS

    cases = []
    for directory in (PUBLIC_CORPUS, OWN_CORPUS):
        for path in sorted(directory.glob("*.json")):
            case = json.loads(path.read_text(encoding="utf-8"))
            if not case["expected"].get("malformed"):
                cases.append(pytest.param(case, id=path.stem))
    return cases


@pytest.mark.parametrize("case", _corpus())
def test_explain_names_a_witness_and_its_deciding_statements_for_every_corpus_verdict(
    case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every answer of the analysis is backed in `explain`: public has a public witness, every
    # external entity a witness naming it, each witness an Allow that admits it and, for each
    # Deny covering its action, why that Deny does not apply; each denial names Denies.
    policy = case["policy_text"] if "policy_text" in case else case["policy"]
    extra = ["--org-id", case["org_id"]] if case.get("org_id") else []
    if case.get("key_arn"):
        extra += ["--key-arn", case["key_arn"]]
    path = tmp_path / "policy.json"
    path.write_text(policy if isinstance(policy, str) else json.dumps(policy), encoding="utf-8")
    main(
        [
            "policy",
            "explain",
            str(path),
            "--account",
            case["key_account"],
            *extra,
            "--format",
            "json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    statements = json.loads(policy)["Statement"] if isinstance(policy, str) else policy["Statement"]
    statements = statements if isinstance(statements, list) else [statements]
    effect = [st.get("Effect") for st in statements]
    witnessed = {w["entity"] for w in data["witnesses"]}
    assert data["exact"] is True
    if data["is_public"]:
        assert any(w["verdict"] == "public" for w in data["witnesses"])
    for entity in data["external_access"]:
        assert entity in witnessed or "*" in witnessed, entity
    for w in data["witnesses"]:
        assert effect[w["allowed_by"]] == "Allow"
        assert w["request"]
        for escape in w["deny_escapes"]:
            assert effect[escape["statement_index"]] == "Deny"
            assert escape["reason"]
    for d in data["denials"]:
        assert d["denied_by"]
        assert all(effect[i] == "Deny" for i in d["denied_by"])


def test_a_perimeter_that_spares_services_prints_the_service_verdict_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # AWS's data-perimeter pattern: the org's callers get in (cross-account) AND AWS services
    # do (the Deny spares them): both verdicts are printed, each with its witness and Deny.
    spare = {**PERIMETER, "Condition": {**PERIMETER["Condition"]}}
    spare["Condition"]["BoolIfExists"] = {"aws:PrincipalIsAWSService": "false"}
    code = main(_run(tmp_path, _policy(ROOT, EVERYONE, spare), "--org-id", ORG))
    out = capsys.readouterr().out
    assert code == 0
    assert f"CROSS-ACCOUNT {ORG}" in out
    service = out.split("  SERVICE ", 1)[1]
    assert "request:    service " in service.split("\n  ", 2)[1]
    assert "allowed by: Statement[1] 'Everyone'" in service
    assert "not denied by Statement[2] 'Perimeter': its condition BoolIfExists" in service


@pytest.mark.parametrize("case", _corpus())
def test_every_statement_verdict_has_a_witness_of_that_verdict(case: dict[str, Any]) -> None:
    # Each effective Allow's verdict (the worst class of caller it admits) is backed by a
    # witness of that class from that statement: explain prints every verdict class.
    import cmkguard

    policy = case["policy_text"] if "policy_text" in case else case["policy"]
    a = cmkguard.analyze_key_policy(
        policy,
        key_account=case["key_account"],
        org_id=case.get("org_id"),
        key_arn=case.get("key_arn"),
    )
    shown = {(w.allowed_by, w.verdict) for w in a.witnesses}
    for i, st in enumerate(a.statements):
        if st.verdict in ("no-effect", "deny"):
            continue
        assert (i, st.verdict) in shown, (i, st.verdict, sorted(shown))
