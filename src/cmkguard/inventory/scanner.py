"""`scan()`: fan (account, region, resource type) units out over an Executor, then classify.

The coordinator (this module) runs in the caller's thread. It submits plain-data units
(`cmkguard.inventory.units`) to an executor and reacts as each finishes: a region's key listing
spawns one unit per key (so per-key reads overlap), a resource listing hands its key
identifiers to the resolver (`cmkguard.inventory.resolve`), which asks for a `DescribeKey`
only for identifiers no listing explains, and spawns one read per distinct linked resource (a
secret's rotation Lambda) whose key the listed resources depend on. Everything that could not
be read becomes a `ScanError`; bad input raises before any AWS call.
"""

from __future__ import annotations

import concurrent.futures as cf
import queue
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cmkguard.arn import is_account_id, parse_arn
from cmkguard.aws.access import AwsAccess
from cmkguard.aws.identity import caller_account, check_role
from cmkguard.aws.regions import validate_regions
from cmkguard.errors import ConfigurationError
from cmkguard.inventory.aws_kms import KEY_READS, assemble_key
from cmkguard.inventory.aws_units import run_unit
from cmkguard.inventory.progress import (
    ProgressCallback,
    ScanEvent,
    ScanEventKind,
    ScanProgress,
    as_callback,
)
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
    ResourceType,
    get_resource_type,
    resolve_resource_types,
)
from cmkguard.types import AccountId, KeyArn, Region, ResourceTypeName

if TYPE_CHECKING:
    import boto3  # noqa: TID251 - a type only

__all__ = ["DEFAULT_MAX_WORKERS", "scan"]

TAGS = "ListResourceTags"  # the per-key read a region's tag listing makes unnecessary

DEFAULT_MAX_WORKERS = 64
"""Threads of the default executor: round trips in flight at once (spread over regions and
services; botocore's retries back off if AWS throttles)."""


