"""Benchmark an organisation scan (`cmkguard.scan_organization`) on the emulated organisation.

One command::

    .venv/bin/python benchmarks/org_scan.py                       # 10, 100, 300 member accounts
    .venv/bin/python benchmarks/org_scan.py --members 10,30 --executors threads --latency-ms 0

For each scale an emulated organisation (`cmkguard.testing.seed_organization`: management
account, central key account, N members in 3 OUs, one suspended, one without roles; 2 regions,
per member and region 1 CMK, 2 databases with their automated snapshots, 3 secrets) is seeded
in a child process that serves it at ``--latency-ms`` per request. Each executor then scans it
from a fresh process (so its peak RSS is its own): discovery through Organizations, then
every account streamed one at a time (each result reduced to a digest of its resource ARNs and
dropped, as a bot writing each account to disk would). Reported per run:

* wall time (discovery + scan), the scanning process's peak RSS and, on Dask, each worker's;
* whether every readable account matches the seeded truth (ARN digest per account), and the
  unread/suspended accounts;
* requests made (from the emulator's request log) vs the minimum needed, computed from the
  seeded truth: discovery (DescribeOrganization, ListRoots, per OU node one
  ListOrganizationalUnitsForParent and one ListChildren, ListAccounts pages of 20), one
  AssumeRole per account entered or refused, and per account and region the listings (one page
  each at this size), one DescribeKey per key of the account and per other-account key its
  resources name, one GetResources, and per CMK GetKeyPolicy, ListGrants,
  GetKeyRotationStatus and ListKeyRotations;
* the limiter: the most requests any (account, region, limiter bucket) saw in any 1 s window,
  next to what the token bucket allows in 1 s (burst + rate);
* the emulator's CPU time during the scan: the wall-time floor is that CPU divided by the
  cores it can use (moto is one Python process: one core at most, the GIL), next to
  CPU / cores available, the issue's formula.

Targets (issue 11): requests within 5 % of the minimum; peak RSS at 300 accounts within 1.25x
of that at 30 (run ``--members 30,300``); wall within 1.3x of the emulator floor; the limiter
never exceeded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REGIONS = ("eu-west-1", "us-east-1")
_ONE_PAGE_LISTINGS = (
    "ListKeys",
    "ListAliases",
    "DescribeDBInstances",
    "DescribeDBClusters",
    "DescribeDBSnapshots",
    "DescribeDBClusterSnapshots",
    "ListSecrets",
)


def _digest(arns: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(arns)).encode()).hexdigest()[:16]


# -- the emulator (child process) -------------------------------------------------------------


def _emulator(conn: Any, members: int, regions: tuple[str, ...], latency_ms: float) -> None:
    """Seed at 0 ms, then serve at ``latency_ms``; record each run's requests on demand."""
    from cmkguard.testing import EmulatedAWS, seed_organization

    with EmulatedAWS() as aws:
        started = time.perf_counter()
        # AWS may return empty pages; the benchmark measures cmkguard's requests, not that.
        org = seed_organization(aws, members=members, regions=regions, empty_pages=False)
        seeded = time.perf_counter() - started
        truth = org.truth
        creds = org.session().get_credentials().get_frozen_credentials()
        expected = {a: _digest([r.arn for r in truth.resources_in(a)]) for a in truth.readable}
        setup = {
            "endpoint": aws.endpoint_url,
            "credentials": [creds.access_key, creds.secret_key, creds.token],
            "seeded_s": seeded,
            "accounts": len(truth.accounts),
            "resources": len(truth.estate.resources),
            "expected": expected,
            "unassumable": list(truth.unassumable),
            "suspended": list(truth.suspended),
            "minimum": _minimum(truth),
            "bare_plan": _bare_plan(truth),
        }
        _warm_up(org, regions)
        aws.latency_ms = latency_ms
        conn.send(setup)
        cpu = 0.0
        while (message := conn.recv()) != "stop":
            if isinstance(message, tuple):  # ("latency", ms): the bare loop runs at 0 ms
                aws.latency_ms = message[1]
                conn.send("ok")
            elif message == "start":
                org.record_requests()
                cpu = _cpu_seconds()
                conn.send("ok")
            elif message == "end":
                spent = _cpu_seconds() - cpu
                log = org.request_log()
                org.record_requests(False)
                conn.send(_log_summary(log, spent))


