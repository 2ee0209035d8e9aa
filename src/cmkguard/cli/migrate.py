"""`cmkguard migrate`: plan a move to a customer-managed key, review it, run it (dry by default).

`cmkguard migrate plan ARN... --key KEY [-o plan.json]` scans (or reads `--from-inventory`),
captures the RDS sources' settings and writes a reviewable plan; exit 1 when pre-flight items
block it. `cmkguard migrate run plan.json --journal FILE [--execute]` prints the requests a run
would send, or with `--execute` runs it, journaled and resumable (the same command resumes).
"""

from __future__ import annotations

import argparse
import logging
import os
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
    write_plan,
)
from cmkguard.cli._migrate_progress import run_progress
from cmkguard.cli._scan_options import add_scan_arguments, scan_from_args, split_list
from cmkguard.cli._share import register_share
from cmkguard.errors import NoCredentialsError, PlanIntegrityError, PreflightError
from cmkguard.inventory.values import Inventory
from cmkguard.migrate import (
    MigrationOptions,
    MigrationPlan,
    RunState,
    WaiterSettings,
    execute,
    plan_migration,
)
from cmkguard.migrate._resolve import resolve_reference

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `cmkguard migrate plan` and `cmkguard migrate run`."""
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
    _register_sign(sub)
    register_share(sub, _add_output_level)


def _add_output_level(p: argparse.ArgumentParser) -> None:
    level = p.add_mutually_exclusive_group()
    level.add_argument(
        "--verbose",
        "-v",
        action="count",
        default=0,
        help="log what cmkguard does to stderr (-vv: with each request)",
    )
    level.add_argument(
        "--quiet", "-q", action="store_true", help="no progress; only the outcome and errors"
    )


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the `sys.stderr` of the moment: a live progress display redirects it to print
    log lines above its status line, and a handler holding the original stream would tear it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _configure_logging(args: argparse.Namespace) -> None:
    """cmkguard's loggers to stderr at INFO (-v) or DEBUG (-vv); silent otherwise."""
    verbosity = getattr(args, "verbose", 0)
    if not verbosity:
        return
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("cmkguard")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)


SIGNING_KEY_ENV = "CMKGUARD_PLAN_SIGNING_KEY"
"""The environment variable `migrate sign` and `migrate run --require-signature` read."""


def _signing_key(variable: str) -> str:
    key = os.environ.get(variable, "")
    if not key:
        raise UsageError(f"set the signing key in the environment variable {variable}")
    return key


def _register_sign(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sign",
        help="sign a reviewed plan (HMAC with a key from the environment)",
        description="Sign PLAN.json with the key in $CMKGUARD_PLAN_SIGNING_KEY (or "
        "--key-env NAME), so that `migrate run --require-signature` runs it. Sign only what "
        "you reviewed: the signature covers the plan's fingerprint, i.e. all of it.",
    )
    p.add_argument("plan", metavar="PLAN.json")
    p.add_argument("--output", "-o", metavar="FILE", help="default: sign PLAN.json in place")
    p.add_argument("--key-env", default=SIGNING_KEY_ENV, metavar="NAME")
    p.set_defaults(handler=_sign)


def _sign(args: argparse.Namespace) -> int:
    key = _signing_key(args.key_env)
    plan = load_document(args.plan, "plan", MigrationPlan.from_json, kind="valid cmkguard plan")
    signed = plan.sign(key)
    target = args.output or args.plan
    with open_output(target) as out:
        out.write(signed.to_json())
        out.write("\n")
    print(f"signed plan {signed.fingerprint[:12]} written to {target}", file=sys.stderr)
    return EXIT_OK


def _register_plan(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plan",
        help="build a reviewable migration plan",
        description="Build a plan (no change is made). Exit 0: executable; 1: blocking "
        "pre-flight items; 2: bad input.",
    )
    p.add_argument(
        "resources",
        nargs="+",
        metavar="ARN",
        help="resources to move (a secret also by its name or its ARN without the random suffix)",
    )
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
        help="do not re-read the RDS sources' settings: plan from the describe records the "
        "inventory holds (a scan keeps them)",
    )
    add_scan_arguments(p)
    _add_output_level(p)
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
    p.add_argument(
        "--require-signature",
        action="store_true",
        help=f"run only a plan signed with the key in ${SIGNING_KEY_ENV} (see migrate sign)",
    )
    p.add_argument("--key-env", default=SIGNING_KEY_ENV, metavar="NAME", help=argparse.SUPPRESS)
    _add_output_level(p)
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


