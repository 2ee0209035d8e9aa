"""Benchmark ``cmkguard.scan`` under injected faults: the seeded estate clean and faulted.

One command::

    .venv/bin/python benchmarks/faults.py                    # every kind at 20 %
    .venv/bin/python benchmarks/faults.py --kinds throttle --rate 0.2 --retry-mode standard

The emulated account (moto's server, via ``cmkguard.testing``) runs in a child process with
its fault injector (``EmulatedAWS.faults``); the scanning process is this one. Each case puts
one ``Fault`` of a kind on every service a scan reads after its identity check (``kms``,
``rds``, ``secretsmanager``, ``tagging``, ``lambda``), at ``--rate``, seeded, and scans once.
Reported per case:

* ``requests``: what the emulator received (answered by moto or by a fault), from its counts;
* ``faults``: what the injector fired (its ``injected()`` counters);
* ``retries``: botocore's, counted in the scanning process as attempts sent (``before-send``)
  minus calls made (``before-call``); ``extra``: calls the scan made beyond the clean scan's
  (an unreadable answer is asked again, twice at most; a denied ``ListAliases`` is replaced
  by describing each alias a resource names);
* ``wall`` time of ``scan()``, the ``ScanError`` count, and ``missing``: what the seeded truth
  has that the inventory lacks without a ScanError covering it (``GroundTruth.unaccounted``),
  which must be 0 in every case (the exit status is 1 otherwise).

Last, a scan against an endpoint on 127.0.0.1 that accepts connections and never answers:
how long the identity check takes to give up (bounded by its total deadline) and what it says.

Why 20 % throttling costs ~10 s on a 2 s scan: each throttled attempt waits botocore's
backoff (random up to 1 s, then 2 s, 4 s...), and a scan has about four dependent stages
(listings, then each key, then the keys resources name, then each CMK's reads); with ~30 calls
a stage, one of them is almost surely throttled twice or three times in a row, and the stage
waits for it. botocore's adaptive mode (``--retry-mode adaptive``) is slower still: its
client-side limiter, shared by every thread using the client, drops to 0.5 requests/s after
a throttle arriving before it has measured a send rate.

``--retry-mode`` runs the scan with botocore's ``adaptive`` or ``legacy`` retry mode instead of
cmkguard's default (``standard``), to compare what throttling costs in each.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import sys
import threading
import time
from collections import Counter
from typing import Any

SERVICES = ("kms", "rds", "secretsmanager", "tagging", "lambda")
KINDS = (
    "throttle",
    "access-denied",
    "server-error",
    "html-error",
    "connection-reset",
    "latency",
    "truncated-body",
    "garbled-body",
    "cut-short",
    "empty-page",
)


def _emulator(conn: Any, regions: tuple[str, ...], scale: int) -> None:
    """Child process: seed, then apply faults and report counts on request until "stop"."""
    from cmkguard.testing import EmulatedAWS, seed_estate

    with EmulatedAWS() as aws:
        truth = seed_estate(aws, regions=regions, scale=scale)
        aws.reset_request_counts()
        conn.send((aws.endpoint_url, truth.to_json()))
        while (message := conn.recv()) != "stop":
            command, *rest = message
            if command == "faults":
                seed, faults = rest
                aws.faults.clear()
                aws.faults.seed = seed
                aws.faults.add(*faults)
                aws.reset_request_counts()
                conn.send("ok")
            elif command == "counts":
                conn.send((dict(aws.request_counts()), dict(aws.faults.injected())))
                aws.faults.clear()
                aws.reset_request_counts()


class _Attempts:
    """botocore calls and attempts of the scanning process (session event hooks)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.attempts = 0

    def attach(self, session: Any) -> None:
        def on_call(model: Any = None, **_: Any) -> None:
            with self._lock:
                self.calls[getattr(model, "name", "?")] += 1

        def on_send(**_: Any) -> None:
            with self._lock:
                self.attempts += 1

        session.events.register("before-call", on_call, unique_id="bench-faults-call")
        session.events.register("before-send", on_send, unique_id="bench-faults-send")

    def take(self) -> tuple[Counter[str], int]:
        with self._lock:
            taken = (self.calls, self.attempts)
            self.calls, self.attempts = Counter(), 0
            return taken


def _faults_for(kind: str, rate: float, latency_ms: float) -> tuple[Any, ...]:
    from cmkguard.testing import Fault, FaultKind

    return tuple(
        Fault(FaultKind(kind), service=service, rate=rate, latency_ms=latency_ms)
        for service in SERVICES
    )