def _warm_up(org: Any, regions: tuple[str, ...]) -> None:
    """One request of each read in one member, so moto's first-use costs are not billed."""
    session = org.aws.session(account=org.truth.readable[-1])
    for region in regions:
        kms = session.client("kms", region_name=region)
        kms.list_keys()
        kms.list_aliases()
        session.client("rds", region_name=region).describe_db_instances()
        session.client("secretsmanager", region_name=region).list_secrets()
        session.client("resourcegroupstaggingapi", region_name=region).get_resources()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _minimum(truth: Any) -> dict[str, int]:
    """The requests an organisation scan cannot do without (see the module docstring)."""
    need: Counter[str] = Counter()
    ou_nodes = 1 + len({acc.ou_path[:d] for acc in truth.accounts.values()
                        for d in range(1, len(acc.ou_path) + 1)})  # fmt: skip
    need["DescribeOrganization"] += 1
    need["ListRoots"] += 1
    need["ListOrganizationalUnitsForParent"] += ou_nodes
    need["ListChildren"] += ou_nodes
    need["ListAccounts"] += math.ceil(len(truth.accounts) / 20)
    entered = [a for a in truth.readable if a != truth.management_account]
    need["AssumeRole"] += len(entered) + len(truth.unassumable)
    keys = truth.estate.keys
    for account in truth.readable:
        for region in truth.regions:
            for op in _ONE_PAGE_LISTINGS:
                need[op] += 1
            own = [k for k in keys.values() if k.account == account and k.region == region]
            named = {
                r.key_arn
                for r in truth.estate.resources.values()
                if r.account == account and r.region == region and r.key_arn
            }
            foreign = {k for k in named if k.split(":")[4] != account}
            need["DescribeKey"] += len(own) + len(foreign)
            need["GetResources"] += 1 if own else 0
            for key in own:
                if key.manager == "CUSTOMER":
                    for op in ("GetKeyPolicy", "ListGrants"):
                        need[op] += 1
                    need["GetKeyRotationStatus"] += 1
                    need["ListKeyRotations"] += 1
    return dict(need)


def _bare_plan(truth: Any) -> dict[str, Any]:
    """Per readable member account, the requests of the minimum (what the bare loop sends)."""
    keys = truth.estate.keys
    plan: dict[str, Any] = {}
    for account in truth.readable:
        if account == truth.management_account:
            continue  # no member role: the bare loop measures the member accounts
        regions = {}
        for region in truth.regions:
            own = [k for k in keys.values() if k.account == account and k.region == region]
            named = {r.key_arn for r in truth.estate.resources.values()
                     if r.account == account and r.region == region and r.key_arn}  # fmt: skip
            regions[region] = {
                "own": [k.arn for k in own],
                "cmks": [k.arn for k in own if k.manager == "CUSTOMER"],
                "foreign": sorted(k for k in named if k.split(":")[4] != account),
            }
        plan[account] = regions
    return plan


def _log_summary(log: Any, cpu: float) -> dict[str, Any]:
    from cmkguard.aws.ratelimit import DEFAULT_RATE_LIMITS

    made = Counter(r.operation for r in log)
    per_bucket: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in log:
        service = "tagging" if r.service == "resourcegroupstaggingapi" else r.service
        bucket = DEFAULT_RATE_LIMITS.bucket_for(service, r.operation)
        if bucket is not None and r.service not in ("sts", "organizations"):
            per_bucket[(r.account, r.region, bucket[0])].append(r.at)
    worst: dict[str, Any] = {"ratio": 0.0}
    for (account, region, name), times in per_bucket.items():
        rate = DEFAULT_RATE_LIMITS.rules.get(name) or DEFAULT_RATE_LIMITS.default
        assert rate is not None
        allowed = rate.burst + rate.per_second * 1.0
        seen = _max_in_window(times, 1.0)
        if seen / allowed > worst["ratio"]:
            worst = {"ratio": seen / allowed, "seen": seen, "allowed": allowed,
                     "bucket": f"{account}/{region}/{name}"}  # fmt: skip
    return {"made": dict(made), "cpu_s": cpu, "limiter_worst": worst}


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


