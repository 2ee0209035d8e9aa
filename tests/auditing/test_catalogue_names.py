"""The finding catalogue has one public name, `FINDING_CATALOGUE`; the old names warn."""

from __future__ import annotations

import importlib
import types

import pytest

import cmkguard
import cmkguard.auditing
import cmkguard.auditing.catalogue
from cmkguard import FINDING_CATALOGUE
from cmkguard.auditing.catalogue import _AUDIT_RULES
from cmkguard.policy.findings import _POLICY_FINDINGS


def test_one_public_name_everywhere() -> None:
    assert cmkguard.FINDING_CATALOGUE is cmkguard.auditing.FINDING_CATALOGUE
    assert cmkguard.auditing.catalogue.FINDING_CATALOGUE is FINDING_CATALOGUE
    for package, old in [
        ("cmkguard", "POLICY_FINDINGS"),
        ("cmkguard.policy", "POLICY_FINDINGS"),
        ("cmkguard.auditing", "AUDIT_RULES"),
        ("cmkguard.auditing", "RULES"),
    ]:
        assert old not in importlib.import_module(package).__all__, (package, old)


def test_the_catalogue_merges_the_audit_and_the_policy_findings() -> None:
    assert list(FINDING_CATALOGUE) == sorted(FINDING_CATALOGUE)
    assert set(FINDING_CATALOGUE) == set(_AUDIT_RULES) | set(_POLICY_FINDINGS)
    for rule_id, spec in FINDING_CATALOGUE.items():
        assert spec.id == rule_id
        if rule_id in _AUDIT_RULES:
            assert spec is _AUDIT_RULES[rule_id]
            assert spec.source == "audit"
        else:
            policy = _POLICY_FINDINGS[rule_id]
            assert (spec.source, spec.scope) == ("policy", "key+resources")
            assert (spec.severity, spec.title, spec.remediation) == (
                policy.severity,
                policy.title,
                policy.remediation,
            )
    with pytest.raises(TypeError):
        FINDING_CATALOGUE["new-rule"] = FINDING_CATALOGUE["key-unused"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("module", "name", "expected"),
    [
        ("cmkguard", "POLICY_FINDINGS", _POLICY_FINDINGS),
        ("cmkguard.policy", "POLICY_FINDINGS", _POLICY_FINDINGS),
        ("cmkguard.policy.findings", "POLICY_FINDINGS", _POLICY_FINDINGS),
        ("cmkguard.auditing", "AUDIT_RULES", _AUDIT_RULES),
        ("cmkguard.auditing", "RULES", FINDING_CATALOGUE),
        ("cmkguard.auditing.catalogue", "AUDIT_RULES", _AUDIT_RULES),
        ("cmkguard.auditing.catalogue", "RULES", FINDING_CATALOGUE),
    ],
)
def test_old_names_still_work_for_one_release_with_a_warning(
    module: str, name: str, expected: object
) -> None:
    with pytest.warns(DeprecationWarning, match=f"{name} is deprecated.*FINDING_CATALOGUE") as rec:
        value = getattr(importlib.import_module(module), name)
    assert value is expected
    assert rec[0].filename == __file__  # the warning points at the caller's line


def test_the_old_catalogue_function_returns_the_catalogue() -> None:
    with pytest.warns(DeprecationWarning, match="catalogue is deprecated"):
        from cmkguard.auditing.catalogue import catalogue  # type: ignore[attr-defined]
    assert catalogue() is FINDING_CATALOGUE


def test_auditing_catalogue_is_the_module_not_a_function() -> None:
    assert isinstance(cmkguard.auditing.catalogue, types.ModuleType)


def test_unknown_names_still_raise_attribute_error() -> None:
    modules = ("cmkguard", "cmkguard.policy", "cmkguard.auditing", "cmkguard.auditing.catalogue")
    for module in modules:
        with pytest.raises(AttributeError, match="no_such_name"):
            importlib.import_module(module).no_such_name  # noqa: B018 (the access is the test)
