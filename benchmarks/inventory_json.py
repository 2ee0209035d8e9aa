"""Benchmark an inventory's JSON round trip (`Inventory.from_json` / `to_json`).

One command:

    .venv/bin/python benchmarks/inventory_json.py              # 200 copies: ~10,800 resources
    .venv/bin/python benchmarks/inventory_json.py --copies 20
    .venv/bin/python benchmarks/inventory_json.py --records    # the cost of describe records

The inventory is the saved file of tests/inventory/data (made by an earlier cmkguard), its
resources repeated `--copies` times under distinct ARNs. Prints the best of `--repeat` runs of
each direction and the machine's load. `--records` measures what keeping the scan's describe
records (`EncryptedResource.record`, what plans are made from) costs: every resource gets the
record a scan of the emulated account reads for its type (needs the `demo` extra), and the
JSON size and both directions are printed with and without them. Run it with another checkout's
interpreter for a before/after comparison (interleave the runs, so both meet the same load).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from cmkguard import Inventory

SAVED = Path(__file__).resolve().parents[1] / "tests/inventory/data/inventory-v1-before-house.json"


def big_document(copies: int, records: dict[str, Any] | None = None) -> str:
    data: dict[str, Any] = json.loads(SAVED.read_text(encoding="utf-8"))
    data["resources"] = [
        {**r, "arn": f"{r['arn']}-{i}"} for i in range(copies) for r in data["resources"]
    ]
    if records is not None:
        for r in data["resources"]:
            if r["resource_type"] in records:
                r["record"] = records[r["resource_type"]]
    return json.dumps(data)


def scanned_records() -> dict[str, Any]:
    """One describe record per resource type, as a scan of the emulated estate keeps them."""
    from cmkguard import scan
    from cmkguard.testing import EmulatedAWS, seed_estate

    with EmulatedAWS() as aws:
        seed_estate(aws)
        inventory = scan(aws.session("us-east-1"), regions=["us-east-1"])
    out: dict[str, Any] = {}
    for r in inventory.resources:
        if r.record is not None:
            out.setdefault(r.resource_type, dict(r.record))
    return out


def best_of(repeat: int, text: str) -> tuple[int, float, float]:
    load = dump = float("inf")
    count = 0
    for _ in range(repeat):
        start = time.perf_counter()
        inventory = Inventory.from_json(text)
        load = min(load, time.perf_counter() - start)
        start = time.perf_counter()
        inventory.to_json()
        dump = min(dump, time.perf_counter() - start)
        count = len(inventory.resources)
    return count, load, dump


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--records", action="store_true", help="also with describe records")
    args = parser.parse_args()
    variants = [("without records", None)]
    if args.records:
        variants.append(("with records", scanned_records()))
    for label, records in variants:
        text = big_document(args.copies, records)
        count, load, dump = best_of(args.repeat, text)
        loadavg = (
            Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
        )
        print(
            f"{count} resources {label}: {len(text.encode()) / 1e6:.1f} MB JSON, from_json "
            f"{load * 1000:.0f} ms, to_json {dump * 1000:.0f} ms "
            f"(best of {args.repeat}; loadavg {' '.join(loadavg)})"
        )


if __name__ == "__main__":
    main()
