"""What to scan, as command-line options: shared by `cmkguard scan` and `cmkguard audit`.

`add_scan_arguments` adds the options; `scan_from_args` runs the scan they describe
(on a real account, an endpoint, or with `--demo` on a freshly seeded emulated account) and
returns the `Inventory`. `terminal_progress` is the progress
display both commands show on a terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from cmkguard.aws.identity import open_session
from cmkguard.cli._common import UsageError, add_allow_incomplete, stderr_is_tty
from cmkguard.cli._org_options import add_org_arguments, check_org_arguments, org_scan_from_args
from cmkguard.inventory import DEFAULT_MAX_WORKERS, ScanEvent, ScanEventKind, scan
from cmkguard.inventory.progress import ProgressCallback
from cmkguard.inventory.values import Inventory

__all__ = [
    "DEMO_REGIONS",
    "add_scan_arguments",
    "scan_from_args",
    "split_list",
    "terminal_progress",
]

DEMO_REGIONS = ("us-east-1", "eu-west-1")
"""Regions `--demo` seeds and scans unless `--regions` says otherwise."""


def split_list(values: list[str] | None) -> list[str] | None:
    """`["a,b", "c"]` (repeated and/or comma-separated option values) -> `["a", "b", "c"]`."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def add_scan_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that choose what to scan and with which credentials."""
    group = parser.add_argument_group("what to scan")
    group.add_argument("--profile", help="AWS profile to use (default: the standard chain)")
    group.add_argument(
        "--regions",
        action="append",
        metavar="R1,R2",
        help="regions to scan, comma-separated (default: the profile's region)",
    )
    group.add_argument(
        "--types",
        action="append",
        metavar="TYPE",
        help="resource types, e.g. rds:db-instance,secretsmanager:secret or a service (rds); "
        "default: all",
    )
    group.add_argument(
        "--role-arn",
        action="append",
        dest="role_arns",
        metavar="ARN",
        help="scan the account of this role by assuming it (repeat for several accounts)",
    )
    group.add_argument(
        "--endpoint-url", metavar="URL", help="send every AWS request to this endpoint"
    )
    group.add_argument(
        "--demo",
        action="store_true",
        help="start an emulated AWS account on 127.0.0.1, seed a realistic estate, scan it "
        "(needs the 'demo' extra; no AWS account used)",
    )
    group.add_argument(
        "--max-workers",
        type=int,
        default=DEFAULT_MAX_WORKERS,
        metavar="N",
        help=f"concurrent AWS requests (default: {DEFAULT_MAX_WORKERS})",
    )
    add_allow_incomplete(group)
    add_org_arguments(parser)


def _note(message: str) -> None:
    print(f"cmkguard: {message}", file=sys.stderr)


def scan_from_args(args: argparse.Namespace, progress: ProgressCallback | None = None) -> Inventory:
    """Run the scan the options describe and return its inventory.

    Bad input (unknown region or type, no credentials, unreachable endpoint, `--demo` mixed
    with real-account options) raises a `CmkGuardError` or
    `UsageError`, which the CLI turns into exit code 2.
    """
    regions = split_list(args.regions)
    types = split_list(args.types)
    if args.max_workers < 1:
        raise UsageError("--max-workers must be at least 1")
    check_org_arguments(args)
    if args.organization:
        return org_scan_from_args(args, DEMO_REGIONS)
    if args.demo:
        if args.profile or args.endpoint_url or args.role_arns:
            raise UsageError("--demo scans an emulated account: drop --profile/--endpoint-url")
        return _demo_scan(regions, types, args.max_workers, progress)
    session = open_session(args.profile, endpoint_url=args.endpoint_url)
    return scan(
        session,
        regions=regions,
        resource_types=types,
        progress=progress,
        role_arns=args.role_arns,
        max_workers=args.max_workers,
    )


def _demo_scan(
    regions: list[str] | None,
    types: list[str] | None,
    max_workers: int,
    progress: ProgressCallback | None,
) -> Inventory:
    from cmkguard.aws.regions import validate_regions
    from cmkguard.resources import resolve_resource_types
    from cmkguard.testing import EmulatedAWS, seed_estate

    # Bad input fails before the emulator starts.
    demo_regions = validate_regions(regions) if regions else DEMO_REGIONS
    resolve_resource_types(types)
    with EmulatedAWS() as aws:
        _note(
            f"demo: started an emulated AWS account at {aws.endpoint_url} (no real AWS used); "
            "seeding it..."
        )
        truth = seed_estate(aws, regions=demo_regions)
        _note(f"demo: {_seeded_summary(truth, demo_regions)}")
        inventory = scan(
            aws.session(demo_regions[0]),
            regions=demo_regions,
            resource_types=types,
            progress=progress,
            max_workers=max_workers,
        )
        _note("demo: scanned it; the emulated account is gone when this command exits")
    return inventory


def _seeded_summary(truth: Any, regions: Sequence[str]) -> str:
    """What was seeded, each key counted in the account it lives in: keys of another account
    that the estate uses across accounts are not the scanned account's keys."""
    per_account = Counter(str(arn).split(":")[4] for arn in truth.keys)
    own = sum(per_account[a] for a in truth.accounts)
    others = [
        f"{n} in account {a}" for a, n in sorted(per_account.items()) if a not in truth.accounts
    ]
    extra = f", plus {', '.join(others)} that its resources use across accounts" if others else ""
    return (
        f"seeded {len(truth.resources)} resources and {own} KMS keys in account "
        f"{', '.join(truth.accounts)} (regions {', '.join(regions)}){extra}"
    )


class _PlainProgress:
    """A one-line counter on stderr, for terminals without rich (a `ScanEvent` callback)."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0

    def __call__(self, event: ScanEvent) -> None:
        self.total, self.done = event.total, event.done
        if event.kind is ScanEventKind.FINISHED:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
        elif event.kind is ScanEventKind.STARTED or (
            event.kind is ScanEventKind.UNIT_DONE
            and (self.done == self.total or self.done % 10 == 0)
        ):
            self._draw()

    def _draw(self) -> None:
        sys.stderr.write(f"\rscanning: {self.done}/{self.total} units")
        sys.stderr.flush()


class _RichProgress:
    """A rich progress bar on stderr (a `ScanEvent` callback)."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        # No task (so nothing drawn) until the scan starts: `--demo` seeds the emulator first,
        # and a bar reading 0/0 for those seconds says nothing true.
        self.task: Any = None
        self.total = 0

    def __call__(self, event: ScanEvent) -> None:
        self.total = event.total
        if self.task is None:
            self.task = self.bar.add_task("scanning", total=self.total)
        if event.kind is ScanEventKind.UNIT_DONE and event.unit is not None:
            description = f"scanning {event.unit.region}"
            self.bar.update(self.task, total=self.total, advance=1, description=description)
        elif event.kind is ScanEventKind.FINISHED:
            self.bar.update(self.task, description="scanned")
        else:
            self.bar.update(self.task, total=self.total)


@contextmanager
def terminal_progress(enabled: bool | None = None) -> Iterator[ProgressCallback | None]:
    """A progress hook drawing on stderr when it is a terminal (`None` otherwise).

    Uses rich when installed (the `cli` extra), else a plain counter.
    """
    if not (stderr_is_tty() if enabled is None else enabled):
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    except ImportError:
        yield _PlainProgress()
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        yield _RichProgress(bar)
