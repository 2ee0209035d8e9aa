"""KMS `CreateGrant` as AWS validates it, where moto does not.

moto stores a grant's `Constraints` faithfully (and `ListGrants` returns them as given), but it
accepts an encryption-context constraint on a grant for operations that take no encryption
context (`Sign`, `Verify`, `GenerateMac`...), which AWS refuses ("The encryption context grant
constraints are supported only on grant operations that include an EncryptionContext
parameter", API Reference, `CreateGrant`). The emulator answers such a request with AWS's
`ValidationException`, using the same rule as the grant analyser; so it does for a constraint on
an asymmetric or HMAC key ("You cannot use an encryption context grant constraint for
cryptographic operations with asymmetric KMS keys or HMAC KMS keys").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from cmkguard.errors import PolicyParseError
from cmkguard.policy._grant_constraints import parse_constraints
from cmkguard.testing import _moto

__all__ = ["create_grant_refusal", "validation_error"]


def _key_spec(account: str, region: str, key_id: Any) -> str | None:
    if not isinstance(key_id, str) or key_id.startswith("alias/") or ":alias/" in key_id:
        return None  # moto resolves aliases itself; the operation rule still applies
    backend = _moto.kms_backend(account, region)
    key = backend.keys.get(backend.get_key_id(key_id))
    spec = getattr(key, "key_spec", None)
    return spec if isinstance(spec, str) else None


def create_grant_refusal(body: Mapping[str, Any], account: str, region: str) -> str | None:
    """Why AWS would refuse this `CreateGrant` request body's constraints, if it would: an
    encryption-context constraint on an operation, or a key (asymmetric, HMAC), that takes
    no encryption context."""
    constraints = body.get("Constraints")
    operations = body.get("Operations")
    if constraints is None or not isinstance(operations, list):
        return None
    spec = _key_spec(account, region, body.get("KeyId"))
    try:
        parse_constraints(constraints, tuple(str(op) for op in operations), "Constraints", spec)
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
