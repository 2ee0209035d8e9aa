"""AWS access with an explicit lifetime: `AwsAccess` holds credentials and clients.

One `AwsAccess` is created per scan (or per account of a multi-account scan) and released
deterministically: use it as a context manager, or call `close()`. It owns, on the instance and
nowhere else, the sessions and the clients it builds; closing it closes them (and those of the
accesses derived from it with `for_role`).

It is also how work crosses process boundaries: pickling an `AwsAccess` keeps only its
description, the frozen `AccessSpec` (profile, region, endpoint, static keys when the session
had explicit ones, the role chain), and the copy rebuilds sessions and clients from it, lazily,
in whichever process runs the work.

```python
import boto3
from cmkguard.aws import AwsAccess

with AwsAccess.from_session(boto3.Session(region_name="us-east-1")) as access:
    audit = access.for_role("arn:aws:iam::222233334444:role/Audit", external_id="x")
    kms = audit.client("kms", "eu-west-1")  # built on first use, cached on `audit`
```
"""

from __future__ import annotations

import contextvars
import copy
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import attrs
import boto3
import botocore.credentials
import botocore.session
from botocore.config import Config
from botocore.hooks import HierarchicalEmitter
from botocore.parsers import ResponseParserFactory
from botocore.utils import parse_timestamp

from cmkguard.arn import is_account_id
from cmkguard.aws.errormap import check_response
from cmkguard.aws.session import (
    CALL_DEADLINE_S,
    EndpointSession,
    check_endpoint_url,
    make_client,
)
from cmkguard.errors import ConfigurationError

__all__ = ["AccessSpec", "AwsAccess", "RoleHop", "SessionSpec", "SharedClients", "process_clients"]

DEFAULT_SESSION_NAME = "cmkguard"
_STS_FALLBACK_REGION = "us-east-1"


@attrs.frozen
class RoleHop:
    """One role assumed on the way to an account: `role_arn`, with an optional `external_id`."""

    role_arn: str
    external_id: str | None = attrs.field(default=None, repr=False)
    session_name: str = DEFAULT_SESSION_NAME


def _new_id() -> str:
    return uuid.uuid4().hex


_LOADER_LOCK = threading.Lock()
_loader: Any = None


def shared_loader() -> Any:
    """One botocore data loader (parsed service models) for every session this process builds.

    An organisation scan builds two sessions per account (the base and the assumed role);
    each fresh botocore session would parse the service models again (RDS's alone is ~1 MB of
    JSON), which at hundreds of accounts costs more CPU than the scan. The loader only reads
    and caches model files, so sessions can share it (`register_component` is public).
    """
    global _loader
    with _LOADER_LOCK:
        if _loader is None:
            _loader = botocore.session.get_session().get_component("data_loader")
        return _loader


_handlers: HierarchicalEmitter | None = None


def _builtin_handlers() -> HierarchicalEmitter:
    """botocore's built-in event handlers, registered once per process.

    A new botocore session registers its ~150 built-in handlers one by one (8-9 ms of CPU,
    each name aliased and each handler's signature inspected); an organisation scan builds
    two sessions per account. The handlers are module functions, so a session can start
    from a copy of an emitter that already has them (`event_hooks`, a public argument):
    0.6 ms. The template is never changed after it is built.
    """
    global _handlers
    with _LOADER_LOCK:
        if _handlers is None:
            template = HierarchicalEmitter()
            botocore.session.Session(event_hooks=template)  # registers the built-ins there
            _handlers = template
        return _handlers


def _core_session() -> botocore.session.Session:
    core = botocore.session.Session(
        event_hooks=copy.copy(_builtin_handlers()), include_builtin_handlers=False
    )
    core.register_component("data_loader", shared_loader())
    return core


def _endpoint_url(instance: object, attribute: object, value: str | None) -> None:
    del instance, attribute
    if value is not None:
        check_endpoint_url(value)


