"""The AWS side of executing a migration plan: calls, waiters, adoption probes, secret moves.

`cmkguard.migrate.executor` decides *what* to do; this module is the only place that talks
to botocore for it, and it turns every botocore failure into `CallFailed` (code + message)
so the executor never handles a raw botocore exception.
"""

from __future__ import annotations

import logging
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import botocore.exceptions as bx
from botocore import xform_name

from cmkguard.aws.errormap import NOT_FOUND_CODES, error_code, failure
from cmkguard.aws.session import make_client
from cmkguard.migrate.aws_settings import json_safe

if TYPE_CHECKING:
    import boto3

__all__ = [
    "CallFailed",
    "Clients",
    "call",
    "caller_identity",
    "describe",
    "generate_password",
    "probe",
    "resolve_key_arn",
    "rewrite_secret_value",
    "wait",
    "wire_log_muted",
]

# Terminal states: a resource in one of these is not adopted as the step's result.
_FAILED_STATUSES = frozenset(
    {"failed", "incompatible-restore", "incompatible-parameters", "incompatible-network"}
)

_RESULT_KEYS = {
    "DescribeDBInstances": "DBInstances",
    "DescribeDBClusters": "DBClusters",
    "DescribeDBSnapshots": "DBSnapshots",
    "DescribeDBClusterSnapshots": "DBClusterSnapshots",
}


class CallFailed(Exception):
    """One AWS call or waiter failed: `operation`, the AWS `code` and a human `reason`."""

    def __init__(self, operation: str, code: str | None, reason: str) -> None:
        super().__init__(f"{operation}: {reason}")
        self.operation = operation
        self.code = code
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.operation, self.code, self.reason))


class Clients:
    """Clients of one session, built once per (service, region) for the whole execution.

    Clients copy the session's event hooks when they are built, so hooks registered on
    `session.events` before execution apply to every request.
    """

    def __init__(self, session: boto3.Session) -> None:
        self.session = session
        self._clients: dict[tuple[str, str], Any] = {}
        self._keys: dict[tuple[str, str], str] = {}

    def get(self, service: str, region: str) -> Any:
        """The client for `service` in `region`."""
        if (service, region) not in self._clients:
            self._clients[(service, region)] = make_client(self.session, service, region)
        return self._clients[(service, region)]


