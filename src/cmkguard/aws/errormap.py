"""Map botocore exceptions to cmkguard's vocabulary.

Two outcomes, never a raw botocore exception leaking out of a scan:

* one call failed (AccessDenied, throttling that outlasted the retries, a region that is not
  enabled, a resource that vanished): `failure` gives the `(error_code, reason)` that a
  `ScanError` records, and the scan goes on;
* AWS cannot be used at all (no credentials, the endpoint does not answer):
  `access_error` gives the `AwsAccessError` to raise.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from typing import Any

import botocore.exceptions as bx
import urllib3.exceptions
from botocore.parsers import ResponseParserError

from cmkguard.errors import AwsAccessError, EndpointUnreachableError, NoCredentialsError

__all__ = [
    "ACCESS_DENIED_CODES",
    "CALL_ERRORS",
    "NOT_FOUND_CODES",
    "REQUIRED_MEMBERS",
    "THROTTLING_CODES",
    "UNREADABLE_CODES",
    "DeadlineExceededError",
    "MalformedResponseError",
    "access_error",
    "check_response",
    "error_code",
    "failure",
    "require",
]


class DeadlineExceededError(bx.BotoCoreError):
    """A call had no answer within its total deadline (every attempt and retry included)."""

    fmt = "{operation} had no answer within {seconds:g} s (total deadline, retries included)"


class MalformedResponseError(Exception):
    """A response that parsed but lacks what the API always sends (`operation`, `missing`).

    botocore parses an unparseable JSON body as `{}` (a truncated `ListSecrets` page would be
    "no secrets"): a missing result key is a failed call, never an empty answer.
    """

    def __init__(self, operation: str, missing: str, detail: str = "") -> None:
        self.operation = operation
        self.missing = missing
        self.detail = detail
        tail = f" ({detail})" if detail else ""
        super().__init__(f"{operation} answered without {missing!r}{tail}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.operation, self.missing, self.detail))


CALL_ERRORS: tuple[type[BaseException], ...] = (
    bx.ClientError,
    bx.BotoCoreError,
    # Not botocore errors, but what one call raises on an answer it cannot read: an HTML page
    # from a proxy, truncated XML, garbled bytes, a body cut short, a dropped connection.
    ResponseParserError,
    UnicodeDecodeError,
    MalformedResponseError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
)
"""What one AWS call can raise; units catch these (and only these) into ScanErrors."""

UNREADABLE_CODES = frozenset({"ResponseParserError", "UnicodeDecodeError", "MalformedResponse"})
"""The `failure` codes of an answer that arrived but could not be read (worth a second try)."""

REQUIRED_MEMBERS: Mapping[str, str] = {
    # Operations whose answer always carries this member (checked on every successful call).
    "GetCallerIdentity": "Account",
    "AssumeRole": "Credentials",
    "DescribeKey": "KeyMetadata",
    "GetKeyPolicy": "Policy",
    "GetKeyRotationStatus": "KeyRotationEnabled",
    "DescribeSecret": "ARN",
    "GetFunctionConfiguration": "FunctionName",
    # Listings: the result key, on every page.
    "ListKeys": "Keys",
    "ListAliases": "Aliases",
    "ListGrants": "Grants",
    "ListResourceTags": "Tags",
    "ListKeyRotations": "Rotations",
    "GetResources": "ResourceTagMappingList",
    "ListSecrets": "SecretList",
    "DescribeDBInstances": "DBInstances",
    "DescribeDBClusters": "DBClusters",
    "DescribeDBSnapshots": "DBSnapshots",
    "DescribeDBClusterSnapshots": "DBClusterSnapshots",
}
"""The member each operation's answer always has: absent means the body was not AWS's whole
answer (cut short, truncated, a proxy's page)."""


def require(response: Mapping[str, Any], member: str, operation: str) -> None:
    """Raise `MalformedResponseError` when `member` is not in `response`."""
    if not isinstance(response, Mapping) or member not in response:
        raise MalformedResponseError(operation, member)


def check_response(
    http_response: Any = None, parsed: Any = None, model: Any = None, **_: Any
) -> None:
    """A botocore `after-call` handler: refuse a successful answer missing its member.

    Registered on the scan's clients (`cmkguard.aws.access`), so `describe_key(...)` raises
    `MalformedResponseError` instead of returning `{}` (then `KeyError: 'KeyMetadata'`).
    """
    status = getattr(http_response, "status_code", 200)
    name = getattr(model, "name", "")
    member = REQUIRED_MEMBERS.get(name)
    if member is not None and status < 300 and isinstance(parsed, Mapping):
        require(parsed, member, name)


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
    """The AWS error code of a `ClientError`, else the botocore exception's class name."""
    if isinstance(exc, bx.ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code else None
    return type(exc).__name__


def failure(exc: BaseException) -> tuple[str | None, str]:
    """`(error_code, reason)` for a failed call, the reason phrased for a human."""
    code = error_code(exc)
    if isinstance(exc, bx.ClientError):
        message = exc.response.get("Error", {}).get("Message") or str(exc)
        if code in ACCESS_DENIED_CODES:
            return code, f"access denied: {message}"
        if code in THROTTLING_CODES:
            attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            return code, f"throttled (still after {attempts} retries): {message}"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code and code.isdigit():
            # botocore's code for a generic 5xx page (a proxy's HTML): keep one short line.
            first = message.strip().splitlines()[0][:120] if message.strip() else ""
            return code, f"HTTP {code} from the endpoint, not a service error body: {first}"
        if isinstance(status, int) and status >= 500:
            return code, f"server error {status} (still after the retries) {code}: {message}"
        return code, f"{code}: {message}"
    if isinstance(exc, ResponseParserError):
        first = str(exc).splitlines()[0] if str(exc) else "unparseable body"
        return "ResponseParserError", f"unreadable response (not the service's format): {first}"
    if isinstance(exc, UnicodeDecodeError):
        return "UnicodeDecodeError", f"garbled response (not UTF-8 at byte {exc.start})"
    if isinstance(exc, MalformedResponseError):
        return "MalformedResponse", f"incomplete response: {exc}"
    if isinstance(exc, (urllib3.exceptions.HTTPError, http.client.HTTPException)):
        return code, f"the connection failed mid-answer: {exc}"
    if isinstance(exc, bx.ReadTimeoutError):
        return code, f"no answer in time (the endpoint accepted the connection): {exc}"
    if isinstance(exc, bx.ConnectionClosedError):
        return code, f"the connection was dropped before an answer: {exc}"
    if isinstance(exc, bx.EndpointConnectionError):
        return code, f"endpoint not reachable (is the region enabled and valid?): {exc}"
    if isinstance(exc, bx.NoCredentialsError):
        return code, "no AWS credentials"
    return code, f"{code}: {exc}"


def access_error(exc: BaseException, endpoint: str | None = None) -> AwsAccessError | None:
    """The `AwsAccessError` meaning "AWS cannot be used at all", or `None`."""
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return NoCredentialsError(
            "no AWS credentials found (set a profile with --profile / AWS_PROFILE, "
            "or environment credentials)"
        )
    if isinstance(exc, (bx.ReadTimeoutError, DeadlineExceededError)):
        where = endpoint or getattr(exc, "kwargs", {}).get("endpoint_url") or "AWS"
        return EndpointUnreachableError(
            str(where), f"it accepted the connection but gave no answer in time ({exc})"
        )
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError)):
        where = endpoint or getattr(exc, "kwargs", {}).get("endpoint_url") or "AWS"
        return EndpointUnreachableError(str(where), str(exc))
    if isinstance(exc, bx.ProfileNotFound):
        return NoCredentialsError(str(exc))
    return None
