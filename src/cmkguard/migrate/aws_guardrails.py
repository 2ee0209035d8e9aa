"""The AWS side of applying guardrails with the migration executor: Organizations look-ups.

An SCP is known to AWS by an id that `CreatePolicy` makes up, so a plan cannot name it in
advance: the `AttachPolicy` step names the policy by its (unique) name instead,
`{"$policy-id": "<name>"}`, and the executor resolves it here just before sending the request.
The adoption probes let a run that crashed between a call and its journal entry resume: the
policy already exists (with the planned content), or is already attached.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cmkguard.migrate.aws_ops import CallFailed, Clients, call

__all__ = ["POLICY_ID_REF", "probe", "resolve_references"]

POLICY_ID_REF = "$policy-id"
"""A parameter value `{"$policy-id": NAME}` stands for the id of the SCP named NAME."""

_ORG_REGION = "us-east-1"  # Organizations is global: its endpoint lives in us-east-1


def _scps(clients: Clients) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    params: dict[str, Any] = {"Filter": "SERVICE_CONTROL_POLICY"}
    while True:
        page = call(clients, "organizations", _ORG_REGION, "ListPolicies", params)
        found.extend(page.get("Policies") or ())
        token = page.get("NextToken")
        if not token:
            return found
        params["NextToken"] = token


def policy_id(clients: Clients, name: str) -> str | None:
    """The id of the SCP named `name`, or `None`."""
    for summary in _scps(clients):
        if summary.get("Name") == name:
            return str(summary["Id"])
    return None


def resolve_references(clients: Clients, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` with every `{"$policy-id": NAME}` replaced by that SCP's id."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping) and set(value) == {POLICY_ID_REF}:
            name = str(value[POLICY_ID_REF])
            found = policy_id(clients, name)
            if found is None:
                raise CallFailed("ListPolicies", "NotFound", f"no SCP named {name!r}")
            out[key] = found
        else:
            out[key] = value
    return out


def _same_content(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


def probe(clients: Clients, spec: Mapping[str, Any]) -> bool:
    """Adoption probes `organizations-policy` (exists with this content) and
    `organizations-policy-attached` (attached to the target)."""
    kind = spec.get("probe")
    found = policy_id(clients, str(spec["name"]))
    if kind == "organizations-policy":
        if found is None:
            return False
        policy = call(clients, "organizations", _ORG_REGION, "DescribePolicy", {"PolicyId": found})[
            "Policy"
        ]
        if not _same_content(str(policy.get("Content", "")), str(spec["content"])):
            raise CallFailed(
                "CreatePolicy",
                "DuplicatePolicyException",
                f"an SCP named {spec['name']!r} exists with other content: rename the generated "
                "one (name_prefix) or update that policy yourself",
            )
        return True
    if kind == "organizations-policy-attached":
        if found is None:
            return False
        params: dict[str, Any] = {"TargetId": spec["target"], "Filter": "SERVICE_CONTROL_POLICY"}
        while True:
            page = call(clients, "organizations", _ORG_REGION, "ListPoliciesForTarget", params)
            if any(p.get("Id") == found for p in page.get("Policies") or ()):
                return True
            if not page.get("NextToken"):
                return False
            params["NextToken"] = page["NextToken"]
    raise ValueError(f"unknown adoption probe {kind!r}")
