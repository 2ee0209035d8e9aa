"""The resource-type registry: one module per service, each a declarative spec.

Every public module in this package that defines ``RESOURCE_TYPES`` is registered on first use,
so adding a service (EBS, S3, DynamoDB...) is one new module: see ``docs/resource-types.md``.

>>> from cmkguard.resources import get_resource_type
>>> get_resource_type("rds:db-instance").operation
'DescribeDBInstances'
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from cmkguard.errors import UnknownResourceTypeError
from cmkguard.resources.base import KeyRef, LinkedKeySource, RawResource, ResourceType
from cmkguard.types import ResourceTypeName

__all__ = [
    "KeyRef",
    "LinkedKeySource",
    "RawResource",
    "ResourceType",
    "get_resource_type",
    "registry",
    "resolve_resource_types",
]

# Modules of this package that are plumbing, not services.
_NOT_SERVICES = frozenset({"base"})
_LOCK = threading.Lock()
_REGISTRY: dict[ResourceTypeName, ResourceType] = {}


def _load() -> dict[ResourceTypeName, ResourceType]:
    with _LOCK:
        if _REGISTRY:
            return _REGISTRY
        found: dict[ResourceTypeName, ResourceType] = {}
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if info.name.startswith("_") or info.name in _NOT_SERVICES:
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            for spec in getattr(module, "RESOURCE_TYPES", ()):
                if spec.name in found:
                    raise RuntimeError(f"resource type {spec.name} registered twice")
                found[spec.name] = spec
        _REGISTRY.update(found)
        return _REGISTRY


def registry() -> Mapping[ResourceTypeName, ResourceType]:
    """Every registered resource type, by name (read-only)."""
    return MappingProxyType(_load())


def get_resource_type(name: str) -> ResourceType:
    """The spec registered as ``name``; :class:`UnknownResourceTypeError` lists the known ones."""
    types = _load()
    try:
        return types[ResourceTypeName(name.strip())]
    except KeyError:
        raise UnknownResourceTypeError(name, tuple(sorted(types))) from None


def resolve_resource_types(names: Iterable[str] | None) -> tuple[ResourceType, ...]:
    """The specs for ``names`` (all registered types for ``None``), de-duplicated in order.

    A service prefix alone (``"rds"``) selects every type of that service.
    """
    types = _load()
    if names is None:
        return tuple(types.values())
    out: list[ResourceType] = []
    for name in names:
        name = name.strip()
        if name and ":" not in name:
            matched = [t for t in types.values() if t.service == name]
            if not matched:
                raise UnknownResourceTypeError(name, tuple(sorted(types)))
        else:
            matched = [get_resource_type(name)]
        out.extend(t for t in matched if t not in out)
    return tuple(out)
