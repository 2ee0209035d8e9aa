"""Empty pages with a next token: what AWS listings send now and then, made on demand.

Secrets Manager, the tagging API and KMS may answer a page with no items and a next token
(a filter matched nothing in that stretch, a shard was empty); a client must keep paging.
The `EMPTY_PAGE` fault answers a paged listing with such a page, in the protocol's shape,
whose next token carries the request's own token: when the client sends it back, the
injector puts the original token back (or removes it, for a first page) before moto sees the
request, so the listing resumes exactly where it was. Each token is unique (a counter), as
botocore refuses a listing that sends the same token twice.

JSON protocols (KMS, Secrets Manager, the tagging API) and query protocols (RDS) are
supported: every paged listing a scan makes. Operations without a paginator pass untouched.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import threading
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

import botocore.exceptions
import botocore.loaders
import botocore.model

__all__ = ["TOKEN_PREFIX", "empty_page", "is_listing", "restore_token"]

TOKEN_PREFIX = "cmkguard-empty-page."
"""How a next token made by the fault starts (never one moto makes)."""

_MODEL_NAMES = {"tagging": "resourcegroupstaggingapi", "monitoring": "cloudwatch"}
_counter = itertools.count(1)
_counter_lock = threading.Lock()


@functools.cache
def _model(service: str) -> tuple[str, str, dict[str, Any]]:
    """`(protocol, xml namespace, paginators)` of a signing name, from botocore's model."""
    name = _MODEL_NAMES.get(service, service)
    loader = botocore.loaders.create_loader()
    try:
        model = botocore.model.ServiceModel(loader.load_service_model(name, "service-2"))
        pagination = loader.load_service_model(name, "paginators-1").get("pagination", {})
    except botocore.exceptions.DataNotFoundError:
        return "", "", {}
    # The protocol the client speaks: the first of `protocols` botocore supports (the tagging
    # API lists CBOR first, and botocore speaks JSON to it).
    protocol = str(getattr(model, "resolved_protocol", model.protocol))
    return protocol, str(model.metadata.get("xmlNamespace", "")), pagination


def _paging(service: str, operation: str) -> tuple[str, str, dict[str, Any]] | None:
    protocol, namespace, pagination = _model(service)
    spec = pagination.get(operation)
    if protocol not in ("json", "query") or not isinstance(spec, dict):
        return None
    if not all(isinstance(spec.get(k), str) for k in ("input_token", "output_token", "result_key")):
        return None  # several tokens or result keys: not a listing the scan makes
    return protocol, namespace, spec


def is_listing(service: str, operation: str) -> bool:
    """Whether an `EMPTY_PAGE` fault can answer `service`'s `operation`."""
    return _paging(service, operation) is not None


def _make_token(original: str) -> str:
    with _counter_lock:
        n = next(_counter)
    packed = base64.urlsafe_b64encode(original.encode()).decode()
    return f"{TOKEN_PREFIX}{n}.{packed}"


def _original(token: str) -> str:
    packed = token[len(TOKEN_PREFIX) :].split(".", 1)[-1]
    return base64.urlsafe_b64decode(packed.encode()).decode()


def _request_token(protocol: str, token_name: str, body: bytes) -> str:
    if protocol == "json":
        try:
            value = json.loads(body or b"{}").get(token_name)
        except (ValueError, AttributeError):
            return ""
        return value if isinstance(value, str) else ""
    return dict(parse_qsl(body.decode(errors="replace"))).get(token_name, "")


def empty_page(
    service: str, operation: str, body: bytes
) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """`(status, headers, body)` of an empty page promising more, or `None` (not a listing)."""
    paging = _paging(service, operation)
    if paging is None:
        return None
    protocol, namespace, spec = paging
    token = _make_token(_request_token(protocol, spec["input_token"], body))
    request_id = str(uuid.uuid4())
    if protocol == "json":
        document: dict[str, Any] = {spec["result_key"]: [], spec["output_token"]: token}
        if isinstance(spec.get("more_results"), str):
            document[spec["more_results"]] = True
        payload = json.dumps(document).encode()
        content_type = "application/x-amz-json-1.1"
    else:
        payload = (
            f'<{operation}Response xmlns="{namespace}"><{operation}Result>'
            f"<{spec['result_key']}/><{spec['output_token']}>{token}</{spec['output_token']}>"
            f"</{operation}Result><ResponseMetadata><RequestId>{request_id}</RequestId>"
            f"</ResponseMetadata></{operation}Response>"
        ).encode()
        content_type = "text/xml"
    headers = [("Content-Type", content_type), ("x-amzn-RequestId", request_id)]
    return "200 OK", headers, payload


def restore_token(service: str, operation: str, body: bytes) -> bytes | None:
    """The request body with an empty page's token replaced by the original one (removed
    when the page was a first page), or `None` when the request carries no such token."""
    if TOKEN_PREFIX.encode() not in body:
        return None
    paging = _paging(service, operation)
    if paging is None:
        return None
    protocol, _namespace, spec = paging
    name = spec["input_token"]
    token = _request_token(protocol, name, body)
    if not token.startswith(TOKEN_PREFIX):
        return None
    original = _original(token)
    if protocol == "json":
        document = json.loads(body)
        if original:
            document[name] = original
        else:
            document.pop(name, None)
        return json.dumps(document).encode()
    pairs = [(k, v) for k, v in parse_qsl(body.decode()) if k != name]
    if original:
        pairs.append((name, original))
    return urlencode(pairs).encode()