# -- the scanner (a fresh process per run) ----------------------------------------------------


def _scan(spec: dict[str, Any]) -> dict[str, Any]:
    """Discover and scan the organisation; one JSON-able summary."""
    import cmkguard
    from cmkguard.aws.session import EndpointSession
    from cmkguard.org import DEFAULT_ACCOUNTS_IN_FLIGHT

    key, secret, token = spec["credentials"]
    session = EndpointSession(
        endpoint_url=spec["endpoint"],
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=REGIONS[0],
    )
    cluster = client = None
    executor = None
    workers_cpu_before = 0.0
    if spec["executor"] == "dask":
        import distributed

        # Workers without distributed's profiler: on Python 3.11 it can deadlock them.
        cluster = cmkguard.org.local_dask_cluster(
            n_workers=spec["dask_workers"], threads_per_worker=spec["dask_threads"],
            processes=True,
        )  # fmt: skip
        client = distributed.Client(cluster)
        executor = client.get_executor()
        # The workers' start-up (imports) is not the scan's: counted from here.
        workers_cpu_before = sum(client.run(_cpu_seconds).values())
    started = time.perf_counter()
    cpu_started = time.process_time()
    organization = cmkguard.organization_accounts(session)
    discovered = time.perf_counter() - started
    digests: dict[str, str] = {}
    unread: list[str] = []
    errors = 0
    for result in cmkguard.scan_organization(
        session,
        organization,
        regions=spec["regions"],
        executor=executor,
        accounts_in_flight=spec["in_flight"] or DEFAULT_ACCOUNTS_IN_FLIGHT,
    ):
        if result.reached:
            digests[result.account] = _digest([r.arn for r in result.inventory.resources])
        else:
            unread.append(result.account)
        errors += len(result.errors)
        del result  # streamed: nothing of an account is kept but its digest
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    workers: list[float] = []
    if client is not None:
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        workers = [kib / 1024 for kib in peaks.values()]
        # The workers' CPU during the scan (their start-up and imports left out).
        cpu += sum(client.run(_cpu_seconds).values()) - workers_cpu_before
        client.close()
        cluster.close()  # type: ignore[union-attr]
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "discovery_s": discovered,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_rss_mib": workers,
        "digests": digests,
        "unread": sorted(unread),
        "suspended": sorted(a.id for a in organization.suspended),
        "errors": errors,
    }


# -- the bare botocore floor (a fresh process, no cmkguard) ----------------------------------


_LISTINGS = (
    ("kms", "list_keys", {}),
    ("kms", "list_aliases", {}),
    ("rds", "describe_db_instances", {}),
    ("rds", "describe_db_clusters", {}),
    ("rds", "describe_db_snapshots", {}),
    ("rds", "describe_db_cluster_snapshots", {}),
    ("secretsmanager", "list_secrets", {}),
)
_CMK_READS = (
    ("get_key_policy", {"PolicyName": "default"}),
    ("list_grants", {}),
    ("get_key_rotation_status", {}),
    ("list_key_rotations", {}),
)


