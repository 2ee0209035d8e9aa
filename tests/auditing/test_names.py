"""`cmkguard.audit` is the function only; the package is `cmkguard.auditing`."""

from __future__ import annotations

import importlib

import pytest

import cmkguard
import cmkguard.auditing


def test_cmkguard_audit_is_the_function_not_a_package() -> None:
    assert callable(cmkguard.audit)
    assert cmkguard.audit is cmkguard.auditing.audit
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("cmkguard.audit")
