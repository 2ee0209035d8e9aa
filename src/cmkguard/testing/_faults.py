"""Fault injection for the emulated account: the failures real AWS (and the network) produce.

A `FaultInjector` is a WSGI layer in front of the emulator's middleware, so every client
(cmkguard's scan, a user's bot, the AWS CLI) meets the same faults, on the server side. Each
`Fault` selects requests by service, region, operation and account, and fires at a
`rate` (seeded) or on a schedule (the `first` N matching requests, after `skip`).

The shapes are the ones AWS sends, per protocol (read from botocore's service model): a query
service (RDS, STS) answers an XML `<ErrorResponse>`, a JSON service (KMS, Secrets Manager,
the tagging API) a `{"__type": ...}` body, a REST-JSON service (Lambda) a JSON body with the
`x-amzn-ErrorType` header. Transport faults are real too: a reset closes the TCP connection
with `SO_LINGER` 0 (an RST), a body "cut short" sends the full headers and half the body and
then drops the connection.

Rate decisions are deterministic: a request faults when a hash of `(seed, fault, request,
how many times this same request was seen)` falls under `rate`, so concurrent requests
arriving in any order fault alike, and a retry of a faulted request is a new draw. Schedules
(`first`/`skip`) count matching requests in arrival order.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import io
import json
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs
import botocore.exceptions
import botocore.loaders

from cmkguard.errors import ConfigurationError
from cmkguard.testing._empty_pages import empty_page, is_listing, restore_token
from cmkguard.testing._middleware import RequestInfo, parse_request

if TYPE_CHECKING:
    from cmkguard.testing._middleware import EmulatorMiddleware

__all__ = ["Fault", "FaultInjector", "FaultKind"]

StartResponse = Callable[..., Any]


class FaultKind(enum.Enum):
    """What a `Fault` does to a request it selects."""

    THROTTLE = "throttle"
    """The service's throttling error (`Throttling`, `ThrottlingException`, HTTP 429...)."""
    ACCESS_DENIED = "access-denied"
    """`AccessDenied` / `AccessDeniedException` naming the IAM action."""
    SERVER_ERROR = "server-error"
    """A 5xx with the protocol's error body (`InternalFailure`, `KMSInternalException`...)."""
    HTML_ERROR = "html-error"
    """A 5xx HTML page, as a proxy or load balancer sends (`<!DOCTYPE html>...`)."""
    CONNECTION_RESET = "connection-reset"
    """The TCP connection is reset before any response."""
    LATENCY = "latency"
    """`latency_ms` more before the (correct) answer."""
    TRUNCATED_BODY = "truncated-body"
    """A complete HTTP response whose body is cut to `fraction` of its length."""
    GARBLED_BODY = "garbled-body"
    """The body with invalid UTF-8 bytes written over its middle."""
    CUT_SHORT = "cut-short"
    """Full headers (the real `Content-Length`), `fraction` of the body, then a reset."""
    EMPTY_PAGE = "empty-page"
    """A page of a paged listing with no items and a next token that resumes the listing
    where the request was (AWS sends these; `first=N` makes a run of N)."""


_REPLACES_RESPONSE = frozenset(
    {
        FaultKind.THROTTLE,
        FaultKind.ACCESS_DENIED,
        FaultKind.SERVER_ERROR,
        FaultKind.HTML_ERROR,
        FaultKind.CONNECTION_RESET,
    }
)


def _kind(value: FaultKind | str) -> FaultKind:
    try:
        return FaultKind(value)
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        raise ConfigurationError(f"unknown fault kind {value!r} (known: {known})") from None