@attrs.frozen
class AccessSpec:
    """The picklable description of an `AwsAccess`: where its credentials come from.

    `profile`: a named profile (`None`: the default chain: environment, SSO, instance role...).
    `region`: the default region. `endpoint_url`: send every client there (the emulator, a VPC
    endpoint). `access_key_id`/`secret_access_key`/`session_token`: static keys, only when the
    caller's session was built with explicit keys (the emulator's); never in `repr`. `roles`:
    the role chain assumed from that base, in order (empty: the base credentials themselves).
    `access_id` names one access for its lifetime (a copy in another process keeps it).
    """

    profile: str | None = None
    region: str | None = None
    # Checked here, so every way in (a session, an AccessSpec, a copy) fails as bad input
    # instead of as botocore's ValueError deep inside the first client.
    endpoint_url: str | None = attrs.field(default=None, validator=_endpoint_url)
    access_key_id: str | None = attrs.field(default=None, repr=False)
    secret_access_key: str | None = attrs.field(default=None, repr=False)
    session_token: str | None = attrs.field(default=None, repr=False)
    roles: tuple[RoleHop, ...] = ()
    access_id: str = attrs.field(factory=_new_id)

    @classmethod
    def from_session(cls, session: boto3.Session) -> AccessSpec:
        """The description that rebuilds `session` in another process.

        Explicit static keys are copied (the emulator's sessions use them); credentials that
        come from a profile, the environment or an instance role are found again by the other
        process through the same chain.
        """
        profile = session.profile_name if session.profile_name != "default" else None
        spec = cls(
            profile=profile,
            region=session.region_name,
            endpoint_url=getattr(session, "endpoint_url", None),
        )
        creds = session.get_credentials()
        if creds is not None and getattr(creds, "method", None) in ("explicit", "assume-role"):
            frozen = creds.get_frozen_credentials()
            spec = attrs.evolve(
                spec,
                access_key_id=frozen.access_key,
                secret_access_key=frozen.secret_key,
                session_token=frozen.token,
            )
        return spec

    @property
    def role_arn(self) -> str | None:
        """The last role of the chain (`None`: the base credentials)."""
        return self.roles[-1].role_arn if self.roles else None

    def for_role(
        self,
        role_arn: str,
        external_id: str | None = None,
        *,
        session_name: str = DEFAULT_SESSION_NAME,
    ) -> AccessSpec:
        """The same base, with `role_arn` assumed after the roles already in the chain."""
        hop = RoleHop(role_arn, external_id, session_name)
        return attrs.evolve(self, roles=(*self.roles, hop), access_id=_new_id())

    def base_session(self) -> boto3.Session:
        """A fresh session from the description, before any role is assumed."""
        kwargs: dict[str, Any] = {"region_name": self.region, "botocore_session": _core_session()}
        if self.profile:
            kwargs["profile_name"] = self.profile
        if self.access_key_id:
            kwargs["aws_access_key_id"] = self.access_key_id
            kwargs["aws_secret_access_key"] = self.secret_access_key
            kwargs["aws_session_token"] = self.session_token
        if self.endpoint_url:
            return EndpointSession(endpoint_url=self.endpoint_url, **kwargs)
        return boto3.Session(**kwargs)


SessionSpec = AccessSpec
"""Deprecated name of `AccessSpec` (no longer exported from `cmkguard`; see the CHANGELOG)."""


class _CredentialsProvider(botocore.credentials.CredentialProvider):
    """A session's only credentials: a role's, assumed already (refreshable ones refresh
    themselves before they expire).

    Registered as the session's `credential_provider` component (a public botocore hook), so
    no private attribute of the session is set and a long scan outlives the one-hour default.
    """

    METHOD = "cmkguard-assume-role"

    def __init__(self, credentials: botocore.credentials.Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> botocore.credentials.Credentials:
        return self._credentials


def _role_credentials(
    fetch: Callable[[], dict[str, str]],
) -> botocore.credentials.RefreshableCredentials:
    """A role's credentials, assumed now (errors raise here) and refreshed by `fetch`."""
    return botocore.credentials.RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method=_CredentialsProvider.METHOD
    )


def _role_fetcher(sts: Any, hop: RoleHop) -> Callable[[], dict[str, str]]:
    """What refreshes `hop`'s credentials: one `AssumeRole` through `sts`, as botocore's
    refreshable credentials want them."""
    params: dict[str, Any] = {"RoleArn": hop.role_arn, "RoleSessionName": hop.session_name}
    if hop.external_id:
        params["ExternalId"] = hop.external_id

    def fetch() -> dict[str, str]:
        creds = sts.assume_role(**params)["Credentials"]
        expiry = creds["Expiration"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiry.isoformat() if isinstance(expiry, datetime) else str(expiry),
        }

    return fetch


def _session_with(
    provider: botocore.credentials.CredentialProvider, endpoint: str | None, region: str | None
) -> boto3.Session:
    """A session whose only credentials are `provider`'s."""
    core = _core_session()
    resolver = botocore.credentials.CredentialResolver(providers=[provider])
    core.register_component("credential_provider", resolver)
    if endpoint:
        return EndpointSession(endpoint_url=endpoint, botocore_session=core, region_name=region)
    return boto3.Session(botocore_session=core, region_name=region)