class _Scan:
    """One scan's coordinator state (caller's thread only)."""

    def __init__(self, executor: cf.Executor, progress: ProgressCallback) -> None:
        self.executor = executor
        self.progress = progress
        self.total = 0
        self.done = 0
        self.pending: dict[cf.Future[UnitResult], ScanUnit] = {}
        self.finished: queue.SimpleQueue[cf.Future[UnitResult]] = queue.SimpleQueue()
        self.resolver = KeyResolver()
        self.accesses: dict[str, AwsAccess] = {}
        self.raw: dict[str, list[tuple[str, RawResource]]] = {}
        # (type, account, region) whose listing failed: cross-region links into it are unknown.
        self.failed_listings: set[tuple[str, str, str]] = set()
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
        self.total += len(units)
        kind = ScanEventKind.STARTED if initial else ScanEventKind.UNITS_ADDED
        self.progress(ScanEvent(kind, self.done, self.total, added=len(units)))
        for unit in units:
            future = self.executor.submit(run_unit, unit)
            self.pending[future] = unit
            # A completion queue, not cf.wait(): wait() re-arms every pending future on each
            # call, quadratic with the thousand-odd units of a large scan.
            future.add_done_callback(self.finished.put)

    def handle(self, result: UnitResult) -> None:
        """React to a finished unit: by its type (`_HANDLERS`), in the caller's thread."""
        self.errors.extend(result.errors)
        _HANDLERS[type(result.unit)](self, result.unit, result)

    def on_key_list(self, unit: KeyListUnit, result: UnitResult) -> None:
        """A region's keys are listed: one `KeyUnit` per key (aliases and tags attached)."""
        if result.listing_failed:
            self.resolver.listing_failed(unit.account, unit.region)
            return
        self.resolver.add_listing(
            unit.account,
            unit.region,
            result.key_arns,
            result.aliases,
            aliases_ok=not result.aliases_failed,
        )
        by_id: dict[str, list[str]] = {}
        for alias, target in result.aliases.items():
            by_id.setdefault(target, []).append(alias)
        self.submit(
            [
                KeyUnit(
                    unit.access,
                    unit.account,
                    unit.region,
                    arn,
                    tuple(sorted(by_id.get(arn.rsplit("/", 1)[-1], ()))),
                    None if result.key_tags is None else dict(result.key_tags.get(arn, {})),
                )
                for arn in result.key_arns
            ]
        )

    def on_key(self, unit: KeyUnit, result: UnitResult) -> None:
        """A key is described: complete (AWS-managed), denied, or a CMK whose reads follow."""
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
                        unit.access, unit.account, unit.region, unit.key_arn, op, result.metadata
                    )
                    for op in reads
                ]
            )
        else:
            self.resolver.add_denied(unit.key_arn, result.denied_reason or "not described")

    def on_key_read(self, unit: KeyReadUnit, result: UnitResult) -> None:
        """One read of a CMK is back; the last one assembles the key."""
        metadata, aliases, values, waiting = self.key_reads[unit.key_arn]
        if not result.errors:
            values[unit.operation] = result.value
        if waiting > 1:
            self.key_reads[unit.key_arn] = (metadata, aliases, values, waiting - 1)
        else:
            del self.key_reads[unit.key_arn]
            self.resolver.add_key(assemble_key(metadata, aliases, values))

    def on_describe(self, unit: DescribeUnit, result: UnitResult) -> None:
        """An identifier no listing explained is described (or why it could not be)."""
        self.resolver.add_described(
            unit.account, unit.region, unit.reference, result.key, result.denied_reason
        )

    def on_resources(self, unit: ResourceUnit, result: UnitResult) -> None:
        """A resource listing is back: keep its records, note their keys, read linked ones."""
        bucket = self.raw.setdefault(unit.resource_type, [])
        if result.listing_failed:
            self.failed_listings.add((unit.resource_type, unit.account, unit.region))
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
        """The read of `res`'s linked resource, unless another resource asked for it first."""
        arn = source.target(res)
        if arn is None or (unit.account, source.purpose, arn) in self.linked_requested:
            return []
        self.linked_requested.add((unit.account, source.purpose, arn))
        try:
            region = parse_arn(arn).region or unit.region
        except ValueError:
            region = unit.region  # a bare name: it lives in the resource's region
        return [
            LinkedUnit(unit.access, unit.account, region, unit.resource_type, source.purpose, arn)
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
                    access = self.accesses[account]
                    units.append(DescribeUnit(access, target[0], target[1], ident))
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
                self.done += 1
                self.progress(
                    ScanEvent(
                        ScanEventKind.UNIT_DONE,
                        self.done,
                        self.total,
                        unit=unit,
                        items=result.items,
                        errors=len(result.errors),
                    )
                )
            self.dispatch_describes()

    def resolve(self, account: str, ref: KeyRef) -> tuple[KeyClass, KeyArn | None, str | None]:
        if ref.failure is not None:
            return KeyClass.UNKNOWN, None, ref.failure
        if ref.aws_owned:
            return KeyClass.AWS_OWNED, None, None
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
        """The key references of `res`'s linked resources (read once each during the scan)."""
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
            record=res.record,
        )


_HANDLERS: dict[type, Callable[[_Scan, Any, UnitResult], None]] = {
    KeyListUnit: _Scan.on_key_list,
    KeyUnit: _Scan.on_key,
    KeyReadUnit: _Scan.on_key_read,
    DescribeUnit: _Scan.on_describe,
    LinkedUnit: _Scan.add_linked,
    ResourceUnit: _Scan.on_resources,
}
"""How the coordinator reacts to each kind of finished unit."""


def _default_regions(access: AwsAccess) -> tuple[Region, ...]:
    if not access.region:
        raise ConfigurationError(
            "no region to scan: pass regions=[...] (CLI: --regions) or configure a default region"
        )
    return validate_regions([access.region])


def _accounts(
    access: AwsAccess, role_arns: Sequence[str] | None, region: str
) -> tuple[dict[str, AwsAccess], list[ScanError]]:
    """The accounts to scan with their access: the caller's own, or one per role that works."""
    # One cheap STS call: proves credentials and endpoint before fanning out.
    own_account = caller_account(access, region)
    if not role_arns:
        return {own_account: access}, []
    accounts: dict[str, AwsAccess] = {}
    errors: list[ScanError] = []
    for role in role_arns:
        child = access.for_role(role)
        account = parse_arn(role).account
        failure = check_role(child)
        if failure is not None:
            child.close()
            reason, code = failure
            errors.append(ScanError(account, region, "AssumeRole", reason, error_code=code))
            continue
        accounts[account] = child
    return accounts, errors


