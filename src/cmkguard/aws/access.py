"""How a scan unit gets credentials: :class:`SessionSpec`, plain picklable data.

A scan fans units out over any ``concurrent.futures.Executor``, including a process pool, so a
unit cannot carry a live ``boto3.Session``. It carries a :class:`SessionSpec` instead, and
:func:`client_for` turns it into a client in whichever process runs the unit:

* in the process that called :func:`cmkguard.scan`, the caller's own session object is used
  (registered with :func:`bind_session`), so event hooks, custom credential providers and the
  emulator's session all keep working;
* in another process the session is rebuilt from the spec (profile, endpoint, static keys) and,
  when the spec names a role, the role is assumed once per process.

Clients are cached per (spec, service, region): botocore clients are thread-safe once built,
building them is not (and costs milliseconds), so building happens under a lock.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import attrs
import boto3
from botocore.parsers import ResponseParserFactory
from botocore.utils import parse_timestamp

from cmkguard.aws.session import EndpointSession, make_client

__all__ = ["SessionSpec", "bind_session", "client_for", "release_session", "session_for"]


@attrs.frozen
class SessionSpec:
    """Where a unit's credentials come from; plain data that pickles.

    ``profile``: a named profile (``None``: the default chain: environment, SSO, instance
    role...). ``role_arn``: a role to assume from that base (one account of a multi-account
    scan). ``endpoint_url``: send every client there (the emulator, a VPC endpoint).
    ``access_key_id``/``secret_access_key``/``session_token``: static keys, only when the
    caller's session was built with explicit keys (the emulator's); never printed.
    ``scan_id`` ties a spec to one scan, so a later scan never reuses another's clients.
    """

    profile: str | None = None
    region: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = attrs.field(default=None, repr=False)
    secret_access_key: str | None = attrs.field(default=None, repr=False)
    session_token: str | None = attrs.field(default=None, repr=False)
    scan_id: str = attrs.field(factory=lambda: uuid.uuid4().hex)

    @classmethod
    def from_session(cls, session: boto3.Session, *, scan_id: str | None = None) -> SessionSpec:
        """The spec that rebuilds ``session`` in another process.

        Explicit static keys are copied (the emulator's sessions use them); credentials that
        come from a profile, the environment or an instance role are found again by the
        worker through the same chain.
        """
        profile = session.profile_name if session.profile_name != "default" else None
        endpoint = getattr(session, "endpoint_url", None)
        keys: dict[str, str | None] = {}
        creds = session.get_credentials()
        if creds is not None and getattr(creds, "method", None) in ("explicit", "assume-role"):
            frozen = creds.get_frozen_credentials()
            keys = {
                "access_key_id": frozen.access_key,
                "secret_access_key": frozen.secret_key,
                "session_token": frozen.token,
            }
        return cls(
            profile=profile,
            region=session.region_name,
            endpoint_url=endpoint,
            scan_id=scan_id or uuid.uuid4().hex,
            **keys,
        )

    def for_role(self, role_arn: str, external_id: str | None = None) -> SessionSpec:
        """The same base credentials, assuming ``role_arn`` on top."""
        return attrs.evolve(self, role_arn=role_arn, external_id=external_id)

    def build_base_session(self) -> boto3.Session:
        """A fresh session from the spec (before any role is assumed)."""
        kwargs: dict[str, Any] = {"region_name": self.region}
        if self.profile:
            kwargs["profile_name"] = self.profile
        if self.access_key_id:
            kwargs["aws_access_key_id"] = self.access_key_id
            kwargs["aws_secret_access_key"] = self.secret_access_key
            kwargs["aws_session_token"] = self.session_token
        if self.endpoint_url:
            return EndpointSession(endpoint_url=self.endpoint_url, **kwargs)
        return boto3.Session(**kwargs)


_LOCK = threading.RLock()
# spec without role -> the caller's live session, in the scanning process only.
_LIVE: dict[SessionSpec, boto3.Session] = {}
# spec (with role) -> session, in whichever process built it. Bounded: workers outlive scans.
_SESSIONS: OrderedDict[SessionSpec, boto3.Session] = OrderedDict()
_CLIENTS: dict[tuple[SessionSpec, str, str], Any] = {}
_MAX_SESSIONS = 16


def bind_session(spec: SessionSpec, session: boto3.Session) -> None:
    """Use ``session`` itself (not a rebuilt one) for ``spec`` in this process."""
    with _LOCK:
        _LIVE[attrs.evolve(spec, role_arn=None, external_id=None)] = session


def release_session(spec: SessionSpec) -> None:
    """Forget every session and client of the scan ``spec`` belongs to."""
    with _LOCK:
        for cache in (_LIVE, _SESSIONS):
            for key in [k for k in cache if k.scan_id == spec.scan_id]:
                del cache[key]
        for ckey in [k for k in _CLIENTS if k[0].scan_id == spec.scan_id]:
            del _CLIENTS[ckey]


def _assume(base: boto3.Session, spec: SessionSpec) -> boto3.Session:
    assert spec.role_arn is not None
    sts = make_client(base, "sts", spec.region or base.region_name or "us-east-1")
    params: dict[str, Any] = {"RoleArn": spec.role_arn, "RoleSessionName": "cmkguard-scan"}
    if spec.external_id:
        params["ExternalId"] = spec.external_id
    creds = sts.assume_role(**params)["Credentials"]
    kwargs: dict[str, Any] = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
        "region_name": spec.region,
    }
    endpoint = getattr(base, "endpoint_url", None)
    if endpoint:
        return EndpointSession(endpoint_url=endpoint, **kwargs)
    return boto3.Session(**kwargs)


def session_for(spec: SessionSpec) -> boto3.Session:
    """The session for ``spec`` in this process (the bound live one, or built and cached)."""
    with _LOCK:
        session = _SESSIONS.get(spec)
        if session is not None:
            return session
        base_spec = attrs.evolve(spec, role_arn=None, external_id=None)
        base = _LIVE.get(base_spec) or _SESSIONS.get(base_spec)
        if base is None:
            base = spec.build_base_session()
            _SESSIONS[base_spec] = base
        session = _assume(base, spec) if spec.role_arn else base
        _SESSIONS[spec] = session
        while len(_SESSIONS) > _MAX_SESSIONS:
            old, _ = _SESSIONS.popitem(last=False)
            for ckey in [k for k in _CLIENTS if k[0] == old]:
                del _CLIENTS[ckey]
        return session


def _fast_timestamp(value: Any) -> datetime:
    """botocore's timestamp parsing without dateutil's generic parser for ISO 8601 text.

    A scan parses thousands of timestamps (every RDS record carries several); dateutil's
    parser was a third of the scanner's CPU. Same results: aware datetimes in UTC.
    """
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return parse_timestamp(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _scan_parser_factory() -> Any:
    factory = ResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=_fast_timestamp)
    return factory


def _use_fast_timestamps(client: Any) -> None:
    # Endpoint._response_parser_factory is botocore's per-client parser factory; set it on
    # this client only (never on the caller's session). Skipped if botocore ever renames it.
    endpoint = getattr(client, "_endpoint", None)
    if endpoint is not None and hasattr(endpoint, "_response_parser_factory"):
        endpoint._response_parser_factory = _scan_parser_factory()


def client_for(spec: SessionSpec, service: str, region: str) -> Any:
    """A cached client for ``service`` in ``region`` with the spec's credentials."""
    key = (spec, service, region)
    client = _CLIENTS.get(key)
    if client is not None:
        return client
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = make_client(session_for(spec), service, region)
            _use_fast_timestamps(client)
            _CLIENTS[key] = client
        return client