def _resource_arn(inventory: Inventory, reference: str) -> str:
    """An ARN as given (the plan reports one not in the inventory); a secret's name or partial
    ARN resolved as Secrets Manager does; anything else is bad input (exit 2)."""
    arn, check, why = resolve_reference(inventory, reference)
    if check is None or (reference.startswith("arn:") and check == "resource-in-inventory"):
        return arn
    raise UsageError(why)


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
    _configure_logging(args)
    check_output(args.output)
    options = _options(args)
    references = split_list(args.resources) or []
    inventory = _inventory(args)
    resources = [_resource_arn(inventory, ref) for ref in references]
    settings: dict[str, Any] = {}
    # The scan keeps every describe record, so the plan needs nothing more; re-reading the
    # sources here only makes the settings fresher when the inventory is a saved file. The
    # --demo emulator is gone once its scan returns: its records are the freshest there are.
    if not args.no_capture and not args.demo:
        from cmkguard.aws.identity import open_session
        from cmkguard.migrate import capture_settings

        session = open_session(args.profile, endpoint_url=args.endpoint_url)
        settings = capture_settings(session, resources)
    plan = plan_migration(
        inventory, resources, target_key=args.key, options=options, source_settings=settings
    )
    write_plan(plan, args.output)
    if not plan.executable:
        return EXIT_FINDINGS
    return incomplete_exit(args, inventory.errors, "inventory the plan was made from")


def _check_journal_directory(journal: str) -> None:
    # A dry run never writes the journal, so without this check it would pass and only the
    # real run would find that the journal cannot be kept: the dry run is the rehearsal.
    directory = os.path.dirname(journal) or "."
    if not os.path.isdir(directory):
        raise UsageError(f"--journal {journal}: directory {directory} does not exist")


def _run(args: argparse.Namespace) -> int:
    from cmkguard.aws.identity import open_session

    _configure_logging(args)
    plan = load_document(args.plan, "plan", MigrationPlan.from_json, kind="valid cmkguard plan")
    signing_key = _signing_key(args.key_env) if args.require_signature else None
    if signing_key is not None and args.rollback and not plan.signature_valid(signing_key):
        # The rollback is derived from the signed plan: its signature vouches for it.
        raise PlanIntegrityError("the plan's signature is missing or does not match")
    if args.rollback:
        rollback = plan.rollback_plan()
        if rollback is None:
            raise UsageError(f"{args.plan} has no cutover to roll back")
        plan = rollback
    if args.waiter_delay < 0 or args.waiter_max_attempts < 1:
        raise UsageError("--waiter-delay must be >= 0 and --waiter-max-attempts >= 1")
    _check_journal_directory(args.journal)
    session = open_session(args.profile, endpoint_url=args.endpoint_url)
    if args.execute and session.get_credentials() is None:
        # Without this, the first step "fails" (exit 1, "run again to resume"): no credentials
        # is bad input, known before anything is sent or journaled.
        raise NoCredentialsError(
            "no AWS credentials found (set a profile with --profile / AWS_PROFILE, "
            "or environment credentials)"
        )
    try:
        with run_progress(quiet=args.quiet or not args.execute) as progress:
            report = execute(
                plan,
                session,
                journal=args.journal,
                dry_run=not args.execute,
                progress=progress,
                waiter_config=WaiterSettings(args.waiter_delay, args.waiter_max_attempts),
                signing_key=None if args.rollback else signing_key,
            )
    except PreflightError as exc:
        # A blocked plan is the gate failing (exit 1), not bad input: nothing was sent.
        print(f"BLOCKED: {exc} (nothing was sent; fix them and plan again)", file=sys.stderr)
        return EXIT_FINDINGS
    if report.state is RunState.BLOCKED:
        print(report)
        print("\ndry run of a blocked plan: nothing was changed, and --execute would refuse it")
    elif report.dry_run:
        print(report)  # the step list, once: a dry run shows no progress lines
        print("\ndry run: nothing was changed (add --execute to run it)")
    else:
        print(report.summary())  # the steps were shown as they ran
    if report.state is RunState.BLOCKED:
        print(f"BLOCKED: {len(report.blocking)} blocking pre-flight item(s)", file=sys.stderr)
        return EXIT_FINDINGS
    return EXIT_FINDINGS if report.state is RunState.FAILED else EXIT_OK
