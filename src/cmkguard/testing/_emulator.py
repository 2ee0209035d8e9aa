"""`EmulatedAWS`: moto's threaded server on 127.0.0.1, made realistic, with sessions per account."""

from __future__ import annotations

import os
import threading
import urllib.request
from collections.abc import Iterable, Mapping
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session

from cmkguard.aws.session import EndpointSession, make_client
from cmkguard.errors import ConfigurationError
from cmkguard.testing import _moto
from cmkguard.testing._faults import FaultInjector
from cmkguard.testing._middleware import EmulatorMiddleware

if TYPE_CHECKING:
    from datetime import datetime
    from typing import Self

__all__ = ["DEFAULT_ACCOUNTS", "EmulatedAWS"]

DEFAULT_ACCOUNTS = ("111122223333", "444455556666")
"""The primary account and a second account, as used across cmkguard's tests and docs."""

_PRIMARY_ACCESS_KEY = "AKIAEMULATEDCMKGUARD"
_PRIMARY_SECRET_KEY = "emulated-secret-access-key"
_ROLE_NAME = "cmkguard-emulated-admin"


_LOADER_LOCK = threading.Lock()
_shared_loader: Any = None


def _loader() -> Any:
    """One botocore data loader for all the emulator's sessions (loading models is slow)."""
    global _shared_loader
    with _LOADER_LOCK:
        if _shared_loader is None:
            _shared_loader = botocore.session.get_session().get_component("data_loader")
        return _shared_loader


def _isolated_botocore_session() -> botocore.session.Session:
    """A botocore session that ignores the user's profile, config files and endpoint settings.

    The emulator's sessions must never pick up `AWS_PROFILE` (a missing profile would even
    raise), a shared credentials file, or `AWS_ENDPOINT_URL*`: they talk to 127.0.0.1 only, with
    the fake credentials the emulator hands out. Nothing in `os.environ` is changed.
    """
    session = botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
            "ignore_configured_endpoint_urls": (None, None, True, None),
        }
    )
    session.register_component("data_loader", _loader())
    return session


def _quiet_handler(handler: Any) -> Any:
    """moto's request handler without werkzeug's access log line per request on stderr."""

    class QuietHandler(handler):  # type: ignore[misc]
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            """Do not log successful requests (tests and the demo would drown in them)."""

    return QuietHandler


