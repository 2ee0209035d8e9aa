"""The run display of `migrate run` / `demo migrate`: each step once, waits with elapsed time.

Driven with the executor's own `ProgressEvent`s (the end-to-end runs are in
test_migrate_cli.py and test_demo_cli.py); the clock is the display's, made to jump.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from cmkguard.cli import _migrate_progress as display
from cmkguard.migrate import MigrationStep, ProgressEvent, StepKind, StepPhase, StepStatus


def _step(n: int) -> MigrationStep:
    return MigrationStep(
        id=f"instance/orders/{n:02d}-step",
        kind=StepKind.WAIT if n == 2 else StepKind.CALL,
        phase=StepPhase.COPY,
        service="rds",
        region="us-east-1",
        operation="DescribeDBInstances" if n == 2 else "CopyDBSnapshot",
        params={"DBInstanceIdentifier": "orders-cmk"},
        description=f"step {n}",
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="clock")
def _clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(display.time, "monotonic", clock)
    return clock


def _events(progress: Any, clock: Clock, *, first: int = 1, polls: int = 0) -> None:
    total = 3
    for n in range(first, total + 1):
        step = _step(n)
        progress(ProgressEvent(step, n, total, StepStatus.START))
        if n == 2:
            for attempt in range(2, polls + 2):
                clock.now += 30
                detail = f"waiting for DescribeDBInstances orders-cmk (poll {attempt})"
                progress(ProgressEvent(step, n, total, StepStatus.WAITING, detail, attempt))
        progress(ProgressEvent(step, n, total, StepStatus.DONE))


def test_plain_lines_show_each_step_once_and_a_long_wait_once_a_minute(
    clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    _events(display.RunProgress(), clock, polls=8)  # 8 polls, 30 s apart: a 4-minute wait
    err = capsys.readouterr().err.splitlines()
    for n in (1, 2, 3):
        assert sum(line.startswith(f"[{n}/3]     done") for line in err) == 1
    waits = [line for line in err if "waiting for" in line]
    # At the first poll, then each time another minute has passed: 0:30, 1:30, 2:30, 3:30.
    assert [w.rsplit(", ", 1)[1] for w in waits] == [
        "0:30 so far",
        "1:30 so far",
        "2:30 so far",
        "3:30 so far",
    ]
    assert err[-2] == "[2/3]     done instance/orders/02-step (4:00)"  # a long step says how long
    assert "\r" not in "".join(err)


def test_a_terminal_without_rich_rewrites_one_line(
    clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    progress = display.RunProgress(tty=True)
    _events(progress, clock, polls=2)
    progress.close()
    err = capsys.readouterr().err
    assert "\r\033[K[2/3] waiting for DescribeDBInstances orders-cmk (poll 3) 1:00" in err
    lines = [chunk.split("\r\033[K")[-1] for chunk in err.split("\n")]
    assert [line for line in lines if " done " in line] == [
        "[1/3]     done instance/orders/01-step",
        "[2/3]     done instance/orders/02-step (1:00)",
        "[3/3]     done instance/orders/03-step",
    ]


def test_a_resume_shows_the_earlier_steps_as_one_line(
    clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    _events(display.RunProgress(), clock, first=3)
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "[1-2/3]  skipped: completed in an earlier run",
        "[3/3]     done instance/orders/03-step",
    ]


def test_rich_prints_each_step_once_above_a_live_clock(clock: Clock) -> None:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, auto_refresh=False) as live:
        progress = display.RunProgress(live=live)
        _events(progress, clock, polls=2)
        (task,) = live.tasks
        assert task.description == "[3/3] instance/orders/03-step: step 3"
    text = out.getvalue()
    for n in (1, 2, 3):
        assert text.count(f"[{n}/3]     done instance/orders/0{n}-step") == 1


def test_quiet_has_no_display() -> None:
    with display.run_progress(quiet=True) as progress:
        assert progress is None


def test_step_counters_stay_aligned_past_step_nine() -> None:
    assert display._counter(7, 12) == "[ 7/12]"
    assert display._counter("1-9", 120) == "[1-9/120]"
