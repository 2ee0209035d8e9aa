"""The policy JSON read straight from the contract, without cmkguard's parser.

Only valid policies reach the reference (the differential property skips what cmkguard
refuses), so this reader normalises rather than validates: `Statement` as one object or a list,
every string-or-list element as a tuple, condition values as text, condition keys and operator
names lower-cased where IAM ignores case, principals classified by form.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

__all__ = ["RefPrincipal", "RefStatement", "read_policy"]


@attrs.frozen
class RefPrincipal:
    """One principal value: `form` is any, account, role, user, session, federated, service or
    nobody (a unique id: it names a deleted principal, so it matches no caller)."""

    form: str
    text: str
    partition: str = ""
    account: str = ""
    role_name: str = ""
    session: str = ""

    @property
    def canonical(self) -> str:
        """How `principals_allowed` writes it (contract, "The answers the analyser gives")."""
        if self.form == "any":
            return "*"
        if self.form == "account":
            return f"arn:{self.partition}:iam::{self.account}:root"
        return self.text


@attrs.frozen
class RefCondition:
    """One `operator key values` entry: qualifier, base operator, IfExists, lower-cased key."""

    qualifier: str  # "", "forallvalues" or "foranyvalue"
    base: str  # e.g. "StringNotLike" (original case of the base name kept for display)
    if_exists: bool
    key: str
    values: tuple[str, ...]


@attrs.frozen
class RefStatement:
    index: int
    effect: str
    principals: tuple[RefPrincipal, ...]
    not_principal: bool
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[RefCondition, ...]


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _optional(value: Any) -> tuple[Any, ...]:
    """A statement lacking `Action` or `Resource` has no effect: an empty tuple."""
    return () if value is None else _tuple(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _aws_principal(text: str, key_partition: str) -> RefPrincipal:
    if text == "*":
        return RefPrincipal("any", text)
    if len(text) == 12 and text.isdigit():
        return RefPrincipal("account", text, key_partition, text)
    if not text.startswith("arn:"):
        return RefPrincipal("nobody", text)  # a unique id (AROA..., AIDA...)
    _, partition, service, _, account, resource = text.split(":", 5)
    if service == "iam" and resource == "root":
        return RefPrincipal("account", text, partition, account)
    if service == "iam" and resource.startswith(("role/", "user/")):
        return RefPrincipal(resource.split("/", 1)[0], text, partition, account)
    if service == "sts" and resource.startswith("assumed-role/"):
        _, role, session = resource.split("/", 2)
        return RefPrincipal("session", text, partition, account, role, session)
    if service == "sts" and resource.startswith("federated-user/"):
        return RefPrincipal("federated", text, partition, account)
    return RefPrincipal("nobody", text)


def _principals(value: Any, key_partition: str) -> tuple[RefPrincipal, ...]:
    if value == "*":
        return (RefPrincipal("any", "*"),)
    out: list[RefPrincipal] = []
    for kind, entries in value.items():
        for entry in _tuple(entries):
            if kind == "AWS":
                out.append(_aws_principal(entry, key_partition))
            elif kind == "Service":
                out.append(RefPrincipal("service", entry))
            else:
                out.append(RefPrincipal("nobody", entry))
    return tuple(out)


def _conditions(value: dict[str, Any] | None) -> tuple[RefCondition, ...]:
    out: list[RefCondition] = []
    for operator, block in (value or {}).items():
        qualifier = ""
        name = operator
        if ":" in operator:
            qualifier, name = operator.split(":", 1)
        if_exists = name.lower().endswith("ifexists")
        if if_exists:
            name = name[: -len("ifexists")]
        for key, values in block.items():
            texts = tuple(_text(v) for v in _tuple(values))
            out.append(RefCondition(qualifier.lower(), name, if_exists, key.lower(), texts))
    return tuple(out)


def read_policy(policy: Any, key_partition: str) -> tuple[str, tuple[RefStatement, ...]]:
    """The version (`2008-10-17` when absent) and the statements of a valid policy."""
    doc = json.loads(policy) if isinstance(policy, str) else policy
    version = doc.get("Version") or "2008-10-17"
    raw = doc["Statement"]
    out = []
    for i, st in enumerate(_tuple(raw)):
        not_principal = "NotPrincipal" in st
        principal = st.get("NotPrincipal" if not_principal else "Principal")
        not_action = "NotAction" in st
        not_resource = "NotResource" in st
        out.append(
            RefStatement(
                index=i,
                effect=st["Effect"],
                principals=_principals(principal, key_partition),
                not_principal=not_principal,
                actions=_optional(st.get("NotAction" if not_action else "Action")),
                not_action=not_action,
                resources=_optional(st.get("NotResource" if not_resource else "Resource")),
                not_resource=not_resource,
                conditions=_conditions(st.get("Condition")),
            )
        )
    return version, tuple(out)
