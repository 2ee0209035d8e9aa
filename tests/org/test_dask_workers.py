"""What keeps a Dask organisation scan from deadlocking its workers on Python 3.11: no thread
started or ended per account (each worker thread reuses one pool), workers cmkguard starts run
without distributed's profiler, and the workers of an existing cluster that still run it are
named."""

from __future__ import annotations

import concurrent.futures as cf
import gc
import multiprocessing
import os
import sys
import threading

import cmkguard
from cmkguard.aws.access import AccessSpec
from cmkguard.aws.ratelimit import DEFAULT_RATE_LIMITS
from cmkguard.org import AccountScan, dask_deadlock_risks, local_dask_cluster, run_account_scan
from cmkguard.org.aws_scan import unit_pool
from cmkguard.testing import EmulatedOrganization

THREADS = 3


def _unit(org: EmulatedOrganization) -> AccountScan:
    found = cmkguard.organization_accounts(org.session())
    # A member account (through its role), not the management account (the caller's own).
    target = next(t for t in found.targets if t.role_arns and t.account in org.truth.readable)
    spec = AccessSpec.from_session(org.session())
    types = ("rds", "secretsmanager")
    return AccountScan(target, spec, ("eu-west-1",), types, DEFAULT_RATE_LIMITS, THREADS)


def _unit_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("cmkguard-account")}


def test_a_worker_thread_reuses_one_pool_for_its_accounts(org: EmulatedOrganization) -> None:
    unit = _unit(org)
    seen: list[set[threading.Thread]] = []
    results: list[cmkguard.AccountResult] = []

    def worker() -> None:  # a Dask worker thread, scanning one account after another
        for _ in range(2):
            results.append(run_account_scan(unit))
            seen.append(_unit_threads() - before)

    before = _unit_threads()
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    first, second = seen
    assert first, "the account's units ran on the worker thread's pool"
    # The second account ran on the same threads: none ended, at most THREADS ever.
    assert first <= second
    assert len(second) <= THREADS
    assert all(r.complete for r in results)
    assert results[0].inventory.resources == results[1].inventory.resources
    # The pool goes with the thread that owned it.
    gc.collect()
    for t in second:
        t.join(10)
    assert not any(t.is_alive() for t in second)


def _pool_runs_here() -> int:
    return unit_pool(2).submit(os.getpid).result(timeout=30)


def test_a_process_forked_from_a_scanning_thread_gets_its_own_pool() -> None:
    # The forked child inherits the thread's pool but none of its threads: reusing it would
    # queue the account's units forever (a process pool's workers are forked on Linux).
    pids: list[int] = []

    def scanning_thread() -> None:
        assert unit_pool(2).submit(os.getpid).result(timeout=30) == os.getpid()
        fork = multiprocessing.get_context("fork")
        with cf.ProcessPoolExecutor(1, mp_context=fork) as pool:
            pids.append(pool.submit(_pool_runs_here).result(timeout=60))

    thread = threading.Thread(target=scanning_thread)
    thread.start()
    thread.join(90)
    assert not thread.is_alive(), "the forked process never ran its units"
    (child,) = pids
    assert child != os.getpid()


def test_deadlock_risks_name_profiling_workers_on_python_3_11() -> None:
    import distributed

    plain = distributed.LocalCluster(
        n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None
    )
    with plain, distributed.Client(plain) as client:
        risks = dask_deadlock_risks(client)
    if sys.version_info[:2] == (3, 11):
        (line,) = risks
        assert "Python 3.11" in line
        assert "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False" in line
    else:
        assert risks == []
    ours = local_dask_cluster(n_workers=1, processes=False, threads_per_worker=1)
    with ours, distributed.Client(ours) as client:
        assert dask_deadlock_risks(client) == []
