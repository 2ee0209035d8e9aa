"""`cmkguard scan/audit --organization` against the emulated organisation: the JSON inventory
names every account covered and every account not read, the audit shows the organisation view,
filters and role options reach discovery, bad input is one line and exit 2."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

import cmkguard
from cmkguard.cli import main
from cmkguard.testing import EmulatedOrganization
from cmkguard.testing._org import AUDIT_ROLE
from tests._env import set_aws_env

REGIONS = "eu-west-1,us-east-1"


@pytest.fixture(name="endpoint")
def _endpoint(org: EmulatedOrganization, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The CLI arguments of the management account's endpoint, its credentials in the env."""
    set_aws_env(monkeypatch, org.session().get_credentials().get_frozen_credentials())
    return ["--organization", "--endpoint-url", org.aws.endpoint_url, "--regions", REGIONS]


def test_scan_json_names_covered_and_unread_accounts(
    org: EmulatedOrganization,
    endpoint: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "org.json"
    code = main(["scan", *endpoint, "--format", "json", "-o", str(out)])
    assert code == 3  # an account could not be read: incomplete (the suspended one is not a gap)
    err = capsys.readouterr().err
    assert "incomplete scan: 1 thing(s) could not be read" in err
    assert f"{org.truth.unassumable[0]}/" in err
    inventory = cmkguard.Inventory.from_json(out.read_text())
    truth = org.truth
    assert set(inventory.accounts) == set(truth.readable)
    scope = inventory.organization
    assert scope is not None
    assert scope.org_id == truth.org_id
    assert scope.unread == truth.unassumable
    assert scope.suspended == truth.suspended
    assert set(scope.account_ous) == set(truth.accounts)
    expected = {a for a, r in truth.estate.resources.items() if r.account in truth.readable}
    assert {r.arn for r in inventory.resources} == expected
    (unassumable,) = truth.unassumable
    assert any(e.account == unassumable and e.operation == "AssumeRole" for e in inventory.errors)


def test_filters_and_role_chain_reach_discovery(
    org: EmulatedOrganization, endpoint: list[str], tmp_path: Path
) -> None:
    """Only the Workloads/Prod OU, through the hub role and the audit role with its ExternalId."""
    truth = org.truth
    prod = {a for a, acc in truth.accounts.items() if acc.ou_path[:2] == ("Workloads", "Prod")}
    active_prod = {a for a in prod if a not in truth.suspended}
    assert active_prod
    out = tmp_path / "prod.json"
    code = main(
        [
            "scan",
            *endpoint,
            "--ou",
            "Workloads/Prod",
            "--role-name",
            AUDIT_ROLE,
            "--role-chain",
            org.hub_role_arn,
            "--external-id",
            truth.external_id,
            "--rate-limit",
            "rds=20/20",
            "--format",
            "json",
            "-o",
            str(out),
        ]
    )
    assert code == 0  # every selected account read: complete and clean
    inventory = cmkguard.Inventory.from_json(out.read_text())
    assert set(inventory.accounts) == active_prod
    assert inventory.organization is not None
    assert inventory.organization.unread == ()
    assert inventory.errors == ()


def test_exclude_account_and_wrong_external_id(
    org: EmulatedOrganization, endpoint: list[str], tmp_path: Path
) -> None:
    truth = org.truth
    member = truth.readable[-1]
    out = tmp_path / "one.json"
    args = ["scan", *endpoint, "--account", f"{member},{truth.unassumable[0]}"]
    args += ["--exclude-account", truth.unassumable[0], "--role-name", AUDIT_ROLE]
    args += ["--role-chain", org.hub_role_arn, "--external-id", "wrong", "--retry-failed", "1"]
    code = main([*args, "--format", "json", "-o", str(out)])
    assert code == 3
    inventory = cmkguard.Inventory.from_json(out.read_text())
    assert inventory.organization is not None
    assert inventory.organization.unread == (member,)
    assert inventory.accounts == ()


def test_audit_shows_the_organisation_view(
    org: EmulatedOrganization,
    endpoint: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    view_file = tmp_path / "view.json"
    code = main(["audit", *endpoint, "--org-view", str(view_file)])
    assert code == 3  # no --fail-on gate; the account without a role is a gap
    out = capsys.readouterr().out
    truth = org.truth
    assert f"ORGANISATION {truth.org_id}" in out
    assert "coverage by OU (worst first)" in out
    assert "alias/org-data in eu-west-1 (444455556666" in out
    for key in truth.outside_shared_keys:
        assert f"alias/partner-share {key} via key policy: 999988887777" in out
    assert "Workloads/Dev: unknown, 1 account(s) NOT read" in out
    assert f"{truth.unassumable[0]} (Workloads/Dev): AssumeRole" in out
    view = json.loads(view_file.read_text())
    assert [u["account"] for u in view["unread"]] == list(truth.unassumable)
    assert {o["key_arn"] for o in view["outside_access"]} == set(truth.outside_shared_keys)
    dependents = {k["key_arn"]: k for k in view["kill_switch"]}
    for key, arns in truth.shared_key_dependents.items():
        readable = {a for a in arns if truth.estate.resources[a].account in truth.readable}
        assert {d["resource_arn"] for d in dependents[key]["dependents"]} == readable


@pytest.mark.parametrize("command", ["scan", "audit"])
def test_unread_accounts_exit_3_unless_allowed(
    org: EmulatedOrganization,
    endpoint: list[str],
    command: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Only the account whose role cannot be assumed: its gap is on stderr, exit 3, and 0 with
    `--allow-incomplete`; a suspended account alone is reported, not a gap."""
    (unassumable,) = org.truth.unassumable
    (suspended,) = org.truth.suspended
    only = [command, *endpoint, "--account", unassumable, "--format", "json", "-o", "-"]
    assert main(only) == 3
    err = capsys.readouterr().err
    assert f"{unassumable}/" in err
    assert "exit 3 (--allow-incomplete accepts it)" in err
    assert main([*only, "--allow-incomplete"]) == 0
    assert "accepted (--allow-incomplete)" in capsys.readouterr().err
    with_suspended = [command, *endpoint, "--account", f"{org.truth.key_account},{suspended}"]
    assert main([*with_suspended, "--types", "secretsmanager:secret", "-o", "-"]) == 0


def test_scan_on_a_running_dask_scheduler_warns_about_risky_workers(
    org: EmulatedOrganization,
    endpoint: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--dask ADDRESS` of an existing cluster (in-process workers, the profiler on, as a
    cluster started without cmkguard's setting has it): the scan runs there, and on Python
    3.11 each such worker is named on stderr with the setting that prevents the deadlock."""
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "org.json"
    cluster = distributed.LocalCluster(
        n_workers=1, processes=False, threads_per_worker=4, dashboard_address=None
    )
    with cluster:
        argv = ["scan", *endpoint, "--dask", cluster.scheduler_address, "-o", str(out)]
        code = main([*argv, "--types", "secretsmanager:secret", "--format", "json"])
    assert code == 3  # the account without a role, as on threads
    err = capsys.readouterr().err
    warned = "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False" in err
    assert warned == (sys.version_info[:2] == (3, 11))
    inventory = cmkguard.Inventory.from_json(out.read_text())
    assert set(inventory.accounts) == set(org.truth.readable)
    assert inventory.organization is not None
    assert inventory.organization.unread == org.truth.unassumable


def test_an_unreachable_dask_scheduler_is_one_line_and_exit_2(
    org: EmulatedOrganization,
    endpoint: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A closed local port: refused by the TCP probe before any AWS request, and before
    `distributed.Client` (whose connect-retry loop would wait out its 10 s timeout)."""
    distributed = pytest.importorskip("distributed")

    def no_client(*args: object, **kwargs: object) -> None:
        raise AssertionError("distributed.Client must not be reached for a closed port")

    monkeypatch.setattr(distributed, "Client", no_client)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    org.record_requests()
    try:
        code = main(["scan", *endpoint, "--dask", f"tcp://127.0.0.1:{port}"])
    finally:
        org.record_requests(False)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert f"--dask tcp://127.0.0.1:{port}: cannot reach the scheduler" in err
    assert "\n" not in err
    assert org.request_log() == ()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--role-name", "R"], "--role-name needs --organization"),
        (["--dask", "tcp://127.0.0.1:9"], "--dask needs --organization"),
        (["--organization", "--role-arn", "arn:aws:iam::1:role/x"], "drop --role-arn"),
        (["--organization", "--rate-limit", "rds"], "--rate-limit 'rds'"),
        (["--organization", "--rate-limit", "rds=-1"], "positive numbers"),
        (["--organization", "--accounts-in-flight", "0"], "at least 1"),
        (["--organization", "--retry-failed", "-1"], "0 or more"),
        (["--organization", "--dask", "tcp://127.0.0.1"], "expected a scheduler address"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--regions", "us-east-1", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert "\n" not in err


def test_an_ou_that_matches_nothing_is_bad_input(
    endpoint: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", *endpoint, "--ou", "NoSuchOu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "NoSuchOu" in err[-1]
    assert "Traceback" not in "".join(err)


def test_org_view_needs_an_organisation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text(cmkguard.Inventory(resources=[], keys=[]).to_json())
    code = main(["audit", "--from-inventory", str(plain), "--org-view", str(tmp_path / "v.json")])
    assert code == 2
    assert "--org-view needs an organisation's inventory" in capsys.readouterr().err