def _check_session(session: object) -> None:
    """A `boto3.Session` (duck-typed: an `EndpointSession` or a user's subclass) or `AwsAccess`."""
    if isinstance(session, AwsAccess):
        return
    if not all(callable(getattr(session, name, None)) for name in ("client", "get_credentials")):
        raise ConfigurationError(
            f"session must be a boto3.Session or a cmkguard.AwsAccess, not {type(session).__name__}"
        )


def _check_role_arns(role_arns: Sequence[str] | None) -> Sequence[str] | None:
    """Each an IAM role ARN (`arn:aws:iam::123456789012:role/name`): a typo fails before any
    AWS call instead of becoming an AssumeRole error per role."""
    if role_arns is None:
        return None
    if isinstance(role_arns, str):
        raise ConfigurationError(
            f"role_arns must be a list of role ARNs, not the string {role_arns!r} "
            f"(write [{role_arns!r}])"
        )
    checked = list(role_arns)
    for role in checked:
        try:
            arn = parse_arn(role) if isinstance(role, str) else None
        except ValueError:
            arn = None
        if (
            arn is None
            or arn.service != "iam"
            or not is_account_id(arn.account)
            or not arn.resource.startswith("role/")
            or arn.resource == "role/"
        ):
            raise ConfigurationError(
                f"role_arns: {role!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"
            )
    return checked


def _check_max_workers(max_workers: object) -> None:
    # bool is an int subclass: max_workers=True would be one thread, surely not what was meant.
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ConfigurationError(
            f"max_workers must be a whole number of at least 1, not {max_workers!r}"
        )


def _link_across_regions(state: _Scan, types: Sequence[ResourceType]) -> None:
    """Cross-region links (a secret's replicas) see every region at once."""
    for rtype in types:
        if rtype.link is not None and rtype.name in state.raw:
            by_account: dict[str, list[RawResource]] = {}
            for account, res in state.raw[rtype.name]:
                by_account.setdefault(account, []).append(res)
            linked = [(a, r) for a, rs in by_account.items() for r in rtype.link(rs)]
            state.raw[rtype.name] = linked
            for account, res in linked:
                state.note_refs(account, res)
            state.errors.extend(_unlinked(state, rtype, linked))


def _unlinked(
    state: _Scan, rtype: ResourceType, linked: Sequence[tuple[str, RawResource]]
) -> list[ScanError]:
    """An error naming each resource whose links into a region with a failed listing are
    unknown (a secret's replica there): its key use there would otherwise vanish silently."""
    errors = []
    for name, account, region in sorted(state.failed_listings):
        if name != rtype.name:
            continue
        for owner, res in linked:
            if owner != account or res.key.region == region:
                continue
            if res.details.get("primary_region") or any(
                ref.region == region for ref in res.secondary
            ):
                continue  # its own record says what is there (replication status, described)
            errors.append(
                ScanError(
                    account,
                    region,
                    rtype.operation,
                    f"what {res.name} has in {region} (a replica's key) is unknown: "
                    f"{rtype.operation} failed there",
                    rtype.name,
                    "LinkUnknown",
                    res.arn,
                )
            )
    return errors


def _run(
    state: _Scan, accounts: Mapping[str, AwsAccess], regions: Sequence[Region], types: Any
) -> None:
    units: list[ScanUnit] = []
    for account, access in accounts.items():
        for region in regions:
            state.resolver.scanned.add((account, region))
            units.append(KeyListUnit(access, account, region))
            units.extend(ResourceUnit(access, account, region, t.name) for t in types)
    state.submit(units, initial=True)
    state.drain()
    _link_across_regions(state, types)
    state.dispatch_describes()
    state.drain()


