"""``scan()``: fan (account, region, resource type) units out over an Executor, then classify.

The coordinator (this module) runs in the caller's thread. It submits plain-data units
(`cmkguard.inventory.units`) to an executor and reacts as each finishes: a region's key listing
spawns one unit per key (so per-key reads overlap), a resource listing hands its key
identifiers to the resolver (`cmkguard.inventory.resolve`), which asks for a ``DescribeKey``
only for identifiers no listing explains, and spawns one read per distinct linked resource (a
secret's rotation Lambda) whose key the listed resources depend on. Everything that could not
be read becomes a :class:`~cmkguard.inventory.ScanError`; bad input raises before any AWS call.
"""

from __future__ import annotations

import concurrent.futures as cf
import queue
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from cmkguard.arn import parse_arn
from cmkguard.aws.access import SessionSpec, bind_session, release_session
from cmkguard.aws.identity import caller_account, check_role
from cmkguard.aws.regions import validate_regions
from cmkguard.errors import ConfigurationError
from cmkguard.inventory.aws_kms import KEY_READS, assemble_key
from cmkguard.inventory.aws_units import run_unit
from cmkguard.inventory.resolve import KeyResolver, Lookup, Resolved
from cmkguard.inventory.units import (
    DescribeUnit,
    KeyListUnit,
    KeyReadUnit,
    KeyUnit,
    LinkedUnit,
    ResourceUnit,
    ScanUnit,
    UnitResult,
)
from cmkguard.inventory.values import EncryptedResource, Inventory, KeyClass, KeyUse, ScanError
from cmkguard.resources import (
    KeyRef,
    LinkedKeySource,
    RawResource,
    get_resource_type,
    resolve_resource_types,
)
from cmkguard.types import AccountId, KeyArn, Region, ResourceTypeName

if TYPE_CHECKING:
    import boto3  # noqa: TID251 - a type only

__all__ = ["DEFAULT_MAX_WORKERS", "NullProgress", "ScanProgress", "scan"]

TAGS = "ListResourceTags"  # the per-key read a region's tag listing makes unnecessary

DEFAULT_MAX_WORKERS = 64
"""Threads of the default executor: round trips in flight at once (spread over regions and
services; botocore's adaptive retries slow down if AWS throttles)."""


class ScanProgress(Protocol):
    """Progress hooks a scan calls from the caller's thread (all optional: missing = no-op).

    ``on_start(units)`` once, with the units known up front; ``on_units_added(units)`` when
    finished units spawn more (one per key after a region's key listing, describes of
    identifiers no listing explains); ``on_unit_done(unit, items, errors)`` after each unit;
    ``on_finish(inventory)`` at the end.
    """

    def on_start(self, units: int) -> None:
        """The scan starts with ``units`` units of work."""

    def on_units_added(self, units: int) -> None:
        """``units`` more units of work were discovered."""

    def on_unit_done(self, unit: ScanUnit, items: int, errors: int) -> None:
        """``unit`` finished, having found ``items`` things and recorded ``errors`` errors."""

    def on_finish(self, inventory: Inventory) -> None:
        """The scan finished."""


class NullProgress:
    """The default progress hook: does nothing. Subclass it to implement only some hooks."""

    def on_start(self, units: int) -> None:
        """Do nothing."""

    def on_units_added(self, units: int) -> None:
        """Do nothing."""

    def on_unit_done(self, unit: ScanUnit, items: int, errors: int) -> None:
        """Do nothing."""

    def on_finish(self, inventory: Inventory) -> None:
        """Do nothing."""


def _call(progress: object, hook: str, *args: Any) -> None:
    method = getattr(progress, hook, None)
    if method is not None:
        method(*args)


