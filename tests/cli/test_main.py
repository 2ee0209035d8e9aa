"""`cmkguard.cli.main(argv)` from Python returns the exit code, usage errors included (it never
raises `SystemExit`); the console script exits with the same code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cmkguard.cli import main
from tests._env import aws_env

USAGE_ERRORS = [
    ([], "the following arguments are required"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["scan", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["scan", "--max-workers", "many"], "--max-workers"),
    (["audit", "--fail-on", "urgent"], "urgent"),
    (["policy", "analyze"], "required"),
]


@pytest.mark.parametrize(("argv", "message"), USAGE_ERRORS, ids=lambda v: " ".join(v) or "none")
def test_a_usage_error_returns_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert captured.out == ""


@pytest.mark.parametrize("argv", [["--help"], ["scan", "--help"], ["--version"]])
def test_help_and_version_return_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    assert capsys.readouterr().out.strip()


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("cmkguard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cmkguard"]


@pytest.mark.parametrize(
    "command", [_console_script(), [sys.executable, "-m", "cmkguard"]], ids=["script", "-m"]
)
def test_the_console_script_still_exits_2(command: list[str]) -> None:
    done = subprocess.run(
        [*command, "scan", "--no-such-option"],
        capture_output=True,
        text=True,
        env=aws_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "unrecognized arguments: --no-such-option" in done.stderr
