"""A hang guard for the Dask tests: a scan that does not finish fails in minutes, with every
thread's stack of the test process and of each Dask worker, instead of running into the CI's
job timeout with nothing to read."""

from __future__ import annotations

import faulthandler
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

HANG_SECONDS = 150.0
"""Far above the Dask test's time on a loaded 2-core machine (10-30 s), far below the CI's."""


def within_or_dump_stacks(seconds: float, work: Callable[[], T], client: Any) -> T:
    """`work()`'s value, or a failed test naming the hang once `seconds` have passed.

    Each worker arms faulthandler's watchdog (a C thread that needs no GIL, so it dumps the
    stacks of a deadlocked worker too) to write its threads' stacks to its stderr, which the
    workers share with this process (pytest shows it with the failure).
    """
    client.run(faulthandler.dump_traceback_later, seconds - 10, exit=False)
    box: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            box.append(work())
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)

    runner = threading.Thread(target=run, name="hang-guard", daemon=True)
    runner.start()
    runner.join(seconds)
    if runner.is_alive():
        faulthandler.dump_traceback(all_threads=True)
        pytest.fail(
            f"the Dask scan did not finish in {seconds:.0f} s: a hang "
            "(the test process's and each worker's stacks are in the captured stderr)"
        )
    client.run(faulthandler.cancel_dump_traceback_later)
    if failure:
        raise failure[0]
    return box[0]