def _bare(spec: dict[str, Any]) -> dict[str, Any]:
    """The client CPU botocore alone needs for the minimum's requests of each member account.

    One thread, plain boto3 clients, the emulator at 0 ms (CPU does not depend on latency);
    each call timed with `time.process_time`. Building each account's session and clients is
    timed apart: a scanner can share clients across accounts (cmkguard does), so the floor
    counts only the requests.
    """
    import boto3
    import botocore.config

    key, secret, token = spec["credentials"]
    endpoint = spec["endpoint"]
    config = botocore.config.Config(retries={"mode": "standard"})
    base = boto3.Session(key, secret, token, region_name=REGIONS[0])
    sts = base.client("sts", endpoint_url=endpoint, config=config)
    cpu: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    setup = 0.0

    def timed(op: str, call: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        out = call(**kwargs)
        cpu[op] += time.process_time() - started
        calls[op] += 1
        return out

    plan = list(spec["plan"].items())
    # The first account twice: its first pass (botocore's first-use costs) is not counted.
    for n, (account, regions) in enumerate([plan[0], *plan[: spec["accounts"]]]):
        if n == 1:
            cpu.clear()
            calls.clear()
            setup = 0.0
        role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        creds = timed("AssumeRole", sts.assume_role, RoleArn=role, RoleSessionName="bare")
        c = creds["Credentials"]
        started = time.process_time()
        session = boto3.Session(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        clients = {
            (service, region): session.client(
                service, region_name=region, endpoint_url=endpoint, config=config
            )
            for region in regions
            for service in ("kms", "rds", "secretsmanager", "resourcegroupstaggingapi")
        }
        setup += time.process_time() - started
        for region, keys in regions.items():
            for service, method, kwargs in _LISTINGS:
                client = clients[(service, region)]
                timed(client.meta.method_to_api_mapping[method], getattr(client, method), **kwargs)
            kms = clients[("kms", region)]
            if keys["own"]:
                tagging = clients[("resourcegroupstaggingapi", region)]
                timed("GetResources", tagging.get_resources, ResourceTypeFilters=["kms:key"])
            for arn in (*keys["own"], *keys["foreign"]):
                timed("DescribeKey", kms.describe_key, KeyId=arn)
            for arn in keys["cmks"]:
                for method, kwargs in _CMK_READS:
                    op = kms.meta.method_to_api_mapping[method]
                    timed(op, getattr(kms, method), KeyId=arn, **kwargs)
    accounts = min(len(spec["plan"]), spec["accounts"])
    return {"cpu": dict(cpu), "calls": dict(calls), "setup_s": setup, "accounts": accounts}


def _bare_floor(
    setup: dict[str, Any], parent: Any, args: argparse.Namespace
) -> dict[str, Any] | None:
    """Run `_bare` in a fresh process against the same emulator (at 0 ms), with its CPU."""
    if args.bare_accounts <= 0:
        return None
    spec = {
        "endpoint": setup["endpoint"],
        "credentials": setup["credentials"],
        # Only the accounts the loop reads (a whole plan at 300 members is too long for argv).
        "plan": dict(list(setup["bare_plan"].items())[: args.bare_accounts]),
        "accounts": args.bare_accounts,
    }
    parent.send(("latency", 0.0))
    parent.recv()
    parent.send("start")
    parent.recv()
    out = subprocess.run(
        [sys.executable, __file__, "--bare-spec", json.dumps(spec)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    parent.send("end")
    log = parent.recv()
    parent.send(("latency", args.latency_ms))
    parent.recv()
    bare: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    requests = sum(bare["calls"].values())
    total = sum(bare["cpu"].values())
    bare["per_request_ms"] = 1000 * total / requests
    bare["per_account_ms"] = 1000 * total / bare["accounts"]
    bare["setup_per_account_ms"] = 1000 * bare["setup_s"] / bare["accounts"]
    bare["emulator_per_request_ms"] = 1000 * log["cpu_s"] / max(1, sum(log["made"].values()))
    print(
        f"-- bare botocore ({bare['accounts']} member accounts, {requests} requests, one "
        f"thread, 0 ms): client CPU {bare['per_request_ms']:.2f} ms per request, "
        f"{bare['per_account_ms']:.0f} ms per account (+ {bare['setup_per_account_ms']:.0f} ms "
        f"per account building a session and clients, left out of the floor); emulator CPU "
        f"{bare['emulator_per_request_ms']:.2f} ms per request",
        flush=True,
    )
    return bare


def _bare_cpu(bare: dict[str, Any] | None, made: Counter[str]) -> float | None:
    """What bare botocore would spend on the requests a scan made (its per-operation means;
    operations the bare loop does not send at the overall mean)."""
    if bare is None:
        return None
    mean = bare["per_request_ms"] / 1000
    per_op = {op: bare["cpu"][op] / n for op, n in bare["calls"].items()}
    return sum(n * per_op.get(op, mean) for op, n in made.items())


# -- the driver -------------------------------------------------------------------------------


def _run_scale(members: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(
        target=_emulator, args=(child, members, REGIONS, args.latency_ms), daemon=True
    )
    server.start()
    setup = parent.recv()
    print(
        f"\n== {members} members ({setup['accounts']} accounts), {setup['resources']} resources,"
        f" seeded in {setup['seeded_s']:.1f} s; latency {args.latency_ms:g} ms",
        flush=True,
    )
    bare = _bare_floor(setup, parent, args)
    rows = []
    for executor in args.executors.split(","):
        spec = {
            "endpoint": setup["endpoint"],
            "credentials": setup["credentials"],
            "executor": executor,
            "regions": list(REGIONS),
            "in_flight": args.accounts_in_flight,
            "dask_workers": args.dask_workers,
            "dask_threads": args.dask_threads,
        }
        parent.send("start")
        parent.recv()
        load_before = Path("/proc/loadavg").read_text().strip()
        out = subprocess.run(
            [sys.executable, __file__, "--scan-spec", json.dumps(spec)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        parent.send("end")
        log = parent.recv()
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(_report(members, executor, setup, result, log, load_before, bare))
    parent.send("stop")
    server.join(timeout=60)
    return rows


def _report(
    members: int,
    executor: str,
    setup: dict[str, Any],
    result: dict[str, Any],
    log: dict[str, Any],
    load_before: str,
    bare: dict[str, Any] | None = None,
) -> dict[str, Any]:
    made, need = Counter(log["made"]), Counter(setup["minimum"])
    total_made, total_need = sum(made.values()), sum(need.values())
    over = 100.0 * (total_made - total_need) / total_need
    matches = result["digests"] == setup["expected"]
    worst = log["limiter_worst"]
    accounts = setup["accounts"]
    print(f"-- {executor}: wall {result['wall_s']:.1f} s (discovery {result['discovery_s']:.2f} s)"
          f", {result['wall_s'] / accounts * 1000:.0f} ms per account")  # fmt: skip
    print(f"   /proc/loadavg at the start: {load_before}; at the end: "
          f"{Path('/proc/loadavg').read_text().strip()}")  # fmt: skip
    print(f"   peak RSS: scanner {result['peak_rss_mib']:.0f} MiB"
          + (f", workers {', '.join(f'{w:.0f}' for w in result['worker_rss_mib'])} MiB"
             if result["worker_rss_mib"] else ""))  # fmt: skip
    print(f"   matches the seeded truth in all {len(setup['expected'])} readable accounts: "
          f"{matches}; unread {result['unread']} (expected {setup['unassumable']}); suspended "
          f"{result['suspended']}; {result['errors']} ScanError(s)")  # fmt: skip
    print(f"   requests: {total_made} made, {total_need} minimum ({over:+.1f} %), "
          f"{total_made / accounts:.1f} per account")  # fmt: skip
    diff = {
        op: (made[op], need[op]) for op in sorted(set(made) | set(need)) if made[op] != need[op]
    }
    if diff:
        print("   operations off the minimum (made, minimum): " + ", ".join(
            f"{op} {m}/{n}" for op, (m, n) in diff.items()))  # fmt: skip
    _print_floors(result, log, accounts, made, bare)
    print(
        f"   limiter: busiest bucket {worst.get('bucket')} saw {worst.get('seen')} requests in "
        f"1 s, allowed {worst.get('allowed')} (ratio {worst['ratio']:.2f})",
        flush=True,
    )
    return {
        "members": members, "accounts": accounts, "executor": executor,
        "wall_s": result["wall_s"], "rss_mib": result["peak_rss_mib"],
        "scanner_cpu_s": result["cpu_s"], "bare_cpu_s": _bare_cpu(bare, made),
        "workers_mib": result["worker_rss_mib"], "matches": matches, "over_pct": over,
        "limiter_ratio": worst["ratio"], "emulator_cpu_s": log["cpu_s"],
    }  # fmt: skip


def _print_floors(
    result: dict[str, Any],
    log: dict[str, Any],
    accounts: int,
    made: Counter[str],
    bare: dict[str, Any] | None,
) -> None:
    """The wall time against the three floors (see docs/org.md, "Performance")."""
    cores = os.cpu_count() or 1
    wall, emulator, scanner = result["wall_s"], log["cpu_s"], result["cpu_s"]
    print(f"   scanner CPU {scanner:.1f} s ({1000 * scanner / accounts:.0f} ms per account);"
          f" emulator CPU {emulator:.1f} s ({1000 * emulator / accounts:.0f} ms per account)"
          )  # fmt: skip
    floors = [("(a) emulator CPU on its one core", emulator),
              (f"(b) emulator CPU / {cores} cores", emulator / cores)]  # fmt: skip
    bare_cpu = _bare_cpu(bare, made)
    if bare_cpu is not None:
        own = scanner - bare_cpu
        print(f"   bare botocore would need {bare_cpu:.1f} s of client CPU for these requests: "
              f"cmkguard's own CPU {own:.1f} s ({1000 * own / accounts:.0f} ms per account, "
              f"{100 * own / max(scanner, 1e-9):.0f} % of the scanner's)")  # fmt: skip
        both = (emulator + bare_cpu) / cores
        floors.append((f"(c) (emulator + bare client CPU) / {cores} cores", both))
        floors.append(("(c') max(a, c): moto uses one core", max(emulator, both)))
    for name, floor in floors:
        print(f"   floor {name}: {floor:.1f} s, wall / floor {wall / max(floor, 1e-9):.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", default="10,100,300", help="member counts, comma-separated")
    parser.add_argument("--executors", default="threads,dask", help="threads and/or dask")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument(
        "--accounts-in-flight", type=int, default=None, help="default: the library's default"
    )
    parser.add_argument("--dask-workers", type=int, default=2)
    parser.add_argument("--dask-threads", type=int, default=16, help="threads per Dask worker")
    parser.add_argument(
        "--bare-accounts", type=int, default=40,
        help="member accounts the bare botocore loop reads (0: skip it)",
    )  # fmt: skip
    parser.add_argument("--scan-spec", help=argparse.SUPPRESS)
    parser.add_argument("--bare-spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scan_spec:
        print(json.dumps(_scan(json.loads(args.scan_spec))))
        return 0
    if args.bare_spec:
        print(json.dumps(_bare(json.loads(args.bare_spec))))
        return 0
    print(f"{os.cpu_count()} cores, /proc/loadavg {Path('/proc/loadavg').read_text().strip()}")
    rows = [row for n in args.members.split(",") for row in _run_scale(int(n), args)]
    print("\nsummary (members, accounts, executor, wall s, scanner MiB, truth, over %, limiter):")
    for r in rows:
        print(f"  {r['members']:>4} {r['accounts']:>4} {r['executor']:<8} {r['wall_s']:>7.1f} "
              f"{r['rss_mib']:>7.0f} {r['matches']!s:<6} {r['over_pct']:>+6.1f} "
              f"{r['limiter_ratio']:>5.2f}")  # fmt: skip
    ok = all(r["matches"] and r["over_pct"] <= 5 and r["limiter_ratio"] <= 1.0 for r in rows)
    print(f"truth matched, requests within 5 %, limiter respected: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