class EmulatedAWS:
    """An emulated AWS estate on loopback: moto's `ThreadedMotoServer` on `127.0.0.1`.

    Use it as a context manager (or call `start` and `stop`):

    ```python
    with EmulatedAWS() as aws:
        kms = aws.client("kms", region="eu-west-1")
        kms.create_key(Description="demo")
    ```

    Compared to bare moto it:

    * acts in `accounts` (the first is the primary account; any credentials it does not know,
      e.g. `AWS_ACCESS_KEY_ID=testing`, act there too); `session` for another account
      assumes a role in that account through STS;
    * makes AWS-managed keys real: `alias/aws/rds` and `alias/aws/secretsmanager` appear on
      first use, with `KeyManager=AWS`, yearly rotation and AWS's key policy, and RDS resources
      on the default key name that key instead of moto's `'default_kms_key_id'`;
    * adds `latency_ms` to every AWS request on the server side (requests overlap);
    * counts requests per `(service, operation)` (`request_counts`).

    Fixes of moto's in-process behaviour are process-wide while an emulator runs (moto's state is
    process-wide too). Needs the `demo` extra (moto).
    """

    def __init__(
        self,
        accounts: Iterable[str] = DEFAULT_ACCOUNTS,
        *,
        latency_ms: float = 0,
    ) -> None:
        self.accounts: tuple[str, ...] = tuple(accounts)
        if not self.accounts:
            raise ConfigurationError("EmulatedAWS needs at least one account")
        bad = [a for a in self.accounts if not (len(a) == 12 and a.isdigit())]
        if bad:
            raise ConfigurationError(f"not a 12-digit account id: {bad[0]!r}")
        if latency_ms < 0:
            raise ConfigurationError(f"latency_ms must be >= 0, not {latency_ms}")
        self._latency_ms = latency_ms
        self._server: Any = None
        self._middleware: EmulatorMiddleware | None = None
        self._endpoint_url: str | None = None
        self._credentials: dict[str, tuple[str, str, str | None]] = {}
        self._lock = threading.Lock()
        self._faults = FaultInjector()

    @property
    def faults(self) -> FaultInjector:
        """The fault injector in front of the emulator (see `cmkguard.testing.Fault`).

        Empty by default; `reset` clears it. Faults apply to every client on the server
        side, like latency.
        """
        return self._faults

    @property
    def primary_account(self) -> str:
        """The first account: where sessions and clients act unless told otherwise."""
        return self.accounts[0]

    @property
    def endpoint_url(self) -> str:
        """`http://127.0.0.1:<port>` of the running server."""
        if self._endpoint_url is None:
            raise RuntimeError("EmulatedAWS is not running: call start() or use it in a with block")
        return self._endpoint_url

    @property
    def latency_ms(self) -> float:
        """Delay added to every AWS request, in milliseconds.

        Settable while running, e.g. seed an estate at 0 ms, then scan it at 50 ms.
        """
        return self._latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        if value < 0:
            raise ConfigurationError(f"latency_ms must be >= 0, not {value}")
        self._latency_ms = value
        if self._middleware is not None:
            self._middleware.latency_s = value / 1000.0

    @property
    def running(self) -> bool:
        """Whether the server is up."""
        return self._endpoint_url is not None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the server on a free port of 127.0.0.1 and return `self`."""
        if self._server is not None:
            return self
        server_module = _moto.moto_module("server")
        _moto.install_patches()
        try:
            server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            wsgi_server = server._server  # werkzeug's server: the one place with the bound port
            middleware = EmulatorMiddleware(
                wsgi_server.app,
                primary_account=self.primary_account,
                accounts=self.accounts,
                latency_s=self._latency_ms / 1000.0,
            )
            # Swapped in before anyone knows the port, so no request can bypass it.
            wsgi_server.app = self._faults.wrap(middleware)
            wsgi_server.RequestHandlerClass = _quiet_handler(wsgi_server.RequestHandlerClass)
            host, port = server.get_host_and_port()
        except BaseException:
            _moto.uninstall_patches()
            raise
        self._server = server
        self._middleware = middleware
        self._endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop the server (idempotent). moto's in-process state is kept until `reset`."""
        server, self._server = self._server, None
        if server is None:
            return
        self._endpoint_url = None
        self._middleware = None
        self._credentials.clear()
        try:
            server.stop()
        finally:
            _moto.uninstall_patches()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every resource in every account and region (`POST /moto-api/reset`), and
        every injected fault.

        Sessions handed out before keep acting in their account (the emulator remembers whose
        credentials they are), though STS no longer knows their role; new sessions assume the
        role afresh. Request counts are kept (see `reset_request_counts`).
        """
        self._faults.clear()
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        with self._lock:
            self._credentials.clear()
        if self._middleware is not None:
            self._middleware.hooks.clear()  # an emulated organisation's rules go with it

    def add_accounts(self, accounts: Iterable[str]) -> None:
        """Emulate more accounts (an emulated organisation's members), also while running."""
        new = [a for a in accounts if a not in self.accounts]
        bad = [a for a in new if not (len(a) == 12 and a.isdigit())]
        if bad:
            raise ConfigurationError(f"not a 12-digit account id: {bad[0]!r}")
        self.accounts = (*self.accounts, *new)
        if self._middleware is not None:
            self._middleware.accounts = self.accounts

    # -- sessions ----------------------------------------------------------------------------

    def _require_middleware(self) -> EmulatorMiddleware:
        if self._middleware is None:
            raise RuntimeError("EmulatedAWS is not running: call start() or use it in a with block")
        return self._middleware

    def _account_credentials(self, account: str) -> tuple[str, str, str | None]:
        with self._lock:
            cached = self._credentials.get(account)
        if cached is not None:
            return cached
        middleware = self._require_middleware()
        if account == self.primary_account:
            creds: tuple[str, str, str | None] = (_PRIMARY_ACCESS_KEY, _PRIMARY_SECRET_KEY, None)
        else:
            sts = self.client("sts")
            response = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{_ROLE_NAME}",
                RoleSessionName="cmkguard-emulated",
            )
            c = response["Credentials"]
            creds = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        middleware.register_access_key(creds[0], account)
        with self._lock:
            self._credentials[account] = creds
        return creds

    def session(self, region: str = "us-east-1", account: str | None = None) -> boto3.Session:
        """A session (an `EndpointSession`) acting in `account`.

        `account` defaults to the primary account; any other account of `accounts` is
        reached with credentials from `sts:AssumeRole` into a role of that account.
        """
        account = self.primary_account if account is None else account
        if account not in self.accounts:
            raise ConfigurationError(
                f"account {account!r} is not emulated (accounts: {', '.join(self.accounts)})"
            )
        access_key, secret_key, token = self._account_credentials(account)
        return EndpointSession(
            endpoint_url=self.endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=token,
            region_name=region,
            botocore_session=_isolated_botocore_session(),
        )

    def client(self, service: str, region: str = "us-east-1", account: str | None = None) -> Any:
        """A client for `service` in `region` and `account` (cmkguard's retry config)."""
        return make_client(self.session(region, account), service, region)

    # -- time travel ---------------------------------------------------------------------------

    def record_automatic_rotation(
        self,
        key_id: str,
        at: datetime,
        *,
        region: str = "us-east-1",
        account: str | None = None,
    ) -> None:
        """Record that KMS rotated `key_id` automatically at `at` (it then lists in
        `ListKeyRotations` with `RotationType` `AUTOMATIC`).

        moto never rotates a key on its own (no time passes in the emulator) and
        `RotateKeyOnDemand` records `ON_DEMAND` rotations only, so this writes the entry KMS
        would have written into moto's backend, server-side, for every client to see.
        """
        backend = _moto.kms_backend(account or self.primary_account, region)
        key = backend.keys[backend.get_key_id(key_id)]
        key.rotations.append(
            {"KeyId": key.id, "RotationDate": at.timestamp(), "RotationType": "AUTOMATIC"}
        )

    # -- request counts ----------------------------------------------------------------------

    def request_counts(self) -> Mapping[tuple[str, str], int]:
        """AWS requests the server answered, per `(service, operation)`, e.g.
        `("kms", "DescribeKey")` (a read-only snapshot)."""
        return MappingProxyType(self._require_middleware().request_counts())

    def reset_request_counts(self) -> None:
        """Set every request count back to zero."""
        self._require_middleware().reset_request_counts()

    def __repr__(self) -> str:
        where = self._endpoint_url or "stopped"
        return f"EmulatedAWS(accounts={self.accounts!r}, latency_ms={self.latency_ms}, {where})"
