"""The notebook is a page of the docs, rendered with its outputs, not a raw `.ipynb` download.

Its execution is tested by tests/auditing/test_audit_notebook.py; here: that the docs build is
set up to execute and render it (mkdocs-jupyter, no stale cache), that it is in the nav, and
that the docs extra installs the plugin.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
NOTEBOOK = "notebooks/audit-in-jupyter.ipynb"


def _mkdocs() -> dict[str, Any]:
    # mkdocs.yml may hold python tags (`!!python/name:`); none are used here, safe_load is enough.
    config: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return config


def _nav_pages(nav: list[Any]) -> list[str]:
    pages: list[str] = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages.extend(_nav_pages(value) if isinstance(value, list) else [value])
    return pages


def test_the_notebook_is_in_the_nav_and_rendered_with_fresh_outputs() -> None:
    config = _mkdocs()
    assert NOTEBOOK in _nav_pages(config["nav"])
    assert (ROOT / "docs" / NOTEBOOK).is_file()
    plugins = {
        next(iter(p)) if isinstance(p, dict) else p: (
            p[next(iter(p))] if isinstance(p, dict) else {}
        )
        for p in config["plugins"]
    }
    jupyter = plugins["mkdocs-jupyter"]
    assert jupyter["execute"] is True  # outputs computed at build time against the emulator
    assert jupyter["allow_errors"] is False  # a failing cell fails the build
    assert jupyter["cache"] is False  # the cache is keyed on the notebook, not on our code
    assert any(Path(NOTEBOOK).match(pattern) for pattern in jupyter["include"])


def test_the_docs_extra_installs_the_notebook_renderer() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    docs = project["optional-dependencies"]["docs"]
    assert any(req.startswith("mkdocs-jupyter") for req in docs)
