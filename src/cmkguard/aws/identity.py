"""Who is scanning: the caller's account (one STS call that also proves reachability)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.exceptions as bx
from botocore.config import Config

from cmkguard.aws.access import AwsAccess
from cmkguard.aws.errormap import CALL_ERRORS, access_error, failure
from cmkguard.aws.session import EndpointSession, sts_client
from cmkguard.errors import AwsAccessError, ConfigurationError, NoCredentialsError

__all__ = ["caller_account", "check_role", "open_session"]

# The reachability probe fails fast: a wrong endpoint should not sit through 8 adaptive retries.
_PROBE_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5)


def open_session(
    profile: str | None = None, region: str | None = None, endpoint_url: str | None = None
) -> boto3.Session:
    """A session for a profile (default chain when ``None``), optionally bound to an endpoint.

    An unknown profile is bad input: :class:`~cmkguard.errors.NoCredentialsError`; a malformed
    ``endpoint_url`` (not ``http(s)://host[:port]``) a :class:`~cmkguard.errors.ConfigurationError`.
    """
    kwargs: dict[str, Any] = {"profile_name": profile, "region_name": region}
    if endpoint_url:
        _check_endpoint_url(endpoint_url)
    try:
        if endpoint_url:
            return EndpointSession(endpoint_url=endpoint_url, **kwargs)
        return boto3.Session(**kwargs)
    except bx.ProfileNotFound as exc:
        raise NoCredentialsError(f"{exc} (check --profile / AWS_PROFILE)") from None


def _check_endpoint_url(url: str) -> None:
    """A malformed endpoint is bad input, found before botocore fails deep inside a client."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError as exc:
        raise ConfigurationError(f"invalid endpoint URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"invalid endpoint URL {url!r}: expected http(s)://host[:port], e.g. "
            "http://127.0.0.1:5000"
        )
    del port


def caller_account(session: boto3.Session, region: str) -> str:
    """The account id of ``session``'s credentials (``sts:GetCallerIdentity``).

    Raises :class:`~cmkguard.errors.NoCredentialsError` or
    :class:`~cmkguard.errors.EndpointUnreachableError` when AWS cannot be used at all, and
    :class:`~cmkguard.errors.AwsAccessError` when the credentials are refused.
    """
    client = sts_client(session, region, config=_PROBE_CONFIG)
    try:
        account: str = client.get_caller_identity()["Account"]
    except CALL_ERRORS as exc:
        mapped = access_error(exc, getattr(client.meta, "endpoint_url", None))
        if mapped is not None:
            raise mapped from None
        _, reason = failure(exc)
        raise AwsAccessError(f"AWS refused the credentials: {reason}") from None
    return account


def check_role(access: AwsAccess) -> tuple[str, str | None] | None:
    """Assume `access`'s role chain now; `None` if it worked, else `(reason, error_code)`."""
    try:
        access.session  # noqa: B018 - building the session assumes the roles
    except CALL_ERRORS as exc:
        code, reason = failure(exc)
        return reason, code
    return None
