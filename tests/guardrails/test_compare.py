"""Key-policy change review: one test per kind of change, through the public function and the CLI.

The baseline is the builder's least-privilege RDS key policy; each test edits one thing.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import cmkguard
from cmkguard.cli import main
from cmkguard.errors import PolicyParseError
from cmkguard.guardrails import build_key_policy

from .conftest import ACCOUNT, OTHER

ADMIN = f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"
USER = f"arn:aws:iam::{ACCOUNT}:role/OrdersApp"
ORG = "o-a1b2c3d4e5"


@pytest.fixture(name="base")
def _base() -> dict[str, Any]:
    return build_key_policy(
        account=ACCOUNT, region="eu-west-1", service="rds", admins=[ADMIN], users=[USER]
    )


def _stmt(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    (st,) = [s for s in policy["Statement"] if s.get("Sid") == sid]
    return st


def test_no_change_is_no_new_access(base: dict[str, Any]) -> None:
    change = cmkguard.compare_key_policies(base, copy.deepcopy(base), key_account=ACCOUNT)
    assert not change.has_new_access
    assert change.changes == ()
    assert change.findings_added == () == change.findings_removed
    assert str(change).startswith("Key-policy change: no new access")


def test_new_external_account(base: dict[str, Any]) -> None:
    new = copy.deepcopy(base)
    new["Statement"].append(
        {
            "Sid": "PartnerDecrypt",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    change = cmkguard.compare_key_policies(base, new, key_account=ACCOUNT)
    assert change.has_new_access
    assert change.external_gained == {OTHER}
    assert not change.becomes_public
    (gain,) = change.gained
    assert gain.principal == f"arn:aws:iam::{OTHER}:root"
    assert gain.actions == ("kms:Decrypt",)
    (witness,) = gain.witnesses
    assert (witness.statement_index, witness.sid, witness.conditions) == (3, "PartnerDecrypt", ())
    assert "unconditionally" in str(witness)
    assert [f.id for f in change.findings_added] == ["cross-account-access"]
    # ...and the reverse change loses it, which is not new access.
    back = cmkguard.compare_key_policies(new, base, key_account=ACCOUNT)
    assert not back.has_new_access
    assert back.external_lost == {OTHER}
    assert [c.kind for c in back.changes] == ["lost"]
    assert [f.id for f in back.findings_removed] == ["cross-account-access"]


def test_a_trusted_external_account_is_still_reported_but_its_finding_is_downgraded(
    base: dict[str, Any],
) -> None:
    new = copy.deepcopy(base)
    _stmt(new, "KeyAdministration")["Principal"]["AWS"] = [ADMIN, f"arn:aws:iam::{OTHER}:root"]
    change = cmkguard.compare_key_policies(base, new, key_account=ACCOUNT, trusted_accounts=[OTHER])
    assert change.external_gained == {OTHER}
    assert all(f.downgraded for f in change.findings_added)


def test_becomes_public(base: dict[str, Any]) -> None:
    new = copy.deepcopy(base)
    use = _stmt(new, "KeyUseThroughService")
    use["Principal"] = {"AWS": "*"}
    del use["Condition"]["StringEquals"]["kms:CallerAccount"]
    change = cmkguard.compare_key_policies(base, new, key_account=ACCOUNT)
    assert change.becomes_public
    assert change.has_new_access
    assert "*" in change.external_gained
    assert [f.statement_index for f in change.public_witnesses] == [1]
    (gain,) = change.gained
    assert gain.principal == "*"
    assert "kms:Decrypt" in gain.actions
    # Everybody has it now: the former user lost nothing.
    assert change.lost == ()
    assert "public-access" in {f.id for f in change.findings_added}
    assert "becomes PUBLIC" in str(change)
    assert cmkguard.compare_key_policies(new, base, key_account=ACCOUNT).stops_being_public


def test_deny_removed(base: dict[str, Any]) -> None:
    old = copy.deepcopy(base)
    old["Statement"].append(
        {
            "Sid": "DenyOutsideOrg",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": ORG}},
        }
    )
    change = cmkguard.compare_key_policies(old, base, key_account=ACCOUNT, org_id=ORG)
    assert change.has_new_access
    (removed,) = change.denies_removed
    assert removed["Condition"] == {"StringNotEquals": {"aws:PrincipalOrgID": ORG}}
    assert "Deny removed" in str(change)
    # Adding it back removes no access and is not new access.
    back = cmkguard.compare_key_policies(base, old, key_account=ACCOUNT, org_id=ORG)
    assert not back.has_new_access
    assert len(back.denies_added) == 1


def test_condition_loosened(base: dict[str, Any]) -> None:
    new = copy.deepcopy(base)
    del _stmt(new, "KeyUseThroughService")["Condition"]
    change = cmkguard.compare_key_policies(base, new, key_account=ACCOUNT)
    assert change.has_new_access
    assert change.gained == ()
    assert change.lost == ()
    (loose,) = change.loosened
    assert loose.principal == USER
    assert "kms:Decrypt" in loose.actions
    assert all(w.conditions == () for w in loose.witnesses)
    # Tightening (the reverse) is not new access.
    assert not cmkguard.compare_key_policies(new, base, key_account=ACCOUNT).has_new_access


def test_condition_loosened_by_dropping_one_of_two_keys(base: dict[str, Any]) -> None:
    new = copy.deepcopy(base)
    del _stmt(new, "KeyUseThroughService")["Condition"]["StringEquals"]["kms:ViaService"]
    change = cmkguard.compare_key_policies(base, new, key_account=ACCOUNT)
    (loose,) = change.loosened
    assert loose.principal == USER
    assert change.has_new_access


def test_admin_gains_crypto_actions(base: dict[str, Any]) -> None:
    new = copy.deepcopy(base)
    _stmt(new, "KeyAdministration")["Action"].append("kms:Decrypt")
    change = cmkguard.compare_key_policies(base, new, key_account=ACCOUNT)
    (gain,) = change.gained
    assert (gain.principal, gain.actions) == (ADMIN, ("kms:Decrypt",))
    assert change.to_dict()["changes"][0]["witnesses"][0]["sid"] == "KeyAdministration"
    json.dumps(change.to_dict())  # JSON-able


def test_malformed_policy_is_refused(base: dict[str, Any]) -> None:
    with pytest.raises(PolicyParseError):
        cmkguard.compare_key_policies(base, {"Statement": "nope"}, key_account=ACCOUNT)


def _files(tmp_path: Path, old: dict[str, Any], new: dict[str, Any]) -> tuple[str, str]:
    a, b = tmp_path / "old.json", tmp_path / "new.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    return str(a), str(b)


def test_cli_policy_diff_gates_on_new_access(
    base: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = copy.deepcopy(base)
    del _stmt(new, "KeyUseThroughService")["Condition"]
    old_path, new_path = _files(tmp_path, base, new)
    args = ["policy", "diff", old_path, new_path, "--account", ACCOUNT]
    assert main([*args, "--fail-on-new-access"]) == 1
    assert "loosened" in capsys.readouterr().out
    assert main(args) == 0  # without the gate: a report only
    capsys.readouterr()
    assert main([*args, "--fail-on-new-access", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["has_new_access"] is True
    assert doc["changes"][0]["kind"] == "loosened"
    same = ["policy", "diff", old_path, old_path, "--account", ACCOUNT, "--fail-on-new-access"]
    assert main(same) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--account", "12"], "12"),
        (["--account", ACCOUNT, "--org-id", "org"], "org"),
    ],
)
def test_cli_policy_diff_bad_input_is_one_line_exit_2(
    base: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    old_path, new_path = _files(tmp_path, base, base)
    assert main(["policy", "diff", old_path, new_path, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err


def test_cli_policy_diff_names_the_malformed_file(
    base: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_path, _ = _files(tmp_path, base, base)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["policy", "diff", old_path, str(bad), "--account", ACCOUNT]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err
    assert err.count("\n") == 1
    missing = str(tmp_path / "missing.json")
    assert main(["policy", "diff", old_path, missing, "--account", ACCOUNT]) == 2
    assert "missing.json" in capsys.readouterr().err
