"""Who is scanning: the caller's account (one STS call that also proves reachability)."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.exceptions as bx
from botocore.config import Config

from cmkguard.aws.access import AwsAccess
from cmkguard.aws.errormap import (
    ACCESS_DENIED_CODES,
    CALL_ERRORS,
    THROTTLING_CODES,
    UNREADABLE_CODES,
    access_error,
    check_response,
    failure,
)
from cmkguard.aws.session import EndpointSession, check_endpoint_url, sts_client
from cmkguard.errors import AwsAccessError, NoCredentialsError

__all__ = ["caller_account", "check_role", "open_session"]

# The reachability probe fails fast: a wrong endpoint should not sit through 8 adaptive retries
# of 30 s reads; throttling still gets a few standard retries (it is not refused credentials).
_PROBE_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=5
)
_PROBE_DEADLINE_S = 15.0
"""Total time the identity check may take, retries included."""

# Codes that mean the credentials themselves were refused (anything else is another cause).
_REFUSED_CODES = ACCESS_DENIED_CODES | {
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidAccessKeyId",
    "MissingAuthenticationToken",
}


def open_session(
    profile: str | None = None, region: str | None = None, endpoint_url: str | None = None
) -> boto3.Session:
    """A session for a profile (default chain when `None`), optionally bound to an endpoint.

    An unknown profile is bad input: `NoCredentialsError`; a malformed
    `endpoint_url` (not `http(s)://host[:port]`) a `ConfigurationError`.
    """
    kwargs: dict[str, Any] = {"profile_name": profile, "region_name": region}
    if endpoint_url:
        check_endpoint_url(endpoint_url)
    try:
        if endpoint_url:
            return EndpointSession(endpoint_url=endpoint_url, **kwargs)
        return boto3.Session(**kwargs)
    except bx.ProfileNotFound as exc:
        raise NoCredentialsError(f"{exc} (check --profile / AWS_PROFILE)") from None


def caller_account(session: boto3.Session | AwsAccess, region: str) -> str:
    """The account id of `session`'s credentials (`sts:GetCallerIdentity`).

    With an `AwsAccess`, its own identity-check client is used (kept and closed with it;
    under `SharedClients` the process's shared one, signed as the access).

    Raises `NoCredentialsError` or
    `EndpointUnreachableError` when AWS cannot be used at all, and
    `AwsAccessError` when the credentials are refused.
    """
    if isinstance(session, AwsAccess):
        client = session.client("sts", region, config=_PROBE_CONFIG, deadline=_PROBE_DEADLINE_S)
    else:
        client = sts_client(session, region, config=_PROBE_CONFIG, deadline=_PROBE_DEADLINE_S)
        client.meta.events.register("after-call", check_response)
    try:
        account: str = _identity(client)["Account"]
    except CALL_ERRORS as exc:
        mapped = access_error(exc, getattr(client.meta, "endpoint_url", None))
        if mapped is not None:
            raise mapped from None
        code, reason = failure(exc)
        if code in _REFUSED_CODES:
            raise AwsAccessError(f"AWS refused the credentials: {reason}") from None
        if code in THROTTLING_CODES:
            raise AwsAccessError(
                f"the identity check (sts:GetCallerIdentity) was throttled: {reason}; "
                "try again later or lower --max-workers"
            ) from None
        raise AwsAccessError(
            f"the identity check (sts:GetCallerIdentity) failed, credentials not checked: {reason}"
        ) from None
    return account


def _identity(client: Any) -> Any:
    """`GetCallerIdentity`, asked again (twice at most) when its answer could not be read."""
    for _ in range(2):
        try:
            return client.get_caller_identity()
        except CALL_ERRORS as exc:
            if failure(exc)[0] not in UNREADABLE_CODES:
                raise
    return client.get_caller_identity()


def check_role(access: AwsAccess) -> tuple[str, str | None] | None:
    """Assume `access`'s role chain now; `None` if it worked, else `(reason, error_code)`."""
    try:
        access.session  # noqa: B018 - building the session assumes the roles
    except CALL_ERRORS as exc:
        code, reason = failure(exc)
        return reason, code
    return None