def call(
    clients: Clients, service: str, region: str, operation: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Send `operation` with `params`; the JSON-safe response, or `CallFailed`."""
    client = clients.get(service, region)
    try:
        response = getattr(client, xform_name(operation))(**params)
    except (bx.ClientError, bx.BotoCoreError) as exc:
        code, reason = failure(exc)
        raise CallFailed(operation, code, reason) from None
    out: dict[str, Any] = json_safe(response)
    return out


def describe(
    clients: Clients, service: str, region: str, operation: str, params: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The one record a describe call returns (`None` if it does not exist)."""
    try:
        response = call(clients, service, region, operation, params)
    except CallFailed as exc:
        if exc.code in NOT_FOUND_CODES:
            return None
        raise
    key = _RESULT_KEYS.get(operation)
    if key is None:
        return response
    items = response.get(key) or []
    return dict(items[0]) if items else None


def wait(
    clients: Clients,
    service: str,
    region: str,
    waiter_name: str,
    params: Mapping[str, Any],
    *,
    delay: float,
    max_attempts: int,
    on_poll: Callable[[int, float], None] | None = None,
) -> None:
    """Poll with botocore's waiter, one attempt at a time; `CallFailed` if it fails.

    One attempt per `waiter.wait(MaxAttempts=1)` so `on_poll(attempt, seconds_waited)` can
    report each poll (the CLI's live status line); the requests are those of the waiter with
    `Delay=delay, MaxAttempts=max_attempts`. A resource that does not exist *yet* (the new
    name right after a rename) is polled again rather than failing at once.
    """
    client = clients.get(service, region)
    waiter = client.get_waiter(xform_name(waiter_name))
    started = time.monotonic()
    for attempt in range(1, max_attempts + 1):
        if on_poll is not None:
            on_poll(attempt, time.monotonic() - started)
        try:
            waiter.wait(**params, WaiterConfig={"Delay": 0, "MaxAttempts": 1})
            return
        except bx.WaiterError as exc:
            last = exc.last_response or {}
            code = (last.get("Error") or {}).get("Code")
            not_ready = "Max attempts exceeded" in str(exc)
            if (not_ready or code in NOT_FOUND_CODES) and attempt < max_attempts:
                time.sleep(delay)
                continue
            if not_ready:
                raise CallFailed(
                    waiter_name,
                    "WaiterTimeout",
                    f"still not ready after {max_attempts} polls {delay:g}s apart "
                    "(resume later: the journal keeps the progress)",
                ) from None
            reason = f"waiter failed: {exc.last_response and _status_text(exc.last_response)}"
            raise CallFailed(waiter_name, code or "WaiterFailure", reason) from None
        except (bx.ClientError, bx.BotoCoreError) as exc:
            code, reason = failure(exc)
            raise CallFailed(waiter_name, code, reason) from None


def caller_identity(clients: Clients, region: str) -> str:
    """The ARN the run acts as (`sts:GetCallerIdentity`), or why it is unknown."""
    try:
        return str(clients.get("sts", region).get_caller_identity()["Arn"])
    except (bx.ClientError, bx.BotoCoreError, KeyError) as exc:
        return f"unknown ({type(exc).__name__}: {exc})"


def _status_text(response: Mapping[str, Any]) -> str:
    if "Error" in response:
        err = response["Error"]
        return f"{err.get('Code')}: {err.get('Message')}"
    for key in _RESULT_KEYS.values():
        for item in response.get(key) or ():
            for field in ("DBInstanceStatus", "Status"):
                if field in item:
                    return f"status {item[field]}"
    return "unexpected state"


def _exists(clients: Clients, region: str, operation: str, id_field: str, ident: str) -> bool:
    return describe(clients, "rds", region, operation, {id_field: ident}) is not None


def probe(clients: Clients, region: str, spec: Mapping[str, Any]) -> bool:
    """Whether the effect a step would have already exists (so the step is adopted, not re-run).

    `spec["probe"]` names the check; see `cmkguard.MigrationStep` `adopt`.
    """
    kind = spec.get("probe")
    inst = ("DescribeDBInstances", "DBInstanceIdentifier")
    clus = ("DescribeDBClusters", "DBClusterIdentifier")
    snap = ("DescribeDBSnapshots", "DBSnapshotIdentifier")
    csnap = ("DescribeDBClusterSnapshots", "DBClusterSnapshotIdentifier")
    table = {
        "db-instance": inst,
        "db-cluster": clus,
        "db-snapshot": snap,
        "db-cluster-snapshot": csnap,
    }
    if kind in table:
        op, field = table[str(kind)]
        record = describe(clients, "rds", region, op, {field: spec["id"]})
        if record is None:
            return False
        status = str(record.get("DBInstanceStatus") or record.get("Status") or "")
        if status in _FAILED_STATUSES:
            raise CallFailed(
                op,
                "ResourceFailed",
                f"{spec['id']} exists in status {status}: delete it, then run again to resume",
            )
        return True
    if kind in ("db-snapshot-absent", "db-cluster-snapshot-absent"):
        base = str(kind).removesuffix("-absent")
        return not _exists(clients, region, *table[base], spec["id"])
    if kind in ("db-instance-renamed", "db-cluster-renamed"):
        op, field = inst if kind == "db-instance-renamed" else clus
        return _exists(clients, region, op, field, spec["to"]) and not _exists(
            clients, region, op, field, spec["from"]
        )
    if kind in ("master-secret-off", "master-secret-on"):
        op, field = clus if spec.get("cluster") else inst
        record = describe(clients, "rds", region, op, {field: spec["id"]}) or {}
        secret = record.get("MasterUserSecret") or {}
        if kind == "master-secret-off":
            return not secret
        key = secret.get("KmsKeyId")
        return bool(key) and resolve_key_arn(clients, region, str(key)) == spec["key"]
    if kind in ("secret-replica", "secret-replica-absent"):
        srecord = describe(
            clients, "secretsmanager", region, "DescribeSecret", {"SecretId": spec["secret"]}
        )
        regions = {r.get("Region") for r in (srecord or {}).get("ReplicationStatus") or ()}
        present = spec["region"] in regions
        return present if kind == "secret-replica" else not present
    raise ValueError(f"unknown adoption probe {kind!r}")


def resolve_key_arn(clients: Clients, region: str, reference: str) -> str:
    """The key ARN behind any key identifier (`DescribeKey`); the reference if it fails."""
    if reference.startswith("arn:") and ":key/" in reference:
        return reference
    cache_key = (region, reference)
    if cache_key not in clients._keys:
        try:
            meta = clients.get("kms", region).describe_key(KeyId=reference)["KeyMetadata"]
        except (bx.ClientError, bx.BotoCoreError):
            return reference
        clients._keys[cache_key] = meta["Arn"]
    return clients._keys[cache_key]


class _DropThisThread(logging.Filter):
    """Drops the records of the threads currently inside `wire_log_muted`."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread not in self.threads


_MUTE = _DropThisThread()

# botocore's DEBUG log prints request parameters (botocore.endpoint) and response bodies
# (botocore.parsers); urllib3 and the http session log around them.
_WIRE_LOGGER_PREFIXES = ("botocore", "urllib3", "boto3")


@contextmanager
def wire_log_muted() -> Iterator[None]:
    """Drop botocore's/urllib3's log records of *this thread* while the block runs.

    For the calls that carry a secret (GetSecretValue / PutSecretValue of the opt-in
    re-encryption, an interim master password): a caller who turned on DEBUG logging for the
    whole process must not find the value in its logs. Other threads log as configured.
    A filter on a logger applies only to records created on it, so it goes on every
    botocore/urllib3 logger that exists (they are created at import, before any call).
    """
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.startswith(_WIRE_LOGGER_PREFIXES):
            logger.addFilter(_MUTE)  # a no-op when already there
    ident = threading.get_ident()
    with _MUTE.lock:
        _MUTE.threads.add(ident)
    try:
        yield
    finally:
        with _MUTE.lock:
            _MUTE.threads.discard(ident)


def rewrite_secret_value(
    clients: Clients, region: str, secret_id: str, token: str
) -> dict[str, Any]:
    """Write the secret's current value again as a new version (idempotent through `token`).

    The value only exists in this function's locals: it is never returned, logged or stored.
    Returns the new version's id (no value).
    """
    client = clients.get("secretsmanager", region)
    try:
        with wire_log_muted():
            return _rewrite(client, secret_id, token)
    except (bx.ClientError, bx.BotoCoreError) as exc:
        code = error_code(exc)
        # The message of a failed put never contains the value; keep only code and message.
        _code, reason = failure(exc)
        raise CallFailed("PutSecretValue", code, reason) from None


def _rewrite(client: Any, secret_id: str, token: str) -> dict[str, Any]:
    """The body of `rewrite_secret_value`, run inside `wire_log_muted`."""
    current = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    if current.get("VersionId") == token:
        return {"VersionId": token, "adopted": True}
    kwargs: dict[str, Any] = {"SecretId": secret_id, "ClientRequestToken": token}
    if "SecretBinary" in current:
        kwargs["SecretBinary"] = current["SecretBinary"]
    else:
        kwargs["SecretString"] = current["SecretString"]
    del current
    response = client.put_secret_value(**kwargs)
    del kwargs
    return {"VersionId": response.get("VersionId")}


def generate_password(length: int = 32) -> str:
    """A random interim RDS master password (letters and digits: valid for every engine)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))
