"""The Python examples of the scan's docs pages run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cmkguard.types import Region

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.DOTALL)


def test_the_getting_started_demo_example_runs(cmkguard_emulated_aws: Any, capsys: Any) -> None:
    # cmkguard_emulated_aws: the example starts its own emulator; moto's state is process-wide,
    # so it must start from a reset one, as it would in a fresh interpreter.
    exec(compile(_blocks("getting-started.md")[0], "getting-started.md", "exec"), {})
    out = capsys.readouterr().out
    assert "% on CMKs" in out
    assert "rds:db-instance" in out


def test_the_resource_types_examples_run() -> None:
    listing, new_module = _blocks("resource-types.md")[:2]
    exec(compile(listing, "resource-types.md", "exec"), {})
    namespace: dict[str, Any] = {"__name__": "efs_example"}
    exec(compile(new_module, "resource-types.md", "exec"), namespace)
    (spec,) = namespace["RESOURCE_TYPES"]
    raw = spec.parse(
        {
            "FileSystemArn": "arn:aws:elasticfilesystem:eu-west-1:1:file-system/fs-1",
            "FileSystemId": "fs-1",
            "Encrypted": True,
            "KmsKeyId": "arn:aws:kms:eu-west-1:1:key/k",
            "Tags": [{"Key": "Name", "Value": "shared"}],
        },
        Region("eu-west-1"),
    )
    assert raw.key.reference == "arn:aws:kms:eu-west-1:1:key/k"
    assert raw.tags == {"Name": "shared"}
