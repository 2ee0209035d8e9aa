"""Map botocore exceptions to cmkguard's vocabulary.

Two outcomes, never a raw botocore exception leaking out of a scan:

* one call failed (AccessDenied, throttling that outlasted the retries, a region that is not
  enabled, a resource that vanished): :func:`failure` gives the ``(error_code, reason)`` that a
  :class:`~cmkguard.inventory.ScanError` records, and the scan goes on;
* AWS cannot be used at all (no credentials, the endpoint does not answer):
  :func:`access_error` gives the :class:`~cmkguard.errors.AwsAccessError` to raise.
"""

from __future__ import annotations

import botocore.exceptions as bx

from cmkguard.errors import AwsAccessError, EndpointUnreachableError, NoCredentialsError

__all__ = [
    "ACCESS_DENIED_CODES",
    "CALL_ERRORS",
    "NOT_FOUND_CODES",
    "THROTTLING_CODES",
    "access_error",
    "error_code",
    "failure",
]

CALL_ERRORS: tuple[type[BaseException], ...] = (bx.ClientError, bx.BotoCoreError)
"""What one AWS call can raise; units catch these (and only these) into ScanErrors."""

ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "UnrecognizedClientException",  # also what a region that is not enabled answers
        "InvalidClientTokenId",
        "AuthFailure",
    }
)
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
NOT_FOUND_CODES = frozenset(
    {
        "NotFoundException",
        "ResourceNotFoundException",
        "DBInstanceNotFound",
        "DBClusterNotFoundFault",
        "DBSnapshotNotFound",
        "DBClusterSnapshotNotFoundFault",
    }
)


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ``ClientError``, else the botocore exception's class name."""
    if isinstance(exc, bx.ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code else None
    return type(exc).__name__


def failure(exc: BaseException) -> tuple[str | None, str]:
    """``(error_code, reason)`` for a failed call, the reason phrased for a human."""
    code = error_code(exc)
    if isinstance(exc, bx.ClientError):
        message = exc.response.get("Error", {}).get("Message") or str(exc)
        if code in ACCESS_DENIED_CODES:
            return code, f"access denied: {message}"
        if code in THROTTLING_CODES:
            attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            return code, f"throttled (still after {attempts} retries): {message}"
        return code, f"{code}: {message}"
    if isinstance(exc, bx.EndpointConnectionError):
        return code, f"endpoint not reachable (is the region enabled and valid?): {exc}"
    if isinstance(exc, bx.NoCredentialsError):
        return code, "no AWS credentials"
    return code, f"{code}: {exc}"


def access_error(exc: BaseException, endpoint: str | None = None) -> AwsAccessError | None:
    """The :class:`AwsAccessError` meaning "AWS cannot be used at all", or ``None``."""
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return NoCredentialsError(
            "no AWS credentials found (set a profile with --profile / AWS_PROFILE, "
            "or environment credentials)"
        )
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError)):
        where = endpoint or getattr(exc, "kwargs", {}).get("endpoint_url") or "AWS"
        return EndpointUnreachableError(str(where), str(exc))
    if isinstance(exc, bx.ProfileNotFound):
        return NoCredentialsError(str(exc))
    return None
