"""Sessions and clients: every AWS client cmkguard uses is built here.

Clients use botocore's *adaptive* retry mode (client-side rate limiting plus retries on
throttling), so a scan slows down instead of failing when AWS throttles it.

:class:`EndpointSession` is a ``boto3.Session`` that sends every client it builds to one endpoint
(the emulated account on 127.0.0.1, a VPC endpoint, LocalStack...). Code that takes a session
never needs to know about endpoints.
"""

from __future__ import annotations

import importlib.metadata
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sts import STSClient

__all__ = [
    "DEFAULT_CONFIG",
    "EndpointSession",
    "kms_client",
    "make_client",
    "rds_client",
    "secretsmanager_client",
    "sts_client",
]


def _version() -> str:
    # Not ``from cmkguard import __version__``: ``cmkguard/__init__`` imports the scan, which
    # imports this module, so that import would be circular.
    try:
        return importlib.metadata.version("cmkguard")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


DEFAULT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 8},
    user_agent_extra=f"cmkguard/{_version()}",
    connect_timeout=10,
    read_timeout=60,
    max_pool_connections=64,
)
"""Client configuration: adaptive retries, bounded timeouts, a pool sized for concurrent scans."""


class EndpointSession(boto3.Session):
    """A ``boto3.Session`` whose clients all go to ``endpoint_url``.

    Everything else (credentials, region, profile) behaves as in ``boto3.Session``. An explicit
    ``endpoint_url`` passed to :meth:`client` still wins.
    """

    def __init__(self, *, endpoint_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint_url = endpoint_url

    def client(self, *args: Any, **kwargs: Any) -> Any:
        """Build a client for ``endpoint_url`` unless the call names another endpoint."""
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().client(*args, **kwargs)

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        """Build a resource for ``endpoint_url`` unless the call names another endpoint."""
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().resource(*args, **kwargs)


def make_client(
    session: boto3.Session, service: str, region: str, *, config: Config | None = None
) -> Any:
    """A client for ``service`` in ``region`` with cmkguard's retry configuration.

    ``config`` is merged over :data:`DEFAULT_CONFIG` (its values win).
    """
    merged = DEFAULT_CONFIG.merge(config) if config is not None else DEFAULT_CONFIG
    return session.client(service, region_name=region, config=merged)  # type: ignore[call-overload]


def kms_client(session: boto3.Session, region: str, *, config: Config | None = None) -> KMSClient:
    """A KMS client in ``region``."""
    client: KMSClient = make_client(session, "kms", region, config=config)
    return client


def rds_client(session: boto3.Session, region: str, *, config: Config | None = None) -> RDSClient:
    """An RDS client in ``region``."""
    client: RDSClient = make_client(session, "rds", region, config=config)
    return client


def secretsmanager_client(
    session: boto3.Session, region: str, *, config: Config | None = None
) -> SecretsManagerClient:
    """A Secrets Manager client in ``region``."""
    client: SecretsManagerClient = make_client(session, "secretsmanager", region, config=config)
    return client


def sts_client(session: boto3.Session, region: str, *, config: Config | None = None) -> STSClient:
    """An STS client in ``region``."""
    client: STSClient = make_client(session, "sts", region, config=config)
    return client
