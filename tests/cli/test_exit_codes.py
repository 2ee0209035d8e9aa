"""The exit-code contract (docs/cli.md), command by command, against the emulated account.

0 complete and clean, 1 the gate failed, 2 usage or bad input (one line on stderr, never a
traceback), 3 incomplete (a fault injected with the fault kit leaves gaps) unless
`--allow-incomplete`. `EXPECTED` has a row for every command `cmkguard --help` lists: a new
command without a row fails `test_every_command_has_a_row`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cmkguard.cli import build_parser, main
from cmkguard.testing import Fault, FaultKind

ACCOUNT = "123456789012"  # moto's default account: the emulated one
ARN_PREFIX = f"arn:aws:iam::{ACCOUNT}"
PRIVATE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"{ARN_PREFIX}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}
PUBLIC = {
    "Version": "2012-10-17",
    "Statement": [
        *PRIVATE["Statement"],
        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
    ],
}
IAC_FIXTURE = Path(__file__).parents[1] / "iac" / "fixtures" / "cloudformation" / "secrets.json"

Case = Callable[[Any, Path], list[str]]
"""(emulated account, tmp dir) -> argv."""


def _write(tmp: Path, name: str, document: object) -> str:
    path = tmp / name
    path.write_text(json.dumps(document))
    return str(path)


def _on(aws: Any) -> list[str]:
    return ["--endpoint-url", aws.endpoint_url, "--regions", "us-east-1"]


_SNAPSHOT = "arn:aws:rds:eu-west-1:111122223333:snapshot:orders-001-final"

EXPECTED: dict[str, dict[int, Case]] = {
    "scan": {
        0: lambda aws, tmp: ["scan", *_on(aws), "--format", "json"],
        2: lambda aws, tmp: ["scan", *_on(aws), "--types", "rds:nope"],
        3: lambda aws, tmp: ["scan", *_on(aws), "--format", "json"],
    },
    "audit": {
        0: lambda aws, tmp: ["audit", *_on(aws), "--format", "json"],
        1: lambda aws, tmp: ["audit", *_on(aws), "--fail-on", "info", "--format", "json"],
        2: lambda aws, tmp: ["audit", "--from-inventory", str(tmp / "missing.json")],
        3: lambda aws, tmp: ["audit", *_on(aws), "--format", "json"],
    },
    "policy analyze": {
        0: lambda aws, tmp: [
            "policy",
            "analyze",
            _write(tmp, "p.json", PRIVATE),
            "--account",
            ACCOUNT,
        ],
        1: lambda aws, tmp: [
            "policy",
            "analyze",
            _write(tmp, "p.json", PUBLIC),
            "--account",
            ACCOUNT,
        ],
        2: lambda aws, tmp: ["policy", "analyze", _write(tmp, "p.json", [1]), "--account", ACCOUNT],
    },
    "policy diff": {
        0: lambda aws, tmp: [
            *("policy", "diff", _write(tmp, "a.json", PRIVATE), _write(tmp, "b.json", PRIVATE)),
            *("--account", ACCOUNT, "--fail-on-new-access"),
        ],
        1: lambda aws, tmp: [
            *("policy", "diff", _write(tmp, "a.json", PRIVATE), _write(tmp, "b.json", PUBLIC)),
            *("--account", ACCOUNT, "--fail-on-new-access"),
        ],
        2: lambda aws, tmp: [
            *("policy", "diff", _write(tmp, "a.json", PRIVATE), str(tmp / "missing.json")),
            *("--account", ACCOUNT),
        ],
    },
    "policy explain": {
        0: lambda aws, tmp: [
            "policy",
            "explain",
            _write(tmp, "p.json", PRIVATE),
            "--account",
            ACCOUNT,
        ],
        1: lambda aws, tmp: [
            "policy",
            "explain",
            _write(tmp, "p.json", PUBLIC),
            "--account",
            ACCOUNT,
        ],
        2: lambda aws, tmp: [
            "policy",
            "explain",
            _write(tmp, "p.json", PRIVATE),
            "--account",
            "12",
        ],
    },
    "guardrails scp": {
        0: lambda aws, tmp: ["guardrails", "scp", "--approved-key", "alias/cmk/*"],
        2: lambda aws, tmp: ["guardrails", "scp", "--approved-key", "key/*"],
    },
    "guardrails key-policy": {
        0: lambda aws, tmp: [
            *("guardrails", "key-policy", "--account", ACCOUNT, "--region", "us-east-1"),
            *("--service", "rds", "--admin", f"{ARN_PREFIX}:role/admin"),
            *("--user", f"{ARN_PREFIX}:role/app"),
        ],
        2: lambda aws, tmp: [
            *("guardrails", "key-policy", "--account", "1234", "--region", "us-east-1"),
            *("--service", "rds", "--admin", f"{ARN_PREFIX}:role/admin"),
        ],
    },
    "guardrails alerts": {
        0: lambda aws, tmp: ["guardrails", "alerts"],
        2: lambda aws, tmp: ["guardrails", "alerts", "--format", "yaml"],
    },
    "guardrails config": {
        0: lambda aws, tmp: [
            *("guardrails", "config", "--approved-key", "alias/cmk/*", "--region", "us-east-1"),
        ],
        2: lambda aws, tmp: [
            *("guardrails", "config", "--approved-key", "key/*", "--region", "us-east-1"),
        ],
    },
    "guardrails plan": {
        0: lambda aws, tmp: [
            *("guardrails", "plan", "--alert-region", "us-east-1"),
            *("--output", str(tmp / "plan.json")),
        ],
        2: lambda aws, tmp: [
            *("guardrails", "plan", "--key-policy", "not-a-pair"),
            *("--output", str(tmp / "plan.json")),
        ],
    },
    "iac check": {
        0: lambda aws, tmp: ["iac", "check", str(IAC_FIXTURE), "--allow-incomplete"],
        1: lambda aws, tmp: [
            *("iac", "check", str(IAC_FIXTURE), "--allow-incomplete", "--fail-on", "info"),
        ],
        2: lambda aws, tmp: ["iac", "check", str(tmp / "missing.json")],
    },
    "migrate plan": {
        2: lambda aws, tmp: [
            *("migrate", "plan", "not-an-arn", "--key", "alias/k", "--no-capture"),
            *("--from-inventory", str(tmp / "missing.json")),
        ],
    },
    "migrate run": {
        2: lambda aws, tmp: [
            *("migrate", "run", str(tmp / "missing.json"), "--journal", str(tmp / "j.json")),
        ],
    },
    "migrate share": {
        2: lambda aws, tmp: [
            *("migrate", "share", _SNAPSHOT, "--to-account", "12", "--key", "alias/k"),
            *("--output", str(tmp / "plan.json")),
        ],
    },
    "migrate revoke-share": {
        2: lambda aws, tmp: [
            *("migrate", "revoke-share", _SNAPSHOT, "--to-account", "12", "--key", "alias/k"),
            *("--output", str(tmp / "plan.json")),
        ],
    },
    "migrate receive-share": {
        2: lambda aws, tmp: [
            *("migrate", "receive-share", "not-an-arn", "--key", "alias/k"),
            *("--output", str(tmp / "plan.json")),
        ],
    },
    "migrate shares": {
        0: lambda aws, tmp: ["migrate", "shares", str(tmp)],
        2: lambda aws, tmp: ["migrate", "shares", str(tmp / "missing.log.jsonl")],
    },
    "migrate sign": {
        2: lambda aws, tmp: ["migrate", "sign", str(tmp / "missing.json")],
    },
    "report trend": {
        2: lambda aws, tmp: ["report", "trend", str(tmp / "no-such-dir")],
    },
    "demo migrate": {
        # Exit 0 is tests/cli/test_demo_cli.py's (in a process of its own).
        2: lambda aws, tmp: ["demo", "migrate", "--dir", _write(tmp, "x.json", {})],
    },
}
"""Command -> {exit code: argv}. Codes a command cannot return (no gate, nothing to read
from AWS) have no entry; 0 for `migrate` and `report trend` is tested in their own suites
(tests/cli/test_migrate_cli.py, tests/auditing/test_trend.py), which need seeded state."""


def _leaf_commands(parser: argparse.ArgumentParser, prefix: str = "") -> set[str]:
    found: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                found |= _leaf_commands(sub, path) or {path}
    return found


def test_every_command_has_a_row() -> None:
    commands = _leaf_commands(build_parser())
    assert commands == set(EXPECTED), "add the new command to EXPECTED and to docs/cli.md"
    for command, codes in EXPECTED.items():
        assert 2 in codes, f"{command}: no bad-input case"


def test_the_cli_reference_documents_every_command() -> None:
    reference = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    for command in EXPECTED:
        assert f"cmkguard {command}" in reference, command


def _code(argv: list[str]) -> int:
    # main() returns argparse's usage errors as 2 too (it never raises SystemExit).
    return main(argv)


CASES = [(command, code) for command, codes in EXPECTED.items() for code in codes]


@pytest.mark.parametrize(("command", "code"), CASES, ids=[f"{c}-{n}" for c, n in CASES])
def test_exit_code(
    command: str,
    code: int,
    cmkguard_emulated_aws: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    aws = cmkguard_emulated_aws
    # One secret on the AWS managed key: readable, and a finding for `--fail-on info`.
    aws.client("secretsmanager").create_secret(Name="app/db", SecretString="never-read")
    argv = EXPECTED[command][code](aws, tmp_path)
    if code == 3:
        denied = Fault(FaultKind.ACCESS_DENIED, service="secretsmanager", operation="ListSecrets")
        with aws.faults.injecting(denied):
            assert _code(argv) == 3
            capsys.readouterr()
            # Accepting the gaps turns 3 into 0; the gaps are still listed on stderr.
            assert _code([*argv, "--allow-incomplete"]) == 0
        err = capsys.readouterr().err
        assert "ListSecrets" in err
        return
    assert _code(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert "error:" in lines[0]
