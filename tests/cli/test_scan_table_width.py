"""``cmkguard scan``'s table on an 80-column terminal: no line wraps, names stay readable.

Found by a QA pass: the demo's flat table is ~115 columns wide (``rds!db-<uuid>`` secret names,
``rds:db-cluster-snapshot``), so every row wrapped on a standard terminal.
"""

from __future__ import annotations

import io

from cmkguard import EncryptedResource, Inventory, KeyClass
from cmkguard.cli.scan import render_table, summary_lines
from cmkguard.types import AccountId, KeyArn, Region, ResourceArn, ResourceTypeName

_KEY = "arn:aws:kms:eu-west-1:111122223333:key/2d51a6a0-0c43-4a5c-9a2b-6b3e4b6c2c30"
_NAMES = {
    "secretsmanager:secret": "rds!db-419d149f-1ba0-4c1c-8269-c5e80c95b49a",
    "rds:db-cluster-snapshot": "rds:reports-legacy-cluster-2026-11-22-14-30",
    "rds:db-instance": "orders-000",
}


def _inventory() -> Inventory:
    resources = tuple(
        EncryptedResource(
            arn=ResourceArn(f"arn:aws:x:eu-west-1:111122223333:{name}"),
            resource_type=ResourceTypeName(rtype),
            account=AccountId("111122223333"),
            region=Region("eu-west-1"),
            name=name,
            key_class=KeyClass.CROSS_ACCOUNT,
            key_arn=KeyArn(_KEY),
        )
        for rtype, name in _NAMES.items()
    )
    return Inventory(resources=resources, keys=[])


def test_table_fits_an_80_column_terminal_and_keeps_short_names_whole() -> None:
    out = io.StringIO()
    render_table(_inventory(), out, width=80)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) < 80, out.getvalue()
    assert "secretsmanager:secret in eu-west-1 (1)" in lines
    assert any(line.startswith("  orders-000  ") for line in lines)
    # a shortened name keeps both ends: the start and the unique suffix
    assert any("rds!db-419d" in line and "c5e80c95b49a" in line for line in lines)


def test_table_for_files_and_pipes_is_the_flat_one() -> None:
    out = io.StringIO()
    render_table(_inventory(), out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["TYPE", "REGION", "NAME", "KEY", "CLASS", "KEY"]
    assert any(_NAMES["secretsmanager:secret"] in line for line in lines)
    wide = io.StringIO()
    render_table(_inventory(), wide, width=200)
    assert wide.getvalue() == out.getvalue()


def test_summary_fits_an_80_column_terminal() -> None:
    lines = summary_lines(_inventory())
    assert max(len(line) for line in lines) < 80, lines
    assert any("unknown: 0" in line for line in lines)


def test_audit_table_wraps_under_its_indent_on_a_terminal() -> None:
    from cmkguard import audit
    from cmkguard.cli.audit import render_table as audit_table

    report = audit(_inventory())
    flat = audit_table(report)
    narrow = audit_table(report, width=80)
    assert flat == audit_table(report, width=None)
    assert max(len(line) for line in flat.splitlines()) > 80  # the problem being fixed
    for line in narrow.splitlines():
        # only a single unbreakable token (an ARN) may be longer than the line
        assert len(line) < 80 or len(line.split()) == 1, line
    # nothing is lost: the same words, in the same order
    assert narrow.split() == flat.split()