def _rate(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigurationError(f"fault rate must be a number in [0, 1], not {value!r}")
    return float(value)


def _optional_count(value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ConfigurationError(f"fault 'first' must be an int >= 0 or None, not {value!r}")
    return value


def _count(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"fault 'skip' must be an int >= 0, not {value!r}")
    return value


def _fraction(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigurationError(f"fault fraction must be in [0, 1), not {value!r}")
    return float(value)


def _latency(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigurationError(f"fault latency_ms must be >= 0, not {value!r}")
    return float(value)


def _status(value: int | None) -> int | None:
    if value is not None and (not isinstance(value, int) or not 500 <= value <= 599):
        raise ConfigurationError(f"fault status must be a 5xx code or None, not {value!r}")
    return value


@attrs.frozen
class Fault:
    """One fault: what to do (`kind`), to which requests, and how often.

    Selection (`None` matches anything): `service` is the signing name of the request
    (`"kms"`, `"rds"`, `"secretsmanager"`, `"sts"`, `"tagging"`, `"lambda"`),
    `operation` the API name (`"ListSecrets"`), `region` and `account` where it acts.
    Frequency: each matching request faults with probability `rate` (seeded by the
    injector's seed); `first=N` limits the fault to the first N matching requests (a
    schedule), after `skip` matching requests pass untouched.
    `latency_ms` is the delay of a `LATENCY` fault; `fraction` how much of the body a
    `TRUNCATED_BODY` or `CUT_SHORT` fault keeps; `status` the code of a
    `SERVER_ERROR`/`HTML_ERROR` (default 500 and 502).
    """

    kind: FaultKind = attrs.field(converter=_kind)
    service: str | None = None
    operation: str | None = None
    region: str | None = None
    account: str | None = None
    rate: float = attrs.field(default=1.0, converter=_rate)
    first: int | None = attrs.field(default=None, converter=_optional_count)
    skip: int = attrs.field(default=0, converter=_count)
    latency_ms: float = attrs.field(default=1000.0, converter=_latency)
    fraction: float = attrs.field(default=0.5, converter=_fraction)
    status: int | None = attrs.field(default=None, converter=_status)

    def selects(self, service: str, operation: str, region: str, account: str) -> bool:
        """Whether a request to `service`'s `operation` in `region`, acting in `account`, is
        one this fault applies to (before its rate and schedule)."""
        return (
            (self.service is None or self.service == service)
            and (self.operation is None or self.operation == operation)
            and (self.region is None or self.region == region)
            and (self.account is None or self.account == account)
        )

    def __str__(self) -> str:
        where = "/".join(
            p or "*" for p in (self.account, self.region, self.service, self.operation)
        )
        when = f"first {self.first} after {self.skip}" if self.first is not None else ""
        rate = f"{self.rate:.0%}" if self.rate < 1 else ""
        return f"{self.kind.value} on {where} " + " ".join(p for p in (rate, when) if p)


# -- response shapes -----------------------------------------------------------------------

_MODEL_NAMES = {"tagging": "resourcegroupstaggingapi", "monitoring": "cloudwatch"}
_IAM_PREFIXES = {"tagging": "tag", "monitoring": "cloudwatch"}


@functools.cache
def _protocol(service: str) -> tuple[str, str]:
    """`(protocol, xml namespace)` of a signing name, from botocore's model."""
    try:
        model = botocore.loaders.create_loader().load_service_model(
            _MODEL_NAMES.get(service, service), "service-2"
        )
    except botocore.exceptions.DataNotFoundError:
        return "json", ""
    metadata = model.get("metadata", {})
    return str(metadata.get("protocol", "json")), str(metadata.get("xmlNamespace", ""))


_THROTTLE_CODES = {"query": "Throttling", "tagging": "ThrottledException"}
_SERVER_CODES = {
    "kms": "KMSInternalException",
    "secretsmanager": "InternalServiceError",
    "tagging": "InternalServiceException",
    "lambda": "ServiceException",
}


def _request_id() -> str:
    return str(uuid.uuid4())


def _error_response(
    info: RequestInfo, account: str, status: int, code: str, message: str
) -> tuple[str, list[tuple[str, str]], bytes]:
    protocol, namespace = _protocol(info.service)
    request_id = _request_id()
    if protocol in ("query", "ec2"):
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    elif protocol == "rest-json":
        body = json.dumps({"Type": "User", "message": message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)]
    reason = {400: "Bad Request", 403: "Forbidden", 429: "Too Many Requests"}.get(status, "Error")
    return f"{status} {reason}", headers, body


def _throttle(info: RequestInfo, account: str) -> tuple[str, list[tuple[str, str]], bytes]:
    protocol, _ = _protocol(info.service)
    if protocol == "rest-json":
        return _error_response(info, account, 429, "TooManyRequestsException", "Rate exceeded")
    code = _THROTTLE_CODES.get(
        "query" if protocol == "query" else info.service, "ThrottlingException"
    )
    return _error_response(info, account, 400, code, "Rate exceeded")


def _denied(info: RequestInfo, account: str) -> tuple[str, list[tuple[str, str]], bytes]:
    protocol, _ = _protocol(info.service)
    action = f"{_IAM_PREFIXES.get(info.service, info.service)}:{info.operation}"
    message = (
        f"User: arn:aws:sts::{account}:assumed-role/cmkguard-faults/session is not authorized "
        f"to perform: {action} because no identity-based policy allows the {action} action"
    )
    if protocol == "query":
        return _error_response(info, account, 403, "AccessDenied", message)
    status = 403 if protocol == "rest-json" else 400
    return _error_response(info, account, status, "AccessDeniedException", message)


def _server_error(
    info: RequestInfo, account: str, status: int
) -> tuple[str, list[tuple[str, str]], bytes]:
    protocol, _ = _protocol(info.service)
    code = "InternalFailure" if protocol == "query" else _SERVER_CODES.get(info.service, "")
    _status_text, headers, body = _error_response(
        info, account, status, code or "InternalFailure", "We encountered an internal error."
    )
    return f"{status} Internal Server Error", headers, body


def _html_error(status: int) -> tuple[str, list[tuple[str, str]], bytes]:
    title = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(
        status, "Internal Server Error"
    )
    body = (
        f"<!DOCTYPE html>\n<html><head><title>{status} {title}</title></head>"
        f"<body><h1>{status} {title}</h1><hr><p>proxy</p></body></html>\n"
    ).encode()
    return f"{status} {title}", [("Content-Type", "text/html; charset=utf-8")], body


def _garble(body: bytes) -> bytes:
    if not body:
        return b"\xff\xfe\xfd"
    middle = len(body) // 2
    junk = b"\xff\xfe\xc3\x28\xa0\xa1"
    return body[:middle] + junk + body[middle + len(junk) :]


# -- transport ------------------------------------------------------------------------------


def _arm_reset(environ: Mapping[str, Any]) -> None:
    """Make the connection's close send an RST (`SO_LINGER` on, zero seconds)."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _drop(environ: Mapping[str, Any]) -> ConnectionResetError:
    """Reset the connection; the returned error tells the WSGI server it was dropped.

    werkzeug treats a `ConnectionError` from the application as a dropped connection (no log
    line, no 500 page) and closes the socket, which `SO_LINGER` 0 turns into an RST.
    """
    _arm_reset(environ)
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    return ConnectionResetError("connection reset by the emulator's fault injector")


def _cut_short(environ: dict[str, Any], body: bytes, fraction: float) -> Iterator[bytes]:
    yield body[: int(len(body) * fraction)]
    raise _drop(environ)


# -- the injector ---------------------------------------------------------------------------


@attrs.define
class _Active:
    fault: Fault
    index: int
    seen: int = 0
    fired: int = 0


class FaultInjector:
    """The emulator's fault layer: holds the active faults, applies them, counts what it did.

    Reach it as `cmkguard.testing.EmulatedAWS.faults`. `seed` drives every rate
    decision; `add` activates a fault, `clear` removes all, `injecting` is a
    context manager for a block. `injected` counts the faults that fired per
    `(service, operation, kind)`. Thread-safe: the server answers requests concurrently.
    """

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Active] = []
        self._next_index = 0
        self._seen: Counter[tuple[str, ...]] = Counter()
        self._injected: Counter[tuple[str, str, str]] = Counter()
        self._paged = False  # an empty page's token went out: look for it in requests
        self.seed = seed
        self.middleware: EmulatorMiddleware | None = None

    # -- configuration -------------------------------------------------------------------

    @property
    def seed(self) -> int:
        """The seed of every rate decision (setting it restarts the draws)."""
        return self._seed

    @seed.setter
    def seed(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigurationError(f"fault seed must be an int, not {value!r}")
        with self._lock:
            self._seed = value
            self._seen.clear()

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The active faults, in the order they were added (the first match wins)."""
        with self._lock:
            return tuple(a.fault for a in self._faults)

    def add(self, *faults: Fault) -> None:
        """Activate `faults` (checked before a request reaches moto, first match wins)."""
        for fault in faults:
            if not isinstance(fault, Fault):
                raise ConfigurationError(f"not a Fault: {fault!r}")
        with self._lock:
            for fault in faults:
                self._faults.append(_Active(fault, self._next_index))
                self._next_index += 1

    def remove(self, fault: Fault) -> None:
        """Deactivate every active copy of `fault`."""
        with self._lock:
            self._faults = [a for a in self._faults if a.fault != fault]

    def clear(self) -> None:
        """Deactivate every fault and set the counts back to zero."""
        with self._lock:
            self._faults.clear()
            self._seen.clear()
            self._injected.clear()

    @contextmanager
    def injecting(self, *faults: Fault) -> Iterator[FaultInjector]:
        """Activate `faults` for the `with` block, then remove them again."""
        self.add(*faults)
        try:
            yield self
        finally:
            for fault in faults:
                self.remove(fault)

    def injected(self) -> Mapping[tuple[str, str, str], int]:
        """How many faults fired, per `(service, operation, kind value)` (a snapshot)."""
        with self._lock:
            return MappingProxyType(dict(self._injected))

    # -- decisions -----------------------------------------------------------------------

    def _draw(self, active: _Active, signature: tuple[str, ...], occurrence: int) -> float:
        text = "\x1f".join((str(self._seed), repr(active.fault), *signature, str(occurrence)))
        digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def _choose(self, info: RequestInfo, account: str, body: bytes) -> Fault | None:
        """The fault (if any) that fires for this request; counts it."""
        with self._lock:
            if not self._faults:
                return None
            digest = hashlib.blake2b(body, digest_size=8).hexdigest()
            signature = (account, info.region, info.service, info.operation, digest)
            self._seen[signature] += 1
            occurrence = self._seen[signature]
            for active in self._faults:
                fault = active.fault
                if not fault.selects(info.service, info.operation, info.region, account):
                    continue
                if fault.kind is FaultKind.EMPTY_PAGE and not is_listing(
                    info.service, info.operation
                ):
                    continue
                position = active.seen
                active.seen += 1
                if position < fault.skip:
                    continue
                if fault.first is not None and position >= fault.skip + fault.first:
                    continue
                if fault.rate < 1 and self._draw(active, signature, occurrence) >= fault.rate:
                    continue
                active.fired += 1
                self._injected[(info.service, info.operation, fault.kind.value)] += 1
                return fault
            return None

    # -- WSGI ----------------------------------------------------------------------------

    def wrap(self, app: EmulatorMiddleware) -> Callable[..., Iterable[bytes]]:
        """The WSGI application: this layer in front of `app` (the emulator's middleware)."""
        self.middleware = app

        def application(environ: dict[str, Any], start_response: StartResponse) -> Any:
            return self(environ, start_response)

        return application

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        """Handle one request: pass it on, or answer it with a fault."""
        app = self.middleware
        assert app is not None, "FaultInjector.wrap() was not called"
        if not (self._faults or self._paged) or environ.get("PATH_INFO", "").startswith(
            "/moto-api"
        ):
            return app(environ, start_response)
        info = parse_request(environ)
        account = app.account_for(info.access_key)
        body = self._resume(info, environ, _buffered_body(environ))
        fault = self._choose(info, account, body)
        if fault is None:
            return app(environ, start_response)
        if fault.kind is FaultKind.EMPTY_PAGE:
            return self._empty_page(info, body, start_response, app)
        if fault.kind is FaultKind.LATENCY:
            time.sleep(fault.latency_ms / 1000.0)
            return app(environ, start_response)
        if fault.kind in _REPLACES_RESPONSE:
            app.count_request(info)
            if app.latency_s > 0:
                time.sleep(app.latency_s)  # a refusal is a round trip too
            if fault.kind is FaultKind.CONNECTION_RESET:
                raise _drop(environ)
            status, headers, payload = self._replacement(fault, info, account)
            headers = [*headers, ("Content-Length", str(len(payload)))]
            start_response(status, headers)
            return [payload]
        return self._mangle(fault, environ, start_response, app)

    def _resume(self, info: RequestInfo, environ: dict[str, Any], body: bytes) -> bytes:
        """Put back the token an empty page stood in for, before moto reads the request."""
        if not self._paged:
            return body
        restored = restore_token(info.service, info.operation, body)
        if restored is None:
            return body
        environ["wsgi.input"] = io.BytesIO(restored)
        environ["CONTENT_LENGTH"] = str(len(restored))
        return restored

    def _empty_page(
        self, info: RequestInfo, body: bytes, start_response: StartResponse, app: Any
    ) -> Any:
        page = empty_page(info.service, info.operation, body)
        assert page is not None, "an EMPTY_PAGE fault fires on paged listings only"
        self._paged = True
        app.count_request(info)
        status, headers, payload = page
        start_response(status, [*headers, ("Content-Length", str(len(payload)))])
        return [payload]

    @staticmethod
    def _replacement(
        fault: Fault, info: RequestInfo, account: str
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        if fault.kind is FaultKind.THROTTLE:
            return _throttle(info, account)
        if fault.kind is FaultKind.ACCESS_DENIED:
            return _denied(info, account)
        if fault.kind is FaultKind.SERVER_ERROR:
            return _server_error(info, account, fault.status or 500)
        return _html_error(fault.status or 502)

    @staticmethod
    def _mangle(
        fault: Fault, environ: dict[str, Any], start_response: StartResponse, app: Any
    ) -> Any:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        chunks = app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        if fault.kind is FaultKind.CUT_SHORT:
            start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
            return _cut_short(environ, body, fault.fraction)
        if fault.kind is FaultKind.TRUNCATED_BODY:
            body = body[: int(len(body) * fault.fraction)]
        else:
            body = _garble(body)
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]


def _buffered_body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back for the layers after this one."""
    stream = environ.get("wsgi.input")
    if isinstance(stream, io.BytesIO):
        return stream.getvalue()
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = stream.read(length) if stream is not None and length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body
