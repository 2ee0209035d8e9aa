"""KMS `CreateGrant` as AWS validates it, where moto does not.

moto stores a grant's `Constraints` faithfully (and `ListGrants` returns them as given), but it
accepts an encryption-context constraint on a grant for operations that take no encryption
context (`Sign`, `Verify`, `GenerateMac`...), which AWS refuses ("The encryption context grant
constraints are supported only on grant operations that include an EncryptionContext
parameter", API Reference, `CreateGrant`). The emulator answers such a request with AWS's
`ValidationException`, using the same rule as the grant analyser.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from cmkguard.errors import PolicyParseError
from cmkguard.policy._grant_constraints import parse_constraints

__all__ = ["create_grant_refusal", "validation_error"]


def create_grant_refusal(body: Mapping[str, Any]) -> str | None:
    """Why AWS would refuse this `CreateGrant` request body's constraints, if it would."""
    constraints = body.get("Constraints")
    operations = body.get("Operations")
    if constraints is None or not isinstance(operations, list):
        return None
    try:
        parse_constraints(constraints, tuple(str(op) for op in operations), "Constraints")
    except PolicyParseError as exc:
        return f"1 validation error detected: {exc}"
    return None


def validation_error(start_response: Callable[..., Any], message: str) -> list[bytes]:
    """A KMS `ValidationException` response (JSON protocol)."""
    body = json.dumps({"__type": "ValidationException", "message": message}).encode()
    start_response(
        "400 Bad Request",
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))],
    )
    return [body]
