"""docs/notebooks/audit-in-jupyter.ipynb runs top to bottom against the emulated account.

The kernel is this interpreter (the project's venv), registered in a temporary Jupyter path, so
the test does not depend on which kernels the machine happens to have installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")

NOTEBOOK = Path(__file__).parents[2] / "docs" / "notebooks" / "audit-in-jupyter.ipynb"
KERNEL = "cmkguard-test-venv"


@pytest.fixture(name="kernel_name")
def _kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    jupyter = tmp_path / "jupyter"
    kernelspec.write_kernel_spec(path=str(jupyter / "kernels" / KERNEL))
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    return KERNEL


def _outputs(cell: dict[str, object]) -> list[dict[str, object]]:
    return list(cell.get("outputs", []))  # type: ignore[call-overload]


def test_notebook_executes_and_renders(kernel_name: str, tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"  # what users' Jupyter picks
    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel_name,
        timeout=180,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:  # pragma: no cover - on failure only
        if "seed_estate is being built" in str(exc):
            pytest.skip("cmkguard.testing.seed_estate is not implemented yet")
        raise
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(o.get("output_type") != "error" for c in code for o in _outputs(c))
    by_source = {c.source.splitlines()[-1]: c for c in code}
    # The inventory and the report render as HTML tables.
    for last_line in ("inventory", "report"):
        html = [o for o in _outputs(by_source[last_line]) if "text/html" in o.get("data", {})]
        assert html, last_line
        assert "<table>" in html[0]["data"]["text/html"]
    # The coverage charts render as SVG.
    for last_line in (
        'report.coverage_chart(by="resource_type")',
        'report.coverage_chart(by="region")',
    ):
        data = _outputs(by_source[last_line])[0]["data"]
        assert "image/svg+xml" in data, last_line
        assert "CMK coverage by" in data["image/svg+xml"]