class _Scan:
    """One scan's coordinator state (caller's thread only)."""

    def __init__(self, executor: cf.Executor, progress: object) -> None:
        self.executor = executor
        self.progress = progress
        self.pending: dict[cf.Future[UnitResult], ScanUnit] = {}
        self.finished: queue.SimpleQueue[cf.Future[UnitResult]] = queue.SimpleQueue()
        self.resolver = KeyResolver()
        self.specs: dict[str, SessionSpec] = {}
        self.raw: dict[str, list[tuple[str, RawResource]]] = {}
        self.errors: list[ScanError] = []
        self.open_refs: set[tuple[str, str, str]] = set()
        self.describing: set[tuple[str, str, str]] = set()
        self.key_reads: dict[
            str, tuple[Mapping[str, Any], tuple[str, ...], dict[str, Any], int]
        ] = {}
        # (account, purpose, linked ARN) -> its key reference once read; requested once each.
        self.linked: dict[tuple[str, str, str], KeyRef] = {}
        self.linked_requested: set[tuple[str, str, str]] = set()

    def submit(self, units: Sequence[ScanUnit], *, initial: bool = False) -> None:
        if not units:
            return
        _call(self.progress, "on_start" if initial else "on_units_added", len(units))
        for unit in units:
            future = self.executor.submit(run_unit, unit)
            self.pending[future] = unit
            # A completion queue, not cf.wait(): wait() re-arms every pending future on each
            # call, quadratic with the thousand-odd units of a large scan.
            future.add_done_callback(self.finished.put)

    def handle(self, result: UnitResult) -> None:
        unit = result.unit
        self.errors.extend(result.errors)
        if isinstance(unit, KeyListUnit):
            if result.listing_failed:
                self.resolver.listing_failed(unit.account, unit.region)
                return
            self.resolver.add_listing(unit.account, unit.region, result.key_arns, result.aliases)
            by_id: dict[str, list[str]] = {}
            for alias, target in result.aliases.items():
                by_id.setdefault(target, []).append(alias)
            self.submit(
                [
                    KeyUnit(
                        unit.spec,
                        unit.account,
                        unit.region,
                        arn,
                        tuple(sorted(by_id.get(arn.rsplit("/", 1)[-1], ()))),
                        None if result.key_tags is None else dict(result.key_tags.get(arn, {})),
                    )
                    for arn in result.key_arns
                ]
            )
        elif isinstance(unit, KeyUnit):
            if result.key is not None:
                self.resolver.add_key(result.key)
            elif result.metadata is not None:
                # A CMK: its reads run concurrently, one unit each; the key is assembled
                # when the last one is back. Tags already came with the region's listing.
                values: dict[str, Any] = {}
                if unit.tags is not None:
                    values[TAGS] = unit.tags
                reads = [op for op in KEY_READS if op not in values]
                self.key_reads[unit.key_arn] = (result.metadata, unit.aliases, values, len(reads))
                self.submit(
                    [
                        KeyReadUnit(
                            unit.spec, unit.account, unit.region, unit.key_arn, op, result.metadata
                        )
                        for op in reads
                    ]
                )
            else:
                self.resolver.add_denied(unit.key_arn, result.denied_reason or "not described")
        elif isinstance(unit, KeyReadUnit):
            metadata, aliases, values, waiting = self.key_reads[unit.key_arn]
            if not result.errors:
                values[unit.operation] = result.value
            if waiting > 1:
                self.key_reads[unit.key_arn] = (metadata, aliases, values, waiting - 1)
            else:
                del self.key_reads[unit.key_arn]
                self.resolver.add_key(assemble_key(metadata, aliases, values))
        elif isinstance(unit, DescribeUnit):
            self.resolver.add_described(
                unit.account, unit.region, unit.reference, result.key, result.denied_reason
            )
        elif isinstance(unit, LinkedUnit):
            self.add_linked(unit, result)
        else:
            bucket = self.raw.setdefault(unit.resource_type, [])
            sources = get_resource_type(unit.resource_type).linked
            linked: list[ScanUnit] = []
            for res in result.resources:
                bucket.append((unit.account, res))
                self.note_refs(unit.account, res)
                for source in sources:
                    linked.extend(self.linked_unit(unit, source, res))
            self.submit(linked)

    def linked_unit(
        self, unit: ResourceUnit, source: LinkedKeySource, res: RawResource
    ) -> list[ScanUnit]:
        """The read of ``res``'s linked resource, unless another resource asked for it first."""
        arn = source.target(res)
        if arn is None or (unit.account, source.purpose, arn) in self.linked_requested:
            return []
        self.linked_requested.add((unit.account, source.purpose, arn))
        try:
            region = parse_arn(arn).region or unit.region
        except ValueError:
            region = unit.region  # a bare name: it lives in the resource's region
        return [
            LinkedUnit(unit.spec, unit.account, region, unit.resource_type, source.purpose, arn)
        ]

    def add_linked(self, unit: LinkedUnit, result: UnitResult) -> None:
        """Record a linked resource's key reference (or why it could not be read)."""
        source = get_resource_type(unit.resource_type).linked_source(unit.purpose)
        region = Region(unit.region)
        if result.errors:
            reason = f"{unit.arn} could not be read: {result.errors[0].reason}"
            ref = KeyRef(unit.purpose, region, None, detail=unit.arn, failure=reason)
        else:
            ref = KeyRef(
                unit.purpose,
                region,
                result.value,
                default_alias=source.default_alias,
                detail=unit.arn,
            )
            ident = ref.reference or ref.default_alias
            if ident:
                self.open_refs.add((unit.account, ref.region, ident))
        self.linked[(unit.account, unit.purpose, unit.arn)] = ref

    def note_refs(self, account: str, res: RawResource) -> None:
        for ref in (res.key, *res.secondary):
            ident = ref.reference or ref.default_alias
            if ref.encrypted and ident:
                self.open_refs.add((account, ref.region, ident))

    def dispatch_describes(self) -> None:
        """Ask for a DescribeKey for every open identifier only a describe can answer."""
        units: list[ScanUnit] = []
        for account, region, ident in sorted(self.open_refs):
            answer = self.resolver.lookup(account, region, ident)
            if answer is Lookup.WAIT:
                continue
            self.open_refs.discard((account, region, ident))
            if answer is Lookup.DESCRIBE:
                target = self.resolver.describe_target(account, region, ident)
                key = (target[0], target[1], ident)
                if key not in self.describing:
                    self.describing.add(key)
                    units.append(DescribeUnit(self.specs[account], target[0], target[1], ident))
        self.submit(units)

    def drain(self) -> None:
        while self.pending:
            batch = [self.finished.get()]
            while True:  # take every unit that is already done, then react once
                try:
                    batch.append(self.finished.get_nowait())
                except queue.Empty:
                    break
            for future in batch:
                unit = self.pending.pop(future)
                result = future.result()  # a bug in a unit raises here, never silently
                self.handle(result)
                _call(self.progress, "on_unit_done", unit, result.items, len(result.errors))
            self.dispatch_describes()

    def resolve(self, account: str, ref: KeyRef) -> tuple[KeyClass, KeyArn | None, str | None]:
        if ref.failure is not None:
            return KeyClass.UNKNOWN, None, ref.failure
        if not ref.encrypted:
            return KeyClass.UNENCRYPTED, None, None
        ident = ref.reference or ref.default_alias
        if not ident:
            return KeyClass.UNKNOWN, None, "encrypted, but the service reported no key"
        answer = self.resolver.lookup(account, ref.region, ident)
        if not isinstance(answer, Resolved):
            return KeyClass.UNKNOWN, None, f"{ident} could not be resolved"
        key_class, reason = answer.classify(account)
        return key_class, answer.key_arn, reason

    def linked_refs(self, account: str, type_name: str, res: RawResource) -> list[KeyRef]:
        """The key references of ``res``'s linked resources (read once each during the scan)."""
        refs = []
        for source in get_resource_type(type_name).linked:
            arn = source.target(res)
            ref = self.linked.get((account, source.purpose, arn)) if arn else None
            if ref is not None:
                refs.append(ref)
        return refs

    def build(self, account: str, type_name: str, res: RawResource) -> EncryptedResource:
        key_class, key_arn, reason = self.resolve(account, res.key)
        uses = []
        for ref in (*res.secondary, *self.linked_refs(account, type_name, res)):
            kc, arn, why = self.resolve(account, ref)
            uses.append(KeyUse(ref.purpose, ref.region, arn, kc, why, ref.detail))
        return EncryptedResource(
            arn=res.arn,
            resource_type=ResourceTypeName(type_name),
            account=AccountId(account),
            region=Region(parse_arn(res.arn).region or res.key.region),
            name=res.name,
            key_class=key_class,
            key_arn=key_arn,
            key_reference=res.key.reference,
            reason=reason,
            tags=res.tags,
            details=res.details,
            secondary_keys=tuple(uses),
        )