def _assume(base: boto3.Session, hop: RoleHop, region: str | None) -> boto3.Session:
    """A session on `hop`'s role, from `base`'s credentials (assumed now: errors raise here)."""
    sts = make_client(base, "sts", region or base.region_name or _STS_FALLBACK_REGION)
    provider = _CredentialsProvider(_role_credentials(_role_fetcher(sts, hop)))
    return _session_with(provider, getattr(base, "endpoint_url", None), region)


class AwsAccess:
    """AWS access for one scan or one account: credentials, clients, and their lifetime.

    Build it with `from_session` (the caller's own session is used as is, so its event hooks and
    custom credential providers keep working) or `from_spec`; derive per-account access with
    `for_role` / `for_account` (role chains: call it again on the result). Clients are built on
    first use and cached on this object (`client`), thread-safely; `close()` (or leaving the
    `with` block) closes them and those of every access derived from this one. A pickled copy
    carries only its `AccessSpec` and rebuilds what it needs where it is unpickled.
    """

    def __init__(
        self,
        spec: AccessSpec,
        session: boto3.Session | None = None,
        *,
        shared: SharedClients | None = None,
    ) -> None:
        self._spec = spec
        self._session = session
        self._shared = shared
        self._sign_hooks: list[Callable[..., None]] = []
        self._lock = threading.RLock()
        # (service, region), or (service, region, config, deadline) for a client of its own.
        self._clients: dict[tuple[Any, ...], Any] = {}
        # A shared-client role access's credentials (it needs no session of its own).
        self._credentials: botocore.credentials.Credentials | None = None
        self._children: list[AwsAccess] = []
        self._parent: AwsAccess | None = None
        self._closed = False
        _register(self)

    @classmethod
    def from_session(cls, session: boto3.Session) -> AwsAccess:
        """Access through `session` itself (a `boto3.Session`, or an `EndpointSession`)."""
        return cls(AccessSpec.from_session(session), session)

    @classmethod
    def from_spec(cls, spec: AccessSpec, *, shared: SharedClients | None = None) -> AwsAccess:
        """Access rebuilt from a description (sessions and roles are set up on first use).

        With `shared`, the accesses derived from this one with `for_role` send their requests
        through `shared`'s clients, signed with their own role's credentials (see
        `SharedClients`); this access itself keeps clients of its own.
        """
        return cls(spec, shared=shared)

    def add_sign_hook(self, hook: Callable[..., None]) -> None:
        """Call `hook(signing_name=..., region_name=..., operation_name=...)` before each
        request of this access is signed (a rate limiter waits there). For the clients this
        access builds from now on; register it before the first `client` call."""
        with self._lock:
            self._check_open()
            self._sign_hooks.append(hook)
            if not self._uses_shared():
                self.session.events.register("before-sign", _sign_hook_adapter(hook))

    @property
    def spec(self) -> AccessSpec:
        """The picklable description of this access."""
        return self._spec

    @property
    def region(self) -> str | None:
        """The default region (the session's)."""
        return self._spec.region

    @property
    def closed(self) -> bool:
        """Whether `close()` was called (then no new client can be built)."""
        return self._closed

    @property
    def session(self) -> boto3.Session:
        """The session this access uses, built on first use (the role chain assumed then).

        Raises botocore's error when a role cannot be assumed (`check_role` turns it into data).
        """
        with self._lock:
            self._check_open()
            if self._session is None:
                if self._uses_shared():
                    provider = _CredentialsProvider(self.credentials())
                    self._session = _session_with(
                        provider, self._spec.endpoint_url, self._spec.region
                    )
                else:
                    self._session = self._build_session()
            return self._session

    def credentials(self) -> Any:
        """The credentials this access's requests are signed with (roles assumed now).

        A role access derived under `SharedClients` assumes its role through the shared STS
        client, signed by its parent's credentials, and builds no session or client of its
        own (an organisation scan enters hundreds of accounts); any other access asks its
        session. Raises botocore's error when a role cannot be assumed.
        """
        with self._lock:
            self._check_open()
            if not self._uses_shared():
                if self._shared is not None and not self._spec.roles and self._session is None:
                    # The caller's credentials, for its roles' AssumeRole: one session per
                    # description in the process, not one per account.
                    return self._shared.base_session(self._spec).get_credentials()
                return self.session.get_credentials()
            if self._credentials is None:
                self._credentials = self._assume_shared()
            return self._credentials

    def _assume_shared(self) -> botocore.credentials.Credentials:
        assert self._shared is not None
        hop = self._spec.roles[-1]
        if self._parent is None:  # built from a description: the chain below it, likewise
            below = attrs.evolve(self._spec, roles=self._spec.roles[:-1], access_id=_new_id())
            self._parent = AwsAccess(below, shared=self._shared)
        parent_credentials = self._parent.credentials()
        region = self._spec.region or _STS_FALLBACK_REGION
        sts = _BoundClient(
            self._shared.client(self._spec.endpoint_url, "sts", region),
            _Binding(parent_credentials),
        )
        return _role_credentials(_role_fetcher(sts, hop))

    def _build_session(self) -> boto3.Session:
        if not self._spec.roles:
            return self._spec.base_session()
        if self._parent is not None:
            base = self._parent.session
        else:
            base = attrs.evolve(self._spec, roles=self._spec.roles[:-1]).base_session()
            for hop in self._spec.roles[:-1]:
                base = _assume(base, hop, self._spec.region)
        return _assume(base, self._spec.roles[-1], self._spec.region)

    def client(
        self,
        service: str,
        region: str,
        *,
        config: Config | None = None,
        deadline: float = CALL_DEADLINE_S,
    ) -> Any:
        """A client for `service` in `region`, built once per access and shared by threads.

        `config` (merged over cmkguard's defaults) and `deadline` (seconds per call, retries
        included) make a client of their own, cached as well: the identity check's is one.
        """
        key: tuple[Any, ...] = (service, region)
        if config is not None or deadline != CALL_DEADLINE_S:
            key = (service, region, config, deadline)
        client = self._clients.get(key)
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                if self._uses_shared():
                    assert self._shared is not None
                    binding = _Binding(self.credentials(), tuple(self._sign_hooks))
                    shared = self._shared.client(
                        self._spec.endpoint_url, service, region, config=config, deadline=deadline
                    )
                    client = _BoundClient(shared, binding)
                else:
                    client = make_client(
                        self.session, service, region, config=config, deadline=deadline
                    )
                    use_fast_timestamps(client)
                    client.meta.events.register("after-call", check_response)
                self._clients[key] = client
            return client

    def _uses_shared(self) -> bool:
        # Only role accesses: the caller's own session (and its hooks) is always used as is.
        return self._shared is not None and bool(self._spec.roles)

    def for_role(
        self,
        role_arn: str,
        external_id: str | None = None,
        *,
        session_name: str = DEFAULT_SESSION_NAME,
    ) -> AwsAccess:
        """Access to `role_arn`'s account by assuming it from this access (lazily, refreshed).

        The result belongs to this access: closing this one closes it too.
        """
        with self._lock:
            self._check_open()
            child = AwsAccess(
                self._spec.for_role(role_arn, external_id, session_name=session_name),
                shared=self._shared,
            )
            child._parent = self
            self._children.append(child)
            return child

    def for_account(
        self,
        account: str,
        role_name: str,
        external_id: str | None = None,
        *,
        partition: str = "aws",
    ) -> AwsAccess:
        """Access to `account` through the role `role_name` there (`for_role` with its ARN)."""
        if not is_account_id(account):
            raise ConfigurationError(f"not an AWS account id: {account!r} (12 digits)")
        return self.for_role(f"arn:{partition}:iam::{account}:role/{role_name}", external_id)

    def close(self) -> None:
        """Close every client this access (and any access derived from it) built. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            children, self._children = self._children, []
            clients, self._clients = list(self._clients.values()), {}
        for child in children:
            child.close()
        for client in clients:
            client.close()
        parent = self._parent
        if parent is not None:
            with parent._lock:
                if self in parent._children:
                    parent._children.remove(self)
        with _TABLE_LOCK:
            if _LIVE.get(self._spec.access_id) is self:
                del _LIVE[self._spec.access_id]

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigurationError("this AwsAccess is closed: create a new one")

    def __enter__(self) -> AwsAccess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __reduce__(self) -> tuple[Callable[[AccessSpec], AwsAccess], tuple[AccessSpec]]:
        return _restore, (self._spec,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AwsAccess) and other._spec == self._spec

    def __hash__(self) -> int:
        return hash(self._spec)

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<AwsAccess {self._spec!r}{state}>"


@attrs.frozen
class _Binding:
    """Whose request a shared client is sending: that role's credentials and sign hooks."""

    credentials: Any = attrs.field(repr=False)
    hooks: tuple[Callable[..., None], ...] = ()


