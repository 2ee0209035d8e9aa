"""The one progress display of `cmkguard migrate run` and `cmkguard demo migrate`.

Each step appears once, when it ends (`[3/51] done ...`). While a step runs, a live line says
what it is doing and for how long: on a terminal with rich (the `cli` extra) a spinner with a
clock that keeps ticking between an RDS waiter's polls (they are 30 s apart by default); on a
terminal without rich the line is rewritten in place at each poll; elsewhere (CI logs, pipes)
a wait prints a plain line when it starts and then once a minute, so a two-hour restore shows
life without flooding the log. Steps completed in an earlier run (a resume) are one line.

Everything goes to stderr: stdout keeps the report (the summary), so it can be redirected.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cmkguard.cli._common import stderr_is_tty
from cmkguard.migrate import ProgressEvent, StepStatus

__all__ = ["RunProgress", "run_progress"]

# In a log (no terminal), how often a long wait says it is still waiting.
_PLAIN_WAIT_EVERY_S = 60.0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _counter(index: int | str, total: int) -> str:
    """`[ 7/51]`: padded so that the step lines stay aligned past step 9."""
    return f"[{index:>{len(str(total))}}/{total}]"


def _ended(event: ProgressEvent) -> str:
    line = f"{_counter(event.index, event.total)} {event.status:>8} {event.step.id}"
    return line + (f": {event.detail}" if event.detail else "")


# The executor's wait detail ends "(poll 3, 64s)"; the displays show the time themselves.
_WAITED = re.compile(r", \d+s\)$")


class RunProgress:
    """A `progress` hook for `cmkguard.execute` drawing the run on stderr (see the module).

    `live` is a rich `Progress` (terminal with rich), or `None`: then `tty` chooses between a
    line rewritten in place and plain log lines.
    """

    def __init__(self, *, live: Any = None, tty: bool = False) -> None:
        self._live = live
        self._task: Any = None
        self._tty = tty
        self._drawn = False  # a plain terminal line is waiting to be cleared
        self._shown = 0  # index of the last step the display accounted for
        self._started = 0.0
        self._last_plain = 0.0

    def __call__(self, event: ProgressEvent) -> None:
        if event.status is StepStatus.WOULD_RUN:
            return  # a dry run prints its step list once, from the report
        if event.index > self._shown + 1:
            span = f"{self._shown + 1}-{event.index - 1}"
            self._print(f"{_counter(span, event.total)}  skipped: completed in an earlier run")
        self._shown = max(self._shown, event.index - 1)
        if event.status is StepStatus.START:
            self._start(event)
        elif event.status is StepStatus.WAITING:
            self._waiting(event)
        else:
            self._end(event)

    def _start(self, event: ProgressEvent) -> None:
        self._started = time.monotonic()
        self._last_plain = 0.0
        text = f"{_counter(event.index, event.total)} {event.step.id}: {event.step.description}"
        if self._live is not None:
            if self._task is None:
                self._task = self._live.add_task(text, total=None)
            self._live.update(self._task, description=text)
            self._live.reset(self._task)  # the clock counts this step only
        elif self._tty:
            self._draw(text)

    def _waiting(self, event: ProgressEvent) -> None:
        text = f"{_counter(event.index, event.total)} {_WAITED.sub(')', event.detail)}"
        if self._live is not None and self._task is not None:
            self._live.update(self._task, description=text)
        elif self._tty:
            self._draw(f"{text} {_clock(time.monotonic() - self._started)}")
        else:
            waited = time.monotonic() - self._started
            if self._last_plain == 0.0 or waited - self._last_plain >= _PLAIN_WAIT_EVERY_S:
                self._last_plain = max(waited, 1e-9)
                print(f"{text}, {_clock(waited)} so far", file=sys.stderr, flush=True)

    def _end(self, event: ProgressEvent) -> None:
        self._shown = max(self._shown, event.index)
        took = time.monotonic() - self._started if self._started else 0.0
        line = _ended(event) + (f" ({_clock(took)})" if took >= 60 else "")
        self._print(line)

    def _draw(self, text: str) -> None:
        print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
        self._drawn = True

    def _print(self, line: str) -> None:
        if self._live is not None:
            self._live.console.print(line, markup=False, highlight=False, soft_wrap=True)
            return
        if self._drawn:
            print("\r\033[K", end="", file=sys.stderr)
            self._drawn = False
        print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        """Clear a line left drawn (the rich display clears itself)."""
        if self._drawn:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
            self._drawn = False


@contextmanager
def run_progress(*, quiet: bool) -> Iterator[RunProgress | None]:
    """The display for one run: `None` with `quiet`, rich on a terminal when installed."""
    if quiet:
        yield None
        return
    tty = stderr_is_tty()
    if not tty:
        yield RunProgress()
        return
    try:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    except ImportError:
        display = RunProgress(tty=True)
        try:
            yield display
        finally:
            display.close()
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    # transient: the live line goes when the run ends; the step lines printed above it stay.
    with Progress(*columns, console=Console(stderr=True), transient=True) as live:
        yield RunProgress(live=live)
