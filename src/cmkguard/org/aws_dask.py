"""Dask workers an organisation scan can run on without deadlocking them (AWS edge: a worker's
AWS plumbing is warmed up here).

On Python 3.11, a Dask worker's statistical profiler (distributed's `Worker.trigger_profile`,
`sys._current_frames()` every 10 ms on the worker's event loop) holds CPython's runtime lock
while it allocates. A garbage collection run there calls distributed's GC-diagnosis callback,
which lets the GIL go; a thread that then takes the GIL and needs the same lock (any thread
starting or ending) blocks holding the GIL, and the worker stops for good
(python/cpython#106883, python/cpython#116969, dask/distributed#8616). Python 3.12 and later
do not collect garbage inside an allocation, so they are not affected.

An organisation scan starts no thread per account (`cmkguard.org.aws_scan.unit_pool`), which
takes away the usual trigger; the workers cmkguard starts itself also run without the
profiler (`local_dask_cluster`), and `dask_deadlock_risks` names the workers of an existing
cluster that still have it on Python 3.11.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any

from cmkguard.errors import MissingExtraError

__all__ = [
    "DASK_WORKER_CONFIG",
    "PRELOAD",
    "dask_deadlock_risks",
    "dask_setup",
    "local_dask_cluster",
]

PRELOAD = "cmkguard.org.aws_dask"
"""The preload module of a Dask worker that scans accounts (`dask_setup` warms it up)."""

DASK_WORKER_CONFIG: Mapping[str, object] = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.preload": [PRELOAD],
}
"""The Dask settings for workers that scan accounts: distributed's statistical profiler off,
and this module preloaded (`dask_setup`), so that a worker is ready before its first account.

For workers started elsewhere: `DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False` in their
environment (or `distributed: {worker: {profile: {enabled: false}}}` in their Dask config) and
`dask worker --preload cmkguard.org.aws_dask ...`."""


def dask_setup(worker: Any) -> None:
    """Warm a Dask worker up when it starts (distributed calls this for a preload module).

    Without it, the worker's first accounts import cmkguard and boto3 and all its threads read
    botocore's region table at once, each for itself (a cold cache has no lock): about 6 s of
    CPU per worker, measured, spent while the scan waits.
    """
    del worker  # the same warm-up for every worker
    aws_scan = importlib.import_module("cmkguard.org.aws_scan")
    aws_scan.warm_up()


def _module(name: str) -> Any:
    # Typed as Any: distributed's API is not annotated (mypy --strict rejects its calls).
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingExtraError("distributed", "dask") from exc


def local_dask_cluster(**options: Any) -> Any:
    """A `distributed.LocalCluster` (worker processes by default) whose workers run without
    distributed's statistical profiler, so that they cannot deadlock on Python 3.11, and are
    warmed up before their first account (`DASK_WORKER_CONFIG`).

    Args:
        **options: Passed to `distributed.LocalCluster` (`n_workers`, `threads_per_worker`,
            `processes`...); `dashboard_address` defaults to `None` (no dashboard port).

    Returns:
        The started `LocalCluster` (a context manager: close it when done).

    Raises:
        MissingExtraError: the `dask` extra is not installed.
    """
    distributed = _module("distributed")
    dask = _module("dask")
    options.setdefault("dashboard_address", None)
    # Each worker's nanny takes a copy of the configuration in force when it is created, and
    # hands it to its worker process: the setting holds in every worker the cluster starts.
    with dask.config.set(dict(DASK_WORKER_CONFIG)):
        return distributed.LocalCluster(**options)


def _profiler_state(dask_worker: Any) -> tuple[str, bool]:
    """Run in each worker: its Python version and whether its profiler runs."""
    callback = getattr(dask_worker, "periodic_callbacks", {}).get("profile")
    running = callback is not None and bool(callback.is_running())
    return f"{sys.version_info.major}.{sys.version_info.minor}", running


def dask_deadlock_risks(client: Any) -> list[str]:
    """The workers of `client`'s cluster that can deadlock during a scan, one line each:
    Python 3.11 with distributed's statistical profiler running (empty: none).

    Args:
        client: A connected `distributed.Client`.

    Returns:
        One line per such worker, naming its address and the setting that prevents it.
    """
    states: dict[str, tuple[str, bool]] = client.run(_profiler_state)
    return [
        f"Dask worker {address} runs Python {version} with distributed's profiler on, which "
        "can deadlock it (python/cpython#106883): start it with "
        "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False"
        for address, (version, running) in sorted(states.items())
        if running and version == "3.11"
    ]