_BOUND: contextvars.ContextVar[_Binding | None] = contextvars.ContextVar(
    "cmkguard_bound_access", default=None
)


def _sign_hook_adapter(hook: Callable[..., None]) -> Callable[..., None]:
    def before_sign(
        signing_name: str | None = None,
        region_name: str | None = None,
        operation_name: str | None = None,
        **_: Any,
    ) -> None:
        hook(signing_name=signing_name, region_name=region_name, operation_name=operation_name)

    return before_sign


def _sign_as_bound(request: Any = None, **kwargs: Any) -> None:
    """`before-sign` of a shared client: sign with the bound role's credentials.

    botocore signs with `request.context["signing"]["request_credentials"]` when present (its
    per-request credentials, used for S3 Express sessions). Outside a binding nothing is set
    and the shared client, which has no credentials of its own, fails with botocore's
    NoCredentialsError: a request is never sent as another account.
    """
    binding = _BOUND.get()
    if binding is None or request is None:
        return
    request.context.setdefault("signing", {})["request_credentials"] = binding.credentials
    for hook in binding.hooks:
        _sign_hook_adapter(hook)(**kwargs)


class SharedClients:
    """One botocore client per (endpoint, service, region) for every role access of a process.

    An organisation scan enters hundreds of accounts; building ten botocore clients for each
    (service model, endpoint rules, event table, connection pool) cost more CPU than the
    requests themselves. The accesses derived with `for_role` from an access built with
    `AwsAccess.from_spec(spec, shared=...)` instead get a thin per-role view of these clients:
    each request is signed with that role's own (refreshable) credentials and waits for that
    access's sign hooks (its rate limiter), and connections are reused across accounts. The
    shared clients have no credentials of their own. They live as long as the process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._sessions: dict[str | None, boto3.Session] = {}
        self._bases: OrderedDict[AccessSpec, boto3.Session] = OrderedDict()

    def base_session(self, spec: AccessSpec) -> boto3.Session:
        """The caller's session rebuilt from `spec` (no roles), once per description.

        Every account of an organisation scan starts from the same caller; rebuilding its
        session (and resolving its credential chain: profile files, SSO cache...) per account
        cost more than the account's AssumeRole. A few descriptions are kept (a process runs
        one organisation scan at a time, rarely more).
        """
        with self._lock:
            session = self._bases.get(spec)
            if session is None:
                session = spec.base_session()
                self._bases[spec] = session
                while len(self._bases) > _BASES_KEPT:
                    self._bases.popitem(last=False)
            else:
                self._bases.move_to_end(spec)
            return session

    def client(
        self,
        endpoint_url: str | None,
        service: str,
        region: str,
        *,
        config: Config | None = None,
        deadline: float = CALL_DEADLINE_S,
    ) -> Any:
        """The shared client for `service` in `region` (at `endpoint_url`, if given), with
        `config` merged over cmkguard's defaults and `deadline` per call (see `make_client`)."""
        key = (endpoint_url, service, region, config, deadline)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                pool = _SHARED_POOL.merge(config) if config is not None else _SHARED_POOL
                client = make_client(
                    self._session(endpoint_url), service, region, config=pool, deadline=deadline
                )
                use_fast_timestamps(client)
                client.meta.events.register("after-call", check_response)
                client.meta.events.register_first("before-sign", _sign_as_bound)
                self._clients[key] = client
            return client

    def _session(self, endpoint_url: str | None) -> boto3.Session:
        """A session without credentials (an unbound request cannot be signed)."""
        session = self._sessions.get(endpoint_url)
        if session is None:
            core = _core_session()
            nobody = botocore.credentials.CredentialResolver(providers=[])
            core.register_component("credential_provider", nobody)
            if endpoint_url is None:
                session = boto3.Session(botocore_session=core)
            else:
                session = EndpointSession(endpoint_url=endpoint_url, botocore_session=core)
            self._sessions[endpoint_url] = session
        return session


