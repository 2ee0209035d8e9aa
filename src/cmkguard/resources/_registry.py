"""The registry behind `cmkguard.resources`: every service module of the package, loaded once."""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from cmkguard.errors import ConfigurationError, UnknownResourceTypeError
from cmkguard.resources.base import ResourceType
from cmkguard.types import ResourceTypeName

__all__ = ["get_resource_type", "registry", "resolve_resource_types"]

_PACKAGE_DIR = Path(__file__).parent
# Modules of this package that are plumbing, not services (private ones are skipped too).
_NOT_SERVICES = frozenset({"base"})
_LOCK = threading.Lock()
_REGISTRY: dict[ResourceTypeName, ResourceType] = {}


def _load() -> dict[ResourceTypeName, ResourceType]:
    with _LOCK:
        if _REGISTRY:
            return _REGISTRY
        found: dict[ResourceTypeName, ResourceType] = {}
        for info in sorted(pkgutil.iter_modules([str(_PACKAGE_DIR)]), key=lambda m: m.name):
            if info.name.startswith("_") or info.name in _NOT_SERVICES:
                continue
            module = importlib.import_module(f"{__package__}.{info.name}")
            for rtype in getattr(module, "RESOURCE_TYPES", ()):
                if rtype.name in found:
                    raise RuntimeError(f"resource type {rtype.name} registered twice")
                found[rtype.name] = rtype
        _REGISTRY.update(found)
        return _REGISTRY


def registry() -> Mapping[ResourceTypeName, ResourceType]:
    """Every registered resource type, by name (read-only)."""
    return MappingProxyType(_load())


def get_resource_type(name: str) -> ResourceType:
    """The resource type registered as `name`; `UnknownResourceTypeError` lists the known ones."""
    types = _load()
    try:
        return types[ResourceTypeName(name.strip())]
    except KeyError:
        raise UnknownResourceTypeError(name, tuple(sorted(types))) from None


def resolve_resource_types(names: Iterable[str] | None) -> tuple[ResourceType, ...]:
    """The resource types for `names` (all registered ones for `None`), de-duplicated in order.

    A service prefix alone (`"rds"`) selects every type of that service.
    """
    types = _load()
    if names is None:
        return tuple(types.values())
    if isinstance(names, str):
        # A str is iterable: "rds" would be read as the types "r", "d", "s".
        raise ConfigurationError(
            f"resource types must be a list of names, not the string {names!r} (write [{names!r}])"
        )
    out: list[ResourceType] = []
    for name in names:
        if not isinstance(name, str):
            raise ConfigurationError(f"resource type {name!r} is not a type name (a str)")
        name = name.strip()
        if name and ":" not in name:
            matched = [t for t in types.values() if t.service == name]
            if not matched:
                raise UnknownResourceTypeError(name, tuple(sorted(types)))
        else:
            matched = [get_resource_type(name)]
        out.extend(t for t in matched if t not in out)
    return tuple(out)
