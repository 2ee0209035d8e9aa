"""`cmkguard migrate share | revoke-share | receive-share | shares`: cross-account snapshot sharing.

Each writes a reviewable plan (no change is made), run with `cmkguard migrate run` like any
plan. Exit 0: executable; 1: blocking pre-flight items; 2: bad input (an account id that is
not 12 digits, a date that is not ISO 8601 or not in the future, a snapshot not in the scan);
3: the scan the plan was made from is incomplete. `shares` counts the shares the execution logs
record (the KPI "cross-account snapshot sharing operations enabled by CMKs").
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from cmkguard.arn import parse_arn
from cmkguard.cli._common import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    check_output,
    incomplete_exit,
    load_document,
    write_plan,
)
from cmkguard.cli._scan_options import add_scan_arguments, scan_from_args, split_list
from cmkguard.errors import JournalFormatError
from cmkguard.inventory.values import Inventory
from cmkguard.migrate import MigrationPlan, share_activity
from cmkguard.migrate.share import (
    plan_share_revocation,
    plan_shared_snapshot_copy,
    plan_snapshot_share,
)

__all__ = ["register_share"]


def register_share(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    add_output_level: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Register the three sharing actions under `cmkguard migrate`."""
    p = sub.add_parser(
        "share",
        help="plan sharing snapshots with another account through a CMK",
        description="Plan: copy each snapshot onto KEY when it is on aws/rds, another key or "
        "unencrypted; add a least-privilege (optionally time-bounded) statement for the "
        "account to KEY's policy; add the account to the snapshot's restore attribute. The "
        "plan's rollback (migrate run --rollback) revokes the share.",
    )
    _common(p, "snapshots to share (DB or cluster snapshot ARNs)")
    p.add_argument("--expires", metavar="DATE", help="end of the key-policy grant (ISO 8601)")
    add_scan_arguments(p)
    add_output_level(p)
    p.set_defaults(handler=_share)
    p = sub.add_parser(
        "revoke-share",
        help="plan revoking a snapshot share (from a current scan)",
        description="Plan: remove the account from each shared snapshot's restore attribute "
        "and the share's statements from KEY's policy (other statements are kept).",
    )
    _common(p, "the shared snapshots (the copies the share made, if any)")
    add_scan_arguments(p)
    add_output_level(p)
    p.set_defaults(handler=_revoke)
    p = sub.add_parser(
        "receive-share",
        help="plan copying snapshots shared with this account onto its own key",
        description="Plan, for the receiving account: copy each shared snapshot onto KEY "
        "(a key ARN of this account). Run it with this account's credentials.",
    )
    p.add_argument("snapshots", nargs="+", metavar="SNAPSHOT_ARN")
    p.add_argument("--key", required=True, help="this account's key ARN for the copies")
    p.add_argument("--suffix", default="-copy", help="appended to the copies' names")
    p.add_argument("--output", "-o", metavar="FILE", help="write the plan JSON here")
    add_output_level(p)
    p.set_defaults(handler=_receive)
    _register_shares(sub)


def _register_shares(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "shares",
        help="count the cross-account snapshot shares run so far (the sharing KPI)",
        description="Read execution logs (or journals, whose log is next to them, or "
        "directories of logs) and list every snapshot shared with another account: when, by "
        "whom, until when, and whether it is active, expired or revoked; --plan adds the "
        "shares planned but not run yet. Exit 0; 2: a file that is not a log or a plan.",
    )
    p.add_argument("logs", nargs="+", metavar="LOG", help="*.log.jsonl, journal.json or DIR")
    p.add_argument("--plan", action="append", metavar="PLAN.json", help="a share plan; repeatable")
    p.add_argument("--json", action="store_true", help="print the JSON document instead")
    p.set_defaults(handler=_shares)


def _shares(args: argparse.Namespace) -> int:
    plans = [
        load_document(path, "plan", MigrationPlan.from_json, kind="valid cmkguard plan")
        for path in args.plan or ()
    ]
    try:
        activity = share_activity(args.logs, plans)
    except JournalFormatError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(activity.to_dict(), indent=2))
        return EXIT_OK
    print(activity.summary())
    for share in activity.shares:
        row = share.to_dict(activity.now)
        until = f" until {row['expires']}" if row["expires"] else ""
        when = row["revoked_at"] or row["shared_at"] or "-"
        print(f"  {row['status']:<8} {share.snapshot} -> {share.account}{until} ({when})")
    return EXIT_OK


def _common(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("snapshots", nargs="+", metavar="SNAPSHOT_ARN", help=what)
    p.add_argument("--to-account", required=True, metavar="ID", help="the other account")
    p.add_argument("--key", required=True, help="the CMK: id, ARN, alias or alias ARN")
    p.add_argument("--from-inventory", metavar="FILE", help="use a saved scan (JSON)")
    p.add_argument("--output", "-o", metavar="FILE", help="write the plan JSON here")


def _arns(values: list[str]) -> list[str]:
    arns = split_list(values) or []
    for value in arns:
        try:
            parse_arn(value)
        except ValueError:
            raise UsageError(f"{value!r} is not a snapshot ARN") from None
    return arns


def _inventory(args: argparse.Namespace, arns: list[str]) -> Inventory:
    if not (len(args.to_account) == 12 and args.to_account.isdigit()):
        raise UsageError(f"--to-account {args.to_account!r} is not a 12-digit account id")
    if args.from_inventory:
        inventory = load_document(args.from_inventory, "inventory", Inventory.from_json)
    else:
        inventory = scan_from_args(args)
    for arn in arns:
        try:
            inventory.resource(arn)
        except KeyError:
            raise UsageError(f"snapshot {arn} is not in the inventory (scan its region)") from None
    return inventory


def _write(args: argparse.Namespace, plan: MigrationPlan) -> None:
    write_plan(plan, args.output, next_step=" (run it with: cmkguard migrate run)")


def _share(args: argparse.Namespace) -> int:
    check_output(args.output)
    arns = _arns(args.snapshots)
    inventory = _inventory(args, arns)
    plan = plan_snapshot_share(
        inventory, arns, to_account=args.to_account, key=args.key, expires=args.expires
    )
    return _finish(args, plan, inventory)


def _revoke(args: argparse.Namespace) -> int:
    check_output(args.output)
    arns = _arns(args.snapshots)
    inventory = _inventory(args, arns)
    plan = plan_share_revocation(inventory, arns, to_account=args.to_account, key=args.key)
    return _finish(args, plan, inventory)


def _finish(args: argparse.Namespace, plan: MigrationPlan, inventory: Inventory) -> int:
    _write(args, plan)
    if not plan.executable:
        return EXIT_FINDINGS
    return incomplete_exit(args, inventory.errors, "inventory the plan was made from")


def _receive(args: argparse.Namespace) -> int:
    check_output(args.output)
    plan = plan_shared_snapshot_copy(_arns(args.snapshots), key=args.key, suffix=args.suffix)
    _write(args, plan)
    return EXIT_OK
