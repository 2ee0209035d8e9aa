"""WSGI middleware around moto's server app: accounts, latency, request counts, fidelity fixes.

It runs on the server side, inside the request thread of moto's threaded server, so:

* the *latency* is a `time.sleep` per request in that thread: concurrent requests overlap like
  real round trips do, and a client cannot tell the delay from network time;
* the *counts* see every AWS request whatever client sent it;
* the *fidelity fixes* run right after the request that created a resource, before the client can
  see the result (the response body is corrected too).
"""

from __future__ import annotations

import functools
import io
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import botocore.exceptions
import botocore.loaders

from cmkguard.testing import _grants, _moto, _share

__all__ = ["EmulatorMiddleware", "RequestHook", "RequestInfo", "parse_request"]

_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_ACTION_RE = re.compile(rb"(?:^|&)Action=([A-Za-z0-9]+)")
_PLACEHOLDER = _moto.DEFAULT_KEY_PLACEHOLDER.encode()
_KMS_KEY_ID_RE = re.compile(rb"<KmsKeyId>([^<]*)</KmsKeyId>")
_UNENCRYPTED_PLACEHOLDER_RE = re.compile(
    rb"(<StorageEncrypted>false</StorageEncrypted>(?:(?!</DBCluster>).)*?)"
    rb"<KmsKeyId>default_kms_key_id</KmsKeyId>",
    re.DOTALL,
)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
RequestHook = Callable[[dict[str, Any], "RequestInfo", str, StartResponse], Iterable[bytes] | None]
"""Sees each AWS request (environ, what it is, the account it acts in) before moto does; may
answer it (an error AWS would give) or re-route it (`HTTP_X_MOTO_ACCOUNT_ID`); `None`: go on."""


class RequestInfo:
    """What the middleware learned about one request (access key, region, service, operation)."""

    __slots__ = ("access_key", "operation", "region", "service")

    def __init__(self, access_key: str, region: str, service: str, operation: str) -> None:
        self.access_key = access_key
        self.region = region
        self.service = service
        self.operation = operation


_URI_LABEL_RE = re.compile(r"\{([^}]+)\}")


def _uri_pattern(uri: str) -> tuple[re.Pattern[str], int]:
    """A regex for a model's `requestUri` (labels: one path segment, `{Key+}`: several)
    and how many literal characters it has."""
    parts = _URI_LABEL_RE.split(uri)  # literal, label, literal, label, ..., literal
    regex = "".join(
        re.escape(part) if i % 2 == 0 else (".+" if part.endswith("+") else "[^/]+")
        for i, part in enumerate(parts)
    )
    return re.compile(regex + "/?"), sum(len(p) for p in parts[::2])


@functools.cache
def _rest_routes(service: str) -> tuple[tuple[str, re.Pattern[str], int, str], ...]:
    """`(method, path pattern, literal length, operation)` of a REST service's operations.

    Read once per service from botocore's model; the most literal match wins (`/functions/x`
    is `GetFunction`, `/functions/x/configuration` is `GetFunctionConfiguration`).
    """
    try:
        model = botocore.loaders.create_loader().load_service_model(service, "service-2")
    except botocore.exceptions.DataNotFoundError:
        return ()
    routes = []
    for name, operation in model.get("operations", {}).items():
        http = operation.get("http", {})
        uri = str(http.get("requestUri", "")).split("?", 1)[0]
        if uri:
            pattern, literal = _uri_pattern(uri)
            routes.append((str(http.get("method", "GET")), pattern, literal, str(name)))
    return tuple(routes)


def _rest_operation(service: str, method: str, path: str) -> str | None:
    """The operation a REST-protocol request (Lambda...) calls, from its method and path."""
    # PATH_INFO is already percent-decoded (PEP 3333); an ARN label has no "/" in it.
    matches = [
        (literal, name)
        for route_method, pattern, literal, name in _rest_routes(service)
        if route_method == method and pattern.fullmatch(path)
    ]
    return max(matches)[1] if matches else None