# Every account in flight in this process uses the same client, each with its own threads:
# a pool of 64 would make urllib3 open and discard connections (and warn) under load.
# Connections are opened on demand, so a large pool costs nothing while idle.
_SHARED_POOL = Config(max_pool_connections=512)
_BASES_KEPT = 4

_PROCESS_CLIENTS = SharedClients()


def process_clients() -> SharedClients:
    """The `SharedClients` of this process (organisation scans in its threads share them)."""
    return _PROCESS_CLIENTS


class _BoundClient:
    """A shared botocore client seen as one role: its operations run bound to that role."""

    def __init__(self, client: Any, binding: _Binding) -> None:
        self._client = client
        self._binding = binding

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name in self._client.meta.method_to_api_mapping:
            return self._bound(attr)
        return attr

    def _bound(self, method: Callable[..., Any]) -> Callable[..., Any]:
        binding = self._binding

        def call(*args: Any, **kwargs: Any) -> Any:
            token = _BOUND.set(binding)
            try:
                return method(*args, **kwargs)
            finally:
                _BOUND.reset(token)

        return call

    def get_paginator(self, operation_name: str) -> _BoundPaginator:
        """The shared client's paginator, each page requested as this role."""
        return _BoundPaginator(self._client.get_paginator(operation_name), self._binding)

    def close(self) -> None:
        """Nothing to release: the shared client outlives this role's view of it."""

    def __repr__(self) -> str:
        return f"<bound {self._client.meta.service_model.service_name} client>"


