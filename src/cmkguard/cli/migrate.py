"""``cmkguard migrate``: plan a move to a customer-managed key, review it, run it (dry by default).

``cmkguard migrate plan ARN... --key KEY [-o plan.json]`` scans (or reads ``--from-inventory``),
captures the RDS sources' settings and writes a reviewable plan; exit 1 when pre-flight items
block it. ``cmkguard migrate run plan.json --journal FILE [--execute]`` prints the requests a run
would send, or with ``--execute`` runs it, journaled and resumable (the same command resumes).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cmkguard.arn import parse_arn
from cmkguard.cli._common import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    check_output,
    incomplete_exit,
    load_document,
    open_output,
)
from cmkguard.cli._scan_options import add_scan_arguments, scan_from_args, split_list
from cmkguard.errors import NoCredentialsError
from cmkguard.inventory.values import Inventory
from cmkguard.migrate import (
    MigrationOptions,
    MigrationPlan,
    ProgressEvent,
    WaiterSettings,
    execute,
    plan_migration,
)

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``cmkguard migrate plan`` and ``cmkguard migrate run``."""
    parser = subparsers.add_parser(
        "migrate",
        help="move resources onto a customer-managed key: plan, review, run, resume",
        description="Plan and run the re-keying of RDS instances, Aurora clusters, snapshots and "
        "secrets to a customer-managed KMS key.",
    )
    sub = parser.add_subparsers(dest="migrate_command", metavar="ACTION")
    sub.required = True
    _register_plan(sub)
    _register_run(sub)


def _register_plan(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plan",
        help="build a reviewable migration plan",
        description="Build a plan (no change is made). Exit 0: executable; 1: blocking "
        "pre-flight items; 2: bad input.",
    )
    p.add_argument("resources", nargs="+", metavar="ARN", help="resources to move")
    p.add_argument("--key", required=True, help="target key: id, ARN, alias or alias ARN")
    p.add_argument("--from-inventory", metavar="FILE", help="use a saved scan (JSON)")
    p.add_argument("--output", "-o", metavar="FILE", help="write the plan JSON here")
    p.add_argument("--cutover", action="store_true", help="plan the rename cutover")
    p.add_argument(
        "--reencrypt-secret-value",
        action="store_true",
        help="write each secret's value again so it exists under the new key alone",
    )
    p.add_argument(
        "--delete-source-snapshots",
        action="store_true",
        help="plan a destructive cleanup step deleting re-keyed manual snapshots' originals",
    )
    p.add_argument(
        "--rekey-secret-replicas",
        action="store_true",
        help="re-create secret replicas with the region's key",
    )
    p.add_argument(
        "--replica-key", action="append", metavar="REGION=KEY", help="key for a replica region"
    )
    p.add_argument(
        "--consumer",
        action="append",
        metavar="SECRET_ARN=PRINCIPAL_ARN",
        help="a principal that reads the secret (checked for kms:Decrypt); repeatable",
    )
    p.add_argument(
        "--rotation-role",
        action="append",
        metavar="SECRET_ARN=ROLE_ARN",
        help="the execution role of the secret's rotation Lambda",
    )
    p.add_argument(
        "--no-capture",
        action="store_true",
        help="do not read the RDS sources' settings (plan from the inventory alone)",
    )
    add_scan_arguments(p)
    p.set_defaults(handler=_plan)


def _register_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="dry-run or execute a plan (resumes from its journal)",
        description="Without --execute, print the requests a run would send (nothing is "
        "changed). Exit 0: done; 1: a step failed (run again to resume); 2: bad input.",
    )
    p.add_argument("plan", metavar="PLAN.json")
    p.add_argument("--journal", required=True, metavar="FILE", help="progress journal (JSON)")
    p.add_argument("--execute", action="store_true", help="really run it")
    p.add_argument("--rollback", action="store_true", help="run the plan's rollback instead")
    p.add_argument("--profile", help="AWS profile to use")
    p.add_argument("--endpoint-url", help="send every AWS request to this endpoint")
    p.add_argument("--waiter-delay", type=float, default=30.0, metavar="S", help="default: 30")
    p.add_argument("--waiter-max-attempts", type=int, default=240, metavar="N", help="default: 240")
    p.set_defaults(handler=_run)


