"""`cmkguard demo migrate`: a whole migration on an emulated AWS account, from one command.

One emulated account lives for the whole demo (no real AWS, no credentials): seed a small estate
on AWS-managed keys, scan it, plan the move to a customer-managed key, review the plan, dry-run
it, execute it, scan again (the resources are on the CMK) and show the rollback plan. Every
document it makes (inventories, plan, journal, execution log, rollback plan) is written to
`--dir`, so the files can be opened and the same `cmkguard migrate` commands tried on them.
"""

from __future__ import annotations

import argparse
import secrets
import string
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cmkguard.auditing import audit
from cmkguard.auditing.rules.snapshots import LEFTOVER_SNAPSHOT_RULE as LEFTOVER_RULE
from cmkguard.cli._common import EXIT_FINDINGS, EXIT_OK, UsageError
from cmkguard.cli._migrate_progress import run_progress
from cmkguard.cli.migrate import _add_output_level, _configure_logging
from cmkguard.inventory import Inventory, scan
from cmkguard.migrate import (
    ExecutionReport,
    JsonFileJournal,
    MigrationOptions,
    MigrationPlan,
    WaiterSettings,
    execute,
    plan_migration,
)

__all__ = ["register"]

# The emulator finishes every change at once: poll without sleeping.
_DEMO_WAITERS = WaiterSettings(delay=0, max_attempts=5)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `cmkguard demo migrate`."""
    parser = subparsers.add_parser(
        "demo",
        help="see cmkguard work on an emulated AWS account (needs the 'demo' extra)",
        description="Guided demos on an emulated AWS account (moto on 127.0.0.1): no real AWS "
        "account, no credentials, nothing leaves this machine.",
    )
    sub = parser.add_subparsers(dest="demo_command", metavar="DEMO")
    sub.required = True
    p = sub.add_parser(
        "migrate",
        help="plan -> review -> dry run -> execute -> scan -> rollback plan, end to end",
        description="Move an RDS instance, an Aurora cluster with two members, a snapshot and a "
        "secret from AWS-managed keys to a customer-managed key on an emulated account, showing "
        "every stage. Exit 0: the migration completed and the new scan shows it; 1: it did not.",
    )
    p.add_argument(
        "--dir",
        metavar="DIR",
        help="where to write the demo's documents (default: a new temporary directory)",
    )
    p.add_argument(
        "--rollback",
        action="store_true",
        help="also execute the rollback plan (the originals back under their names)",
    )
    _add_output_level(p)
    p.set_defaults(handler=_demo_migrate)


def _workdir(path: str | None) -> Path:
    if path is None:
        return Path(tempfile.mkdtemp(prefix="cmkguard-demo-"))
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--dir {path}: not a directory")
    if (out / "journal.json").exists():
        # A journal belongs to one plan: a second demo would be refused by it.
        raise UsageError(f"--dir {path} already holds a demo run: choose another directory")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _fresh_account() -> str:
    """An account id no other emulator of this process uses.

    Each emulator has its own server and port, but moto keeps resources process-wide, per
    account: a demo in the default account would meet another emulator's `alias/orders` (or
    an earlier demo's) and fail, or change that emulator's resources. A fresh random account
    is a state of the demo's own; nothing else in the process acts in it.
    """
    return "9" + "".join(secrets.choice(string.digits) for _ in range(11))


def _stage(number: int, title: str) -> None:
    print(f"\n== {number}/7 {title} ==", flush=True)


def _keys_table(inventory: Inventory, arns: Iterable[str]) -> None:
    names = {arn: inventory.resource(arn) for arn in arns if _has(inventory, arn)}
    width = max((len(r.name) for r in names.values()), default=10)
    for resource in names.values():
        key = resource.key_arn or "-"
        print(f"  {resource.name:<{width}}  {resource.key_class.value:<17} {key}")


def _has(inventory: Inventory, arn: str) -> bool:
    try:
        inventory.resource(arn)
    except KeyError:
        return False
    return True


def _moved(after: Inventory, arns: Iterable[str], key_arn: str, suffix: str) -> bool:
    """Whether the new scan shows every demo resource on the key: the cutover gave the re-keyed
    instance and cluster the originals' names (so their ARNs), a secret is re-keyed in place,
    and a snapshot is copied (`<name><suffix>`; the original is kept until you delete it)."""
    on_key = {r.arn for r in after.resources if r.key_arn == key_arn}
    for arn in arns:
        if ":snapshot:" in arn or ":cluster-snapshot:" in arn:
            arn = arn + suffix
        if arn not in on_key:
            return False
    return True


def _demo_migrate(args: argparse.Namespace) -> int:
    from cmkguard.testing import EmulatedAWS
    from cmkguard.testing._demo import seed_migration_demo

    _configure_logging(args)
    work = _workdir(args.dir)
    with EmulatedAWS(accounts=[_fresh_account()]) as aws:
        _stage(1, "an emulated AWS account")
        demo = seed_migration_demo(aws)
        session = aws.session(demo.region)
        print(f"moto on {aws.endpoint_url}, account {aws.primary_account}: no real AWS is used")
        print(
            f"seeded an instance, an Aurora cluster with 2 members, a snapshot, a secret and "
            f"the customer-managed key {demo.key_alias}"
        )

        _stage(2, "scan: every resource is on an AWS-managed key")
        before = scan(session, regions=[demo.region])
        (work / "inventory-before.json").write_text(before.to_json() + "\n", encoding="utf-8")
        _keys_table(before, demo.resources)
        print(f"(saved: {work / 'inventory-before.json'})")

        _stage(3, "plan and review: exact requests, pre-flight checks, nothing sent yet")
        plan = plan_migration(
            before,
            demo.resources,
            target_key=demo.key_alias,
            options=MigrationOptions(cutover=True),
        )
        (work / "plan.json").write_text(plan.to_json() + "\n", encoding="utf-8")
        print(plan)
        print(f"\n(saved: {work / 'plan.json'}; the same from a shell on a real account:")
        print(f"  cmkguard migrate plan {' '.join(demo.resources)} \\")
        print(f"      --key {demo.key_alias} --cutover -o plan.json)")
        if not plan.executable:
            print("BLOCKED: the demo plan has blocking pre-flight items", file=sys.stderr)
            return EXIT_FINDINGS

        journal = JsonFileJournal(work / "journal.json")
        _stage(4, "dry run: the requests a real run would send (nothing is changed)")
        dry = execute(plan, session, journal=journal, dry_run=True)
        requests = dry.requests()
        print(f"{dry.summary()}\n{len(requests)} requests would be sent, in this order:")
        for line in requests:
            # Whole requests are in the review above and in plan.json: one line each here.
            print(f"  {line if len(line) <= 100 else line[:97] + '...'}")
        print("(cmkguard migrate run plan.json --journal journal.json)")

        _stage(5, "execute: journaled, resumable, the sources untouched until the cutover")
        with run_progress(quiet=args.quiet) as progress:
            report = execute(
                plan,
                session,
                journal=journal,
                dry_run=False,
                progress=progress,
                waiter_config=_DEMO_WAITERS,
            )
        print(report.summary())
        print(f"(journal: {journal.path}; execution log: {journal.log_path})")
        print("(cmkguard migrate run plan.json --journal journal.json --execute)")
        if not report.completed:
            return EXIT_FINDINGS

        _stage(6, "scan again: the resources are on the customer-managed key")
        after = scan(session, regions=[demo.region])
        (work / "inventory-after.json").write_text(after.to_json() + "\n", encoding="utf-8")
        _keys_table(after, sorted(r.arn for r in after.resources if r.resource_type != "kms:key"))
        moved = _moved(after, demo.resources, demo.key_arn, plan.options.new_suffix)
        print(f"(saved: {work / 'inventory-after.json'})")
        _leftovers(after)

        _stage(7, "rollback plan: the originals back under their names if anything is wrong")
        code = _rollback(plan, session, work, run=args.rollback, quiet=args.quiet)
    print(f"\ndemo documents in {work}")
    if not moved:
        print("the new scan does not show every resource on the key", file=sys.stderr)
        return EXIT_FINDINGS
    return code


def _leftovers(after: Inventory) -> None:
    """What the audit says is not done yet: the snapshots still on the old key."""
    left = audit(after).by_rule(LEFTOVER_RULE)
    if not left:
        return
    print(f"\nstill on aws/rds ({LEFTOVER_RULE}, cmkguard audit lists them):")
    for finding in left:
        ev = finding.evidence
        expires = ev.get("expires")
        when = f"deleted by RDS on {expires[:10]}" if expires else "never expires (manual)"
        print(f"  {ev['name']:<40} {ev['snapshot_type']:<10} {when}")


# `session` is a boto3 session; the CLI layer does not import boto3 (not even for types).
def _rollback(plan: MigrationPlan, session: Any, work: Path, *, run: bool, quiet: bool) -> int:
    rollback = plan.rollback_plan()
    if rollback is None:  # a cutover plan always has one; say so rather than crash
        print("the plan has no rollback (it has no cutover)")
        return EXIT_OK
    (work / "rollback-plan.json").write_text(rollback.to_json() + "\n", encoding="utf-8")
    journal = JsonFileJournal(work / "rollback-journal.json")
    with run_progress(quiet=quiet or not run) as progress:
        report: ExecutionReport = execute(
            rollback,
            session,
            journal=journal,
            dry_run=not run,
            progress=progress,
            waiter_config=_DEMO_WAITERS,
        )
    if report.dry_run:
        print(report)
        print("(cmkguard migrate run plan.json --rollback --journal rollback.json [--execute];")
        print(" this demo runs it with: cmkguard demo migrate --rollback)")
        return EXIT_OK
    print(report.summary())
    print(f"(execution log: {journal.log_path})")
    return EXIT_OK if report.completed else EXIT_FINDINGS