def _default_regions(session: boto3.Session) -> tuple[Region, ...]:
    if not session.region_name:
        raise ConfigurationError(
            "no region to scan: pass regions=[...] (CLI: --regions) or configure a default region"
        )
    return validate_regions([session.region_name])


def scan(
    session: boto3.Session,
    regions: Iterable[str] | None = None,
    resource_types: Iterable[str] | None = None,
    executor: cf.Executor | None = None,
    progress: ScanProgress | object | None = None,
    *,
    role_arns: Sequence[str] | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
) -> Inventory:
    """Inventory the encrypted resources and KMS keys of an account (or several) across regions.

    Args:
        session: The ``boto3.Session`` to scan with (an ``EndpointSession`` for the emulator).
        regions: Region names (default: the session's region). Validated before any AWS call.
        resource_types: Registry names such as ``"rds:db-instance"``, or a service prefix
            (``"rds"``); default: every registered type.
        executor: Any ``concurrent.futures.Executor`` to run the units on (threads,
            processes...); default: a thread pool of ``max_workers`` threads owned by the scan.
        progress: A :class:`ScanProgress` hook (default: none).
        role_arns: Scan these accounts instead, by assuming each role from ``session``.
        max_workers: Threads of the default executor.

    Returns:
        The :class:`~cmkguard.inventory.Inventory`: resources with their key class, every key of
        the scanned regions (and any other key a resource uses), and a
        :class:`~cmkguard.inventory.ScanError` for everything that could not be read.

    Raises:
        UnknownRegionError: a region name AWS does not have (before any AWS call).
        UnknownResourceTypeError: a type not in the registry (before any AWS call).
        NoCredentialsError: the session has no credentials.
        EndpointUnreachableError: the endpoint does not answer.
    """
    region_list = validate_regions(regions) if regions is not None else _default_regions(session)
    if not region_list:
        raise ConfigurationError("regions is empty: name at least one region")
    types = resolve_resource_types(list(resource_types) if resource_types is not None else None)
    progress = progress if progress is not None else NullProgress()
    base = SessionSpec.from_session(session)
    bind_session(base, session)
    errors: list[ScanError] = []
    try:
        # One cheap STS call: proves credentials and endpoint before fanning out.
        own_account = caller_account(session, region_list[0])
        accounts: dict[str, SessionSpec] = {}
        if role_arns:
            for role in role_arns:
                spec = base.for_role(role)
                account = parse_arn(role).account
                failure = check_role(spec)
                if failure is not None:
                    reason, code = failure
                    errors.append(
                        ScanError(account, region_list[0], "AssumeRole", reason, error_code=code)
                    )
                    continue
                accounts[account] = spec
        else:
            accounts[own_account] = base
        own = executor is None
        pool = executor or cf.ThreadPoolExecutor(max_workers, thread_name_prefix="cmkguard-scan")
        try:
            state = _Scan(pool, progress)
            state.errors.extend(errors)
            state.specs.update(accounts)
            units: list[ScanUnit] = []
            for account, spec in accounts.items():
                for region in region_list:
                    state.resolver.scanned.add((account, region))
                    units.append(KeyListUnit(spec, account, region))
                    units.extend(ResourceUnit(spec, account, region, t.name) for t in types)
            state.submit(units, initial=True)
            state.drain()
            # Cross-region links (a secret's replicas) see every region at once.
            for rtype in types:
                if rtype.link is not None and rtype.name in state.raw:
                    pairs = state.raw[rtype.name]
                    by_account: dict[str, list[RawResource]] = {}
                    for account, res in pairs:
                        by_account.setdefault(account, []).append(res)
                    linked = [(a, r) for a, rs in by_account.items() for r in rtype.link(rs)]
                    state.raw[rtype.name] = linked
                    for account, res in linked:
                        state.note_refs(account, res)
            state.dispatch_describes()
            state.drain()
        finally:
            if own:
                pool.shutdown(wait=True, cancel_futures=True)
        resources = [
            state.build(account, type_name, res)
            for type_name, pairs in state.raw.items()
            for account, res in pairs
        ]
        resources.sort(key=lambda r: (r.account, r.region, r.resource_type, r.arn))
        keys = sorted(state.resolver.keys.values(), key=lambda k: k.arn)
        scanned = set(accounts)
        external = sorted(
            (k for k in state.resolver.external.values() if k.account not in scanned),
            key=lambda k: k.arn,
        )
        all_errors = sorted(
            set(state.errors),
            key=lambda e: (e.account, e.region, e.resource_type or "", e.operation, e.target or ""),
        )
        inventory = Inventory(
            resources=resources,
            keys=keys,
            errors=all_errors,
            accounts=sorted(accounts) if accounts else sorted({*(e.account for e in errors)}),
            regions=region_list,
            resource_types=[t.name for t in types],
            scanned_at=datetime.now(UTC),
            external_keys=external,
        )
    finally:
        release_session(base)
    _call(progress, "on_finish", inventory)
    return inventory
