"""The package's metadata is that of a well-kept library (no build, no network: pyproject.toml
and the sources are read as they are)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import cmkguard
from cmkguard.errors import ConfigurationError
from cmkguard.testing._moto_loader import MOTO_SUPPORTED, check_moto_version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_project_urls() -> None:
    urls = PROJECT["project"]["urls"]
    assert set(urls) == {"Homepage", "Documentation", "Repository", "Issues", "Changelog"}
    assert all(u.startswith("https://") for u in urls.values())


def test_classifiers() -> None:
    classifiers = PROJECT["project"]["classifiers"]
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    for version in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Topic :: Security" in classifiers
    assert "Typing :: Typed" in classifiers
    assert classifiers == sorted(classifiers)


def test_license() -> None:
    assert PROJECT["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a pointer to it
    assert (ROOT / "src/cmkguard/py.typed").exists()


def test_version_has_one_source() -> None:
    assert "version" not in PROJECT["project"]
    assert PROJECT["project"]["dynamic"] == ["version"]
    path = PROJECT["tool"]["hatch"]["version"]["path"]
    source = (ROOT / path).read_text(encoding="utf-8")
    assert re.search(rf'__version__ = "{re.escape(cmkguard.__version__)}"', source)


def test_demo_extra_is_the_checked_moto_range() -> None:
    (low, high) = MOTO_SUPPORTED
    wanted = f"moto[server]>={'.'.join(map(str, low))},<{high[0]}"
    assert PROJECT["project"]["optional-dependencies"]["demo"] == [wanted]


@pytest.mark.parametrize("version", ["5.2.5", "5.2.6", "5.3.0.dev4", "5.99.1"])
def test_supported_moto_is_accepted(version: str) -> None:
    check_moto_version(version)


@pytest.mark.parametrize("version", ["5.2.4", "5.1.0", "4.2.14", "6.0.0", "6.1.0rc1"])
def test_unsupported_moto_is_refused_with_the_fix(version: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"moto {re.escape(version)} is installed"):
        check_moto_version(version)


def test_the_pytest_plugin_is_registered() -> None:
    plugins = PROJECT["project"]["entry-points"]["pytest11"]
    assert plugins == {"cmkguard": "cmkguard.testing.pytest_plugin"}