class _BoundPaginator:
    def __init__(self, paginator: Any, binding: _Binding) -> None:
        self._paginator = paginator
        self._binding = binding

    def paginate(self, **kwargs: Any) -> Iterator[Any]:
        pages = iter(self._paginator.paginate(**kwargs))
        while True:
            token = _BOUND.set(self._binding)
            try:
                page = next(pages)
            except StopIteration:
                return
            finally:
                _BOUND.reset(token)
            yield page


# The two process-wide tables, and why they exist. Both are keyed by an access's id, never
# by what it describes, so two accesses never share state:
# _LIVE: the accesses alive in this process, weakly held, so a copy unpickled here (an executor
#   that pickles even in-process) is the live object itself, with the caller's session.
# _RESTORED: in a worker process, the copies unpickled there: an executor ships each unit
#   separately, and rebuilding per unit would assume the role once per unit. Bounded, because
#   workers outlive scans; an evicted copy is closed.
_LIVE: weakref.WeakValueDictionary[str, AwsAccess] = weakref.WeakValueDictionary()
_RESTORED: OrderedDict[str, AwsAccess] = OrderedDict()
_RESTORED_MAX = 16
_TABLE_LOCK = threading.Lock()


def _register(access: AwsAccess) -> None:
    with _TABLE_LOCK:
        _LIVE.setdefault(access.spec.access_id, access)


def _restore(spec: AccessSpec) -> AwsAccess:
    with _TABLE_LOCK:
        live = _LIVE.get(spec.access_id)
        if live is not None and live.spec == spec and not live.closed:
            return live
        restored = _RESTORED.get(spec.access_id)
        if restored is not None and not restored.closed:
            _RESTORED.move_to_end(spec.access_id)
            return restored
    access = AwsAccess(spec)
    with _TABLE_LOCK:
        _RESTORED[spec.access_id] = access
        evicted = []
        while len(_RESTORED) > _RESTORED_MAX:
            evicted.append(_RESTORED.popitem(last=False)[1])
    for old in evicted:
        old.close()
    return access


def _fast_timestamp(value: Any) -> datetime:
    """botocore's timestamp parsing without dateutil's generic parser for ISO 8601 text.

    A scan parses thousands of timestamps (every RDS record carries several); dateutil's
    parser was a third of the scanner's CPU. Same results: aware datetimes in UTC.
    """
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return parse_timestamp(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _scan_parser_factory() -> ResponseParserFactory:
    factory = ResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=_fast_timestamp)
    return factory


def use_fast_timestamps(client: Any) -> bool:
    """Parse `client`'s response timestamps with `_fast_timestamp`; whether it could be done.

    Why a private attribute: botocore has no public per-client hook for the timestamp parser
    (`set_parser_defaults` exists on the factory, but the session-level factory component would
    change the caller's own session), so the factory of this client's endpoint
    (`client._endpoint._response_parser_factory`, read by `Endpoint._do_get_response`) is
    replaced on clients this module built. If botocore renames it, the clients still work
    (dateutil parsing, slower): tests/aws/test_access.py fails so we notice.
    """
    endpoint = getattr(client, "_endpoint", None)
    if endpoint is None or not hasattr(endpoint, "_response_parser_factory"):
        return False
    endpoint._response_parser_factory = _scan_parser_factory()
    return True