def _row(name: str, result: dict[str, Any]) -> str:
    return (
        f"{name:<17}{result['requests']:>9}{result['faults']:>8}{result['retries']:>9}"
        f"{result['extra']:>9}{result['wall']:>9.2f}{result['errors']:>8}{result['missing']:>9}"
    )


def _silent_endpoint_figure() -> None:
    """How long the identity check takes to give up on an endpoint that accepts connections
    and never answers (real timeouts: 5 s per attempt, 15 s deadline), and what it says."""
    from cmkguard import scan
    from cmkguard.aws.session import EndpointSession
    from cmkguard.errors import CmkGuardError

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        session = EndpointSession(
            endpoint_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        started = time.perf_counter()
        try:
            scan(session, regions=["us-east-1"])
            outcome = "no error (WRONG)"
        except CmkGuardError as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        print(f"\nendpoint that never answers: gave up after {time.perf_counter() - started:.1f} s")
        print(f"  {outcome}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--regions", default="us-east-1,eu-west-1")
    parser.add_argument("--scale", type=int, default=1, help="seed_estate scale (default 1)")
    parser.add_argument("--rate", type=float, default=0.2, help="fault rate (default 0.2)")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated fault kinds")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="of a latency fault")
    parser.add_argument(
        "--retry-mode", choices=("adaptive", "standard", "legacy"), default="standard"
    )
    args = parser.parse_args(argv)
    regions = tuple(r for r in args.regions.split(",") if r)
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown fault kind(s): {', '.join(unknown)}")

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=_emulator, args=(child, regions, args.scale), daemon=True)
    server.start()
    print(f"seeding {len(regions)} regions at scale {args.scale} (child process)...", flush=True)
    endpoint, truth_json = parent.recv()

    from botocore.config import Config

    import cmkguard.aws.session as aws_session
    from cmkguard import scan
    from cmkguard.aws.session import EndpointSession
    from cmkguard.testing import GroundTruth

    if args.retry_mode != "standard":
        aws_session.DEFAULT_CONFIG = aws_session.DEFAULT_CONFIG.merge(
            Config(retries={"mode": args.retry_mode, "max_attempts": 8})
        )
    truth = GroundTruth.from_json(truth_json)
    counter = _Attempts()

    def run(faults: tuple[Any, ...]) -> dict[str, Any]:
        parent.send(("faults", args.seed, faults))
        parent.recv()
        # A fresh session per case: clients (and adaptive mode's rate limiter) start cold.
        session = EndpointSession(
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=regions[0],
        )
        counter.attach(session)
        started = time.perf_counter()
        inventory = scan(session, regions=regions)
        wall = time.perf_counter() - started
        parent.send(("counts",))
        requests, injected = parent.recv()
        calls, attempts = counter.take()
        return {
            "requests": sum(requests.values()),
            "faults": sum(injected.values()),
            "retries": attempts - sum(calls.values()),
            "calls": calls,
            "wall": wall,
            "errors": len(inventory.errors),
            "missing": len(truth.unaccounted(inventory)),
            "inventory": inventory,
        }

    clean = run(())
    print(
        f"estate: {len(truth.resources)} resources, {len(truth.keys)} keys in "
        f"{', '.join(regions)}; retry mode {args.retry_mode}; faults at {args.rate:.0%} on "
        f"{', '.join(SERVICES)}; seed {args.seed}\n"
    )
    header = (
        f"{'case':<17}{'requests':>9}{'faults':>8}{'retries':>9}{'extra':>9}"
        f"{'wall s':>9}{'errors':>8}{'missing':>9}"
    )
    print(header)
    clean["extra"] = 0
    print(_row("clean", clean), flush=True)
    failed = clean["missing"] > 0 or clean["errors"] > 0
    for kind in kinds:
        result = run(_faults_for(kind, args.rate, args.latency_ms))
        extra = result["calls"] - clean["calls"]
        result["extra"] = sum(extra.values())
        print(_row(kind, result), flush=True)
        failed = failed or result["missing"] > 0 or result["faults"] == 0
    parent.send("stop")
    server.join(timeout=30)
    _silent_endpoint_figure()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{os.cpu_count()} cores, load average {load}")
    print(
        "silently missing: " + ("NOT 0 (or a fault never fired)" if failed else "0 in every case")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