def parse_request(environ: dict[str, Any]) -> RequestInfo:
    """Read the signing scope and the operation of a request; buffer its body for moto.

    The operation comes from `X-Amz-Target` (JSON protocols: KMS, Secrets Manager), from the
    `Action` parameter (query protocols: RDS, STS), in the query string or the form body, or
    from the method and path (REST protocols: Lambda), matched against botocore's model.
    """
    match = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    access_key, region, service = match.groups() if match else ("", "us-east-1", "unknown")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return RequestInfo(access_key, region, service, target.rsplit(".", 1)[-1])
    action = _ACTION_RE.search(environ.get("QUERY_STRING", "").encode())
    if action is None:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = _ACTION_RE.search(body)
    method = environ.get("REQUEST_METHOD", "?")
    if action is not None:
        operation = action.group(1).decode()
    else:
        operation = _rest_operation(service, method, environ.get("PATH_INFO", "")) or method
    return RequestInfo(access_key, region, service, operation)


_READ_PREFIXES = ("Describe", "List", "Get", "Download")

# KMS operations AWS accepts on another account's key (by key ARN or alias ARN), if the key
# policy allows the caller.
_CROSS_ACCOUNT_KMS = frozenset(
    {
        "CreateGrant",
        "Decrypt",
        "DescribeKey",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GetKeyRotationStatus",
        "GetPublicKey",
        "ListGrants",
        "ReEncrypt",
        "RetireGrant",
        "RevokeGrant",
        "Sign",
        "Verify",
        "VerifyMac",
    }
)


# What the AWS-managed key policy lets the account do directly (everything else only through the
# service, never directly): the emulator refuses the rest, as AWS does.
_AWS_MANAGED_DIRECT_PREFIXES = ("Describe", "Get", "List", "RevokeGrant")


