"""Sessions and clients: every AWS client cmkguard uses is built here.

Clients use botocore's *standard* retry mode (up to 8 attempts, exponential backoff with
jitter on throttling, 5xx and dropped connections), so a scan slows down instead of failing
when AWS throttles it.

`EndpointSession` is a `boto3.Session` that sends every client it builds to one endpoint
(the emulated account on 127.0.0.1, a VPC endpoint, LocalStack...). Code that takes a session
never needs to know about endpoints.
"""

from __future__ import annotations

import importlib.metadata
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from cmkguard.aws.errormap import DeadlineExceededError
from cmkguard.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sts import STSClient

__all__ = [
    "CALL_DEADLINE_S",
    "DEFAULT_CONFIG",
    "EndpointSession",
    "check_endpoint_url",
    "kms_client",
    "make_client",
    "rds_client",
    "secretsmanager_client",
    "sts_client",
]


def _version() -> str:
    # Not `from cmkguard import __version__`: `cmkguard/__init__` imports the scan, which
    # imports this module, so that import would be circular.
    try:
        return importlib.metadata.version("cmkguard")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


# Standard, not adaptive: adaptive mode's client-side limiter is one token bucket per client,
# and a client is shared by every thread of a scan. A throttle early in a client's life (its
# measured send rate still ~0) drops that bucket to botocore's floor of 0.5 requests/s, so one
# throttled call slows every later call of that service and region (benchmarks/faults.py:
# 20 % throttling took 33.7 s adaptive vs 11.9 s standard, clean 1.9 s). Pacing *before* AWS
# throttles is `cmkguard.aws.ratelimit`'s job (org scans), per account, region and service.
DEFAULT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    user_agent_extra=f"cmkguard/{_version()}",
    connect_timeout=10,
    read_timeout=30,
    max_pool_connections=64,
)
"""Client configuration: standard retries, bounded timeouts, a pool sized for concurrent scans."""

CALL_DEADLINE_S = 120.0
"""Total time one call may take, every attempt and retry included (see `install_deadline`).

botocore bounds each attempt (connect and read timeouts) but not the sum: an endpoint that
accepts connections and never answers would cost `max_attempts` read timeouts."""

_CALL = threading.local()


def install_deadline(client: Any, seconds: float = CALL_DEADLINE_S) -> None:
    """Give every call of `client` a total deadline of `seconds`.

    The deadline starts at `before-call` and is checked before each attempt is sent
    (`before-send`); past it, the call raises `DeadlineExceededError` instead of retrying
    again. A client call runs in one thread from start to end, so a thread-local holds it.
    """
    events = client.meta.events

    def start(model: Any = None, **_: Any) -> None:
        _CALL.deadline = time.monotonic() + seconds
        _CALL.operation = getattr(model, "name", "the call")

    def check(**_: Any) -> None:
        deadline = getattr(_CALL, "deadline", None)
        if deadline is not None and time.monotonic() > deadline:
            raise DeadlineExceededError(operation=_CALL.operation, seconds=seconds)

    events.register("before-call", start, unique_id="cmkguard-deadline-start")
    events.register_first("before-send", check, unique_id="cmkguard-deadline-check")


def check_endpoint_url(url: object) -> None:
    """A malformed endpoint is bad input, found before botocore fails deep inside a client."""
    if not isinstance(url, str):
        raise ConfigurationError(f"invalid endpoint URL {url!r}: not a string")
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


class EndpointSession(boto3.Session):
    """A `boto3.Session` whose clients all go to `endpoint_url`.

    Everything else (credentials, region, profile) behaves as in `boto3.Session`. An explicit
    `endpoint_url` passed to `client` still wins.
    """

    def __init__(self, *, endpoint_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint_url = endpoint_url

    def client(self, *args: Any, **kwargs: Any) -> Any:
        """Build a client for `endpoint_url` unless the call names another endpoint."""
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().client(*args, **kwargs)

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        """Build a resource for `endpoint_url` unless the call names another endpoint."""
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().resource(*args, **kwargs)


def make_client(
    session: boto3.Session,
    service: str,
    region: str,
    *,
    config: Config | None = None,
    deadline: float = CALL_DEADLINE_S,
) -> Any:
    """A client for `service` in `region` with cmkguard's retry configuration.

    `config` is merged over `DEFAULT_CONFIG` (its values win); every call has a total
    `deadline` in seconds (`install_deadline`).
    """
    merged = DEFAULT_CONFIG.merge(config) if config is not None else DEFAULT_CONFIG
    client = session.client(service, region_name=region, config=merged)  # type: ignore[call-overload]
    install_deadline(client, deadline)
    return client


def kms_client(session: boto3.Session, region: str, *, config: Config | None = None) -> KMSClient:
    """A KMS client in `region`."""
    client: KMSClient = make_client(session, "kms", region, config=config)
    return client


def rds_client(session: boto3.Session, region: str, *, config: Config | None = None) -> RDSClient:
    """An RDS client in `region`."""
    client: RDSClient = make_client(session, "rds", region, config=config)
    return client


def secretsmanager_client(
    session: boto3.Session, region: str, *, config: Config | None = None
) -> SecretsManagerClient:
    """A Secrets Manager client in `region`."""
    client: SecretsManagerClient = make_client(session, "secretsmanager", region, config=config)
    return client


def sts_client(
    session: boto3.Session,
    region: str,
    *,
    config: Config | None = None,
    deadline: float = CALL_DEADLINE_S,
) -> STSClient:
    """An STS client in `region`."""
    client: STSClient = make_client(session, "sts", region, config=config, deadline=deadline)
    return client