def _pairs(values: list[str] | None, option: str, *, arns: bool = False) -> list[tuple[str, str]]:
    out = []
    for value in values or ():
        left, sep, right = value.partition("=")
        if not sep or not left or not right:
            raise UsageError(f"{option} expects LEFT=RIGHT, got {value!r}")
        if arns:
            _require_arns(option, left.strip(), right.strip())
        out.append((left.strip(), right.strip()))
    return out


def _require_arns(option: str, *values: str) -> None:
    # A typo here would otherwise surface as a misleading pre-flight item ("notaprincipal
    # cannot kms:Decrypt", "not an ARN" blocking the plan: exit 1) instead of bad input.
    for value in values:
        try:
            parse_arn(value)
        except ValueError:
            raise UsageError(f"{option}: {value!r} is not an ARN") from None


def _options(args: argparse.Namespace) -> MigrationOptions:
    consumers: dict[str, list[str]] = {}
    for secret, principal in _pairs(args.consumer, "--consumer", arns=True):
        consumers.setdefault(secret, []).append(principal)
    return MigrationOptions(
        cutover=args.cutover,
        delete_source_snapshots=args.delete_source_snapshots,
        reencrypt_secret_value=args.reencrypt_secret_value,
        rekey_secret_replicas=args.rekey_secret_replicas,
        replica_keys=dict(_pairs(args.replica_key, "--replica-key")),
        secret_consumers=consumers,
        rotation_lambda_roles=dict(_pairs(args.rotation_role, "--rotation-role", arns=True)),
    )


def _inventory(args: argparse.Namespace) -> Inventory:
    if args.from_inventory:
        return load_document(args.from_inventory, "inventory", Inventory.from_json)
    return scan_from_args(args)


def _plan(args: argparse.Namespace) -> int:
    check_output(args.output)
    options = _options(args)
    resources = split_list(args.resources) or []
    _require_arns("ARN", *resources)
    inventory = _inventory(args)
    settings: dict[str, Any] = {}
    if not args.no_capture:
        from cmkguard.aws.identity import open_session
        from cmkguard.migrate import capture_settings

        if args.demo:
            raise UsageError("--demo cannot capture settings of a finished emulator: --no-capture")
        session = open_session(args.profile, endpoint_url=args.endpoint_url)
        settings = capture_settings(session, resources)
    plan = plan_migration(
        inventory, resources, target_key=args.key, options=options, source_settings=settings
    )
    if args.output and args.output != "-":
        with open_output(args.output) as out:
            out.write(plan.to_json())
            out.write("\n")
        print(plan)
        print(f"\nplan written to {args.output}")
    elif args.output == "-":
        print(plan.to_json())
        print(plan, file=sys.stderr)
    else:
        print(plan)
    if not plan.executable:
        return EXIT_FINDINGS
    return incomplete_exit(args, inventory.errors, "inventory the plan was made from")


def _progress(event: ProgressEvent) -> None:
    if event.status == "start":
        return
    print(
        f"[{event.index}/{event.total}] {event.status:>9} {event.step.id}"
        + (f": {event.detail}" if event.detail else ""),
        file=sys.stderr,
        flush=True,
    )


def _run(args: argparse.Namespace) -> int:
    from cmkguard.aws.identity import open_session

    plan = load_document(args.plan, "plan", MigrationPlan.from_json, kind="valid cmkguard plan")
    if args.rollback:
        rollback = plan.rollback_plan()
        if rollback is None:
            raise UsageError(f"{args.plan} has no cutover to roll back")
        plan = rollback
    if args.waiter_delay < 0 or args.waiter_max_attempts < 1:
        raise UsageError("--waiter-delay must be >= 0 and --waiter-max-attempts >= 1")
    session = open_session(args.profile, endpoint_url=args.endpoint_url)
    if args.execute and session.get_credentials() is None:
        # Without this, the first step "fails" (exit 1, "run again to resume"): no credentials
        # is bad input, known before anything is sent or journaled.
        raise NoCredentialsError(
            "no AWS credentials found (set a profile with --profile / AWS_PROFILE, "
            "or environment credentials)"
        )
    report = execute(
        plan,
        session,
        journal=args.journal,
        dry_run=not args.execute,
        progress=_progress,
        waiter_config=WaiterSettings(args.waiter_delay, args.waiter_max_attempts),
    )
    print(report)
    if report.dry_run:
        print("\ndry run: nothing was changed (add --execute to run it)")
    return EXIT_FINDINGS if report.state == "failed" else EXIT_OK
