"""`cmkguard scan`: inventory encrypted resources and KMS keys; table, JSON or CSV."""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from collections.abc import Sequence
from typing import IO

from cmkguard.auditing.org import organization_view
from cmkguard.cli._common import check_output, incomplete_exit, open_output
from cmkguard.cli._org_view import org_summary_lines
from cmkguard.cli._scan_options import add_scan_arguments, scan_from_args, terminal_progress
from cmkguard.inventory.values import EncryptedResource, Inventory, KeyClass

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
"""Columns of `--format csv` (one row per resource)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `cmkguard scan`."""
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
    """One CSV row per resource (`CSV_COLUMNS`)."""
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


def render_table(inventory: Inventory, out: IO[str], width: int | None = None) -> None:
    """A plain aligned table: type, region, name, key class, key (alias when it has one).

    `width` is the terminal's width: when the flat table would be wider (long secret names
    like `rds!db-<uuid>` make it ~115 columns), it becomes one block per resource type and
    region, names and keys shortened in the middle, so no line wraps. Files and pipes get the
    flat table (`width=None`).
    """
    header = ("TYPE", "REGION", "NAME", "KEY CLASS", "KEY")
    rows = [
        (r.resource_type, r.region, r.name, r.key_class.value, _key_label(inventory, r))
        for r in inventory.resources
    ]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(header[:-1])]
    flat = sum(widths) + 2 * len(widths) + max([len(header[-1])] + [len(r[-1]) for r in rows])
    if width is not None and flat > width and rows:
        _render_blocks(rows, out, width)
        return
    for row in (header, *rows):
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        out.write("  ".join([*cells, row[-1]]).rstrip() + "\n")


def _shorten(text: str, limit: int) -> str:
    """`text` cut in the middle to `limit` characters (both ends identify a resource)."""
    if len(text) <= limit:
        return text
    if limit < 3:
        return text[:limit]
    head = (limit - 1) // 2
    return text[:head] + "~" + text[len(text) - (limit - 1 - head) :]


_MIN_KEY_WIDTH = 18


def _render_blocks(
    rows: Sequence[tuple[str, str, str, str, str]], out: IO[str], width: int
) -> None:
    """The narrow-terminal table: a heading per (type, region), then NAME, KEY CLASS, KEY."""
    groups: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for rtype, region, name, key_class, key in rows:
        # "aws/rds" is how the console names an alias too; the prefix costs 6 columns per row.
        groups.setdefault((rtype, region), []).append((name, key_class, key.removeprefix("alias/")))
    class_w = max(len(r[3]) for r in rows)
    # indent + two separators + the key class; the rest is shared by name and key. Minus one:
    # a line exactly as wide as the terminal wraps on some terminals.
    room = max(width - 1 - (2 + 2 + class_w + 2), 20)
    for (rtype, region), items in groups.items():
        out.write(f"{rtype} in {region} ({len(items)})\n")
        name_w = max(len(i[0]) for i in items)
        key_w = max(len(i[2]) for i in items)
        if name_w + key_w > room:
            # The name is what the reader looks for: the key gives way first, down to a prefix
            # and suffix that still tell aliases apart.
            key_w = max(room - name_w, min(key_w, _MIN_KEY_WIDTH))
            name_w = room - key_w
        for name, key_class, key in items:
            line = f"  {_shorten(name, name_w).ljust(name_w)}  {key_class.ljust(class_w)}"
            out.write(f"{line}  {_shorten(key, key_w)}".rstrip() + "\n")


def summary_lines(inventory: Inventory) -> list[str]:
    """Resources per key class, CMK coverage, keys and errors, as short lines."""
    counts = inventory.counts_by_class()
    coverage = inventory.cmk_coverage
    lines = [
        f"{len(inventory.resources)} resources in {len(inventory.regions)} region(s) of "
        f"{len(inventory.accounts)} account(s); {len(inventory.keys)} KMS keys "
        f"({sum(1 for k in inventory.keys.values() if k.is_aws_managed)} AWS-managed)",
        # Two lines: on one, the five classes overflow an 80-column terminal.
        "  " + ", ".join(f"{kc.value}: {counts[kc]}" for kc in list(KeyClass)[:3]),
        "  " + ", ".join(f"{kc.value}: {counts[kc]}" for kc in list(KeyClass)[3:]),
        "  CMK coverage: "
        + (f"{coverage:.1f}%" if coverage is not None else "n/a (nothing classified)")
        + ("" if inventory.is_complete else " of what could be read (INCOMPLETE scan)"),
    ]
    if inventory.organization is not None:
        lines.extend(org_summary_lines(organization_view(inventory)))
    if inventory.errors:
        lines.append(f"  {len(inventory.errors)} things could not be read:")
        lines.extend(f"    {e}" for e in inventory.errors[:10])
        if len(inventory.errors) > 10:
            lines.append(f"    ... and {len(inventory.errors) - 10} more (see --format json)")
    return lines


def _terminal_width(out: IO[str]) -> int | None:
    """The terminal's columns when `out` is one (`COLUMNS` wins), else `None`."""
    if out is not sys.stdout or not out.isatty():
        return None
    return shutil.get_terminal_size().columns


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
            render_table(inventory, out, width=_terminal_width(out))
    # The summary goes to stderr unless the table is the output: stdout stays parseable.
    summary = "\n".join(summary_lines(inventory)) + "\n"
    if args.format == "table" and args.output in (None, "-"):
        sys.stdout.write("\n" + summary)
    else:
        sys.stderr.write(summary)
    return incomplete_exit(args, inventory.errors, "scan")