def _access_denied(start_response: StartResponse, message: str) -> list[bytes]:
    body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
    start_response(
        "400 Bad Request",
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _json_body(environ: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a request, buffered so moto can still read it."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class EmulatorMiddleware:
    """Wraps moto's WSGI app; see the module docstring for what it adds."""

    def __init__(
        self,
        app: WsgiApp,
        *,
        primary_account: str,
        accounts: tuple[str, ...] = (),
        latency_s: float = 0.0,
    ) -> None:
        self.app = app
        self.primary_account = primary_account
        self.accounts = accounts or (primary_account,)
        self.latency_s = latency_s
        self._accounts_by_key: dict[str, str] = {}
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self.hooks: dict[str, RequestHook] = {}
        """Named request hooks (the emulated organisation's), run in insertion order."""

    # -- accounts ----------------------------------------------------------------------------

    def register_access_key(self, access_key: str, account: str) -> None:
        """Route requests signed with `access_key` to `account` (survives a moto reset)."""
        with self._lock:
            self._accounts_by_key[access_key] = account

    def account_for(self, access_key: str) -> str:
        """The account a request signed with `access_key` acts in.

        Keys the emulator handed out map to their account; keys moto knows (from an
        `AssumeRole` made by any client) map to the role's account; anything else (such as
        `AWS_ACCESS_KEY_ID=testing`) is the primary account, not moto's `123456789012`.
        """
        known = self._accounts_by_key.get(access_key)
        if known is not None:
            return known
        account = _moto.account_for_access_key(access_key) if access_key else ""
        if not account or account == _moto.moto_default_account():
            return self.primary_account
        return account

    def _kms_key_owner(self, environ: dict[str, Any], info: RequestInfo, caller: str) -> str:
        """The account a KMS request on a key ARN must be answered in.

        moto looks every key up in the caller's own account; AWS lets the caller use another
        account's key, named by its key ARN or alias ARN in the same region, when the key policy
        allows it. Such a request is answered by the owner account's backend.
        """
        key_id = _json_body(environ).get("KeyId")
        if not isinstance(key_id, str) or not key_id.startswith("arn:"):
            return caller
        parts = key_id.split(":")
        if len(parts) < 6 or parts[4] == caller or parts[4] not in self.accounts:
            return caller
        if parts[3] != info.region:
            return caller
        action = f"kms:{info.operation}"
        if _moto.key_policy_allows(parts[4], parts[3], key_id, caller, action):
            return parts[4]
        return caller

    @staticmethod
    def _refuse_on_aws_managed_key(
        environ: dict[str, Any], info: RequestInfo, account: str
    ) -> str | None:
        """Why AWS would refuse this direct KMS request on an AWS-managed key, if it would.

        moto lets anyone disable, delete, re-policy or use `aws/rds` directly. The real key
        policy allows the account only `Describe*`, `Get*`, `List*` and `RevokeGrant`
        directly; everything else only through the service (`kms:ViaService`).
        """
        key_id = _json_body(environ).get("KeyId")
        if not isinstance(key_id, str):
            return None
        found = _moto.key_manager(account, info.region, key_id)
        if found is None or found[0] != "AWS":
            return None
        return (
            f"User: arn:aws:iam::{account}:root is not authorized to perform: "
            f"kms:{info.operation} on resource: {found[1]} because no resource-based policy "
            f"allows the kms:{info.operation} action"
        )

    # -- counts ------------------------------------------------------------------------------

    def request_counts(self) -> dict[tuple[str, str], int]:
        """A copy of the request counts per `(service, operation)`."""
        with self._lock:
            return dict(self._counts)

    def reset_request_counts(self) -> None:
        """Set every request count back to zero."""
        with self._lock:
            self._counts.clear()

    def count_request(self, info: RequestInfo) -> None:
        """Count a request answered before it reached this middleware (an injected fault)."""
        with self._lock:
            self._counts[(info.service, info.operation)] += 1

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Handle one request (WSGI entry point)."""
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self.app(environ, start_response)
        info = parse_request(environ)
        account = self.account_for(info.access_key)
        if info.service == "kms" and info.operation in _CROSS_ACCOUNT_KMS:
            account = self._kms_key_owner(environ, info, account)
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = account
        with self._lock:
            self._counts[(info.service, info.operation)] += 1
        answer = None
        for hook in tuple(self.hooks.values()):
            answer = hook(environ, info, account, start_response)
            if answer is not None:
                break
        account = environ["HTTP_X_MOTO_ACCOUNT_ID"]
        if self.latency_s > 0:
            time.sleep(self.latency_s)
        if answer is not None:
            return answer
        if info.service == "rds" and info.operation in _share.SHARE_OPERATIONS:
            code, message = _share.refusal(
                environ, info.operation, account, info.region, self.accounts
            )
            if code:
                return _share.error_response(start_response, code, message)
        reads = info.operation.startswith(_READ_PREFIXES)
        if info.service == "secretsmanager":
            # One at a time (see _moto.SECRETS_LOCK), after the latency sleep, which overlaps.
            with _moto.SECRETS_LOCK:
                if reads:
                    _moto.fix_existing(account, info.region)
                    return list(self.app(environ, start_response))
                return self._call_with_fixups(environ, start_response, info, account)
        if info.service == "kms" and not info.operation.startswith(_AWS_MANAGED_DIRECT_PREFIXES):
            refusal = self._refuse_on_aws_managed_key(environ, info, account)
            if refusal is not None:
                return _access_denied(start_response, refusal)
        if info.service == "kms" and info.operation == "CreateGrant":
            invalid = _grants.create_grant_refusal(_json_body(environ), account, info.region)
            if invalid is not None:
                return _grants.validation_error(start_response, invalid)
        if info.service == "kms" or (info.service == "rds" and reads):
            # Whatever was made without a request through here is right before anyone reads it.
            with _moto.SECRETS_LOCK:
                _moto.fix_existing(account, info.region)
            return self.app(environ, start_response)
        if info.service == "lambda" and not reads:
            return self._call_with_fixups(environ, start_response, info, account)
        if info.service != "rds":
            return self.app(environ, start_response)
        return self._call_with_fixups(environ, start_response, info, account)

    def _call_with_fixups(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        info: RequestInfo,
        account: str,
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if info.service == "rds":
            if _moto.fix_rds(account, info.region) or _PLACEHOLDER in body:
                body = self._fix_rds_body(body, account, info.region)
        elif info.service == "lambda":
            _moto.fix_lambda(account, info.region)
        else:
            _moto.fix_secretsmanager(account, info.region)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers)
        return [body]

    @staticmethod
    def _fix_rds_body(body: bytes, account: str, region: str) -> bytes:
        """Render the fixed key identifiers in a response rendered before the fix-up."""
        if _PLACEHOLDER in body:
            # An unencrypted resource's placeholder was cleared: drop the element.
            body = _UNENCRYPTED_PLACEHOLDER_RE.sub(rb"\1", body)

        def resolve(match: re.Match[bytes]) -> bytes:
            value = match.group(1).decode()
            if value == _moto.DEFAULT_KEY_PLACEHOLDER:
                arn = _moto.find_aws_managed_key_arn(account, region, "alias/aws/rds")
            else:
                arn = _moto.resolve_key_arn(account, region, value)
            return b"<KmsKeyId>%s</KmsKeyId>" % (arn or value).encode()

        return _KMS_KEY_ID_RE.sub(resolve, body)
