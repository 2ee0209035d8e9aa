"""``cmkguard scan``: inventory encrypted resources and KMS keys; table, JSON or CSV."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import IO

from cmkguard.cli._common import EXIT_OK, check_output, open_output
from cmkguard.cli._scan_options import add_scan_arguments, scan_from_args, terminal_progress
from cmkguard.models import EncryptedResource, Inventory, KeyClass

__all__ = ["CSV_COLUMNS", "register", "render_csv", "render_table", "summary_lines"]

CSV_COLUMNS = (
    "arn",
    "resource_type",
    "account",
    "region",
    "name",
    "key_class",
    "key_arn",
    "key_reference",
    "key_aliases",
    "reason",
)
"""Columns of ``--format csv`` (one row per resource)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``cmkguard scan``."""
    parser = subparsers.add_parser(
        "scan",
        help="inventory encrypted resources and the KMS keys they use",
        description="Inventory RDS and Secrets Manager resources with their KMS keys, classified "
        "as aws-managed, customer-managed, cross-account, unencrypted or unknown.",
    )
    add_scan_arguments(parser)
    out = parser.add_argument_group("output")
    out.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="default: table"
    )
    out.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    parser.set_defaults(handler=_run)


def _aliases(inventory: Inventory, resource: EncryptedResource) -> str:
    key = inventory.keys.get(resource.key_arn) if resource.key_arn else None
    return " ".join(key.aliases) if key else ""


def render_csv(inventory: Inventory, out: IO[str]) -> None:
    """One CSV row per resource (:data:`CSV_COLUMNS`)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in inventory.resources:
        writer.writerow(
            [
                r.arn,
                r.resource_type,
                r.account,
                r.region,
                r.name,
                r.key_class.value,
                r.key_arn or "",
                r.key_reference or "",
                _aliases(inventory, r),
                r.reason or "",
            ]
        )


def _key_label(inventory: Inventory, r: EncryptedResource) -> str:
    aliases = _aliases(inventory, r)
    if aliases:
        return aliases.split(" ")[0]
    if r.key_arn:
        return r.key_arn.rsplit(":", 1)[-1]
    return r.reason or ""


def render_table(inventory: Inventory, out: IO[str]) -> None:
    """A plain aligned table: type, region, name, key class, key (alias when it has one)."""
    header = ("TYPE", "REGION", "NAME", "KEY CLASS", "KEY")
    rows = [
        (r.resource_type, r.region, r.name, r.key_class.value, _key_label(inventory, r))
        for r in inventory.resources
    ]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(header[:-1])]
    for row in (header, *rows):
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        out.write("  ".join([*cells, row[-1]]).rstrip() + "\n")


def summary_lines(inventory: Inventory) -> list[str]:
    """Resources per key class, CMK coverage, keys and errors, as short lines."""
    counts = inventory.counts_by_class()
    coverage = inventory.cmk_coverage
    lines = [
        f"{len(inventory.resources)} resources in {len(inventory.regions)} region(s) of "
        f"{len(inventory.accounts)} account(s); {len(inventory.keys)} KMS keys "
        f"({sum(1 for k in inventory.keys.values() if k.is_aws_managed)} AWS-managed)",
        "  " + ", ".join(f"{kc.value}: {counts[kc]}" for kc in KeyClass),
        "  CMK coverage: "
        + (f"{coverage:.1f}%" if coverage is not None else "n/a (nothing classified)"),
    ]
    if inventory.errors:
        lines.append(f"  {len(inventory.errors)} things could not be read:")
        lines.extend(f"    {e}" for e in inventory.errors[:10])
        if len(inventory.errors) > 10:
            lines.append(f"    ... and {len(inventory.errors) - 10} more (see --format json)")
    return lines


def _run(args: argparse.Namespace) -> int:
    check_output(args.output)
    with terminal_progress() as progress:
        inventory = scan_from_args(args, progress=progress)
    with open_output(args.output) as out:
        if args.format == "json":
            out.write(inventory.to_json() + "\n")
        elif args.format == "csv":
            render_csv(inventory, out)
        else:
            render_table(inventory, out)
    # The summary goes to stderr unless the table is the output: stdout stays parseable.
    summary = "\n".join(summary_lines(inventory)) + "\n"
    if args.format == "table" and args.output in (None, "-"):
        sys.stdout.write("\n" + summary)
    else:
        sys.stderr.write(summary)
    return EXIT_OK