def _inventory(
    state: _Scan,
    accounts: Mapping[str, AwsAccess],
    regions: Sequence[Region],
    types: Sequence[ResourceType],
) -> Inventory:
    resources = [
        state.build(account, type_name, res)
        for type_name, pairs in state.raw.items()
        for account, res in pairs
    ]
    resources.sort(key=lambda r: (r.account, r.region, r.resource_type, r.arn))
    keys = sorted(state.resolver.keys.values(), key=lambda k: k.arn)
    external = sorted(
        (k for k in state.resolver.external.values() if k.account not in accounts),
        key=lambda k: k.arn,
    )
    errors = sorted(
        set(state.errors),
        key=lambda e: (e.account, e.region, e.resource_type or "", e.operation, e.target or ""),
    )
    return Inventory(
        resources=resources,
        keys=keys,
        errors=errors,
        accounts=sorted(accounts) if accounts else sorted({e.account for e in state.errors}),
        regions=regions,
        resource_types=[t.name for t in types],
        scanned_at=datetime.now(UTC),
        external_keys=external,
    )


def scan(
    session: boto3.Session | AwsAccess,
    regions: Iterable[str] | None = None,
    resource_types: Iterable[str] | None = None,
    executor: cf.Executor | None = None,
    progress: ProgressCallback | ScanProgress | None = None,
    *,
    role_arns: Sequence[str] | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
) -> Inventory:
    """Inventory the encrypted resources and KMS keys of an account (or several) across regions.

    Args:
        session: The `boto3.Session` to scan with (an `EndpointSession` for the emulator), or
            an `AwsAccess` (then its lifetime stays the caller's: the scan does not close it).
        regions: Region names (default: the session's region). Validated before any AWS call.
        resource_types: Registry names such as `"rds:db-instance"`, or a service prefix
            (`"rds"`); default: every registered type.
        executor: Any `concurrent.futures.Executor` to run the units on (threads,
            processes...); default: a thread pool of `max_workers` threads owned by the scan.
        progress: A callable, called from the caller's thread with a `ScanEvent` when the scan
            starts, when units are added, after each unit and at the end (default: none). An
            object with `on_start`/`on_unit_done`... methods (`ScanProgress`) is deprecated.
        role_arns: Scan these accounts instead, by assuming each role from `session`.
        max_workers: Threads of the default executor.

    Returns:
        The `Inventory`: resources with their key class, every key of the scanned regions (and
        any other key a resource uses), and a `ScanError` for everything that could not be read.

    Raises:
        UnknownRegionError: a region name AWS does not have (before any AWS call).
        UnknownResourceTypeError: a type not in the registry (before any AWS call).
        NoCredentialsError: the session has no credentials.
        EndpointUnreachableError: the endpoint does not answer.
    """
    # Bad input raises before any AWS call (and before any access is built).
    explicit = validate_regions(regions) if regions is not None else None
    if explicit is not None and not explicit:
        raise ConfigurationError("regions is empty: name at least one region")
    types = resolve_resource_types(resource_types)
    role_arns = _check_role_arns(role_arns)
    _check_max_workers(max_workers)
    _check_session(session)
    callback = as_callback(progress)
    owned = not isinstance(session, AwsAccess)
    access = AwsAccess.from_session(session) if not isinstance(session, AwsAccess) else session
    accounts: dict[str, AwsAccess] = {}
    try:
        region_list = explicit or _default_regions(access)
        accounts, errors = _accounts(access, role_arns, region_list[0])
        pool = executor or cf.ThreadPoolExecutor(max_workers, thread_name_prefix="cmkguard-scan")
        try:
            state = _Scan(pool, callback)
            state.errors.extend(errors)
            state.accesses.update(accounts)
            _run(state, accounts, region_list, types)
        finally:
            if executor is None:
                pool.shutdown(wait=True, cancel_futures=True)
        inventory = _inventory(state, accounts, region_list, types)
    finally:
        # Deterministic release: the scan's own access, or the per-role accesses it derived.
        if owned:
            access.close()
        else:
            for child in accounts.values():
                if child is not access:
                    child.close()
    callback(ScanEvent(ScanEventKind.FINISHED, state.done, state.total, inventory=inventory))
    return inventory
