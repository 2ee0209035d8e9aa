"""Cross-account snapshot sharing as a reviewable plan, run by `cmkguard.execute` (pure).

AWS cannot share a snapshot encrypted with an AWS-managed key (`aws/rds`): the snapshot must be
on a customer-managed key whose policy lets the other account use it. `plan_snapshot_share`
builds the whole path as one `MigrationPlan`:

1. *copy*: a snapshot on `aws/rds`, an AWS owned key, another key, unencrypted, or automated
   (automated snapshots cannot be shared) is first copied onto the CMK; the source is only read;
2. *key policy*: the key's current policy (from the scan) is checked unchanged
   (`GetKeyPolicy`), then put back with two least-privilege statements for the other account
   (`cmkguard.guardrails.cross_account_read_statements`: decrypt and grants only through RDS in
   the key's region, optionally ended by `aws:CurrentTime`), checked by the analyser at planning
   time: the plan is blocked if the key would become public or anyone but the named account
   would gain access;
3. *share*: `ModifyDBSnapshotAttribute` / `ModifyDBClusterSnapshotAttribute` adds the account
   to the `restore` attribute.

The plan's `rollback_plan()` is the revocation (remove the account from `restore`, put the old
key policy back once it is checked unchanged); `plan_share_revocation` builds the same from a
later scan. `plan_shared_snapshot_copy` is the other account's side: copy the shared snapshot
onto its own key (run it with that account's session).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from cmkguard.arn import parse_arn
from cmkguard.errors import ConfigurationError, PolicyParseError
from cmkguard.guardrails import cross_account_read_statements
from cmkguard.inventory.values import EncryptedResource, Inventory, KeyClass, KmsKey
from cmkguard.migrate._base import copy_snapshot_request, ident
from cmkguard.migrate.model import (
    MigrationPlan,
    MigrationStep,
    PreflightItem,
    PreflightLevel,
    StepKind,
    StepPhase,
)
from cmkguard.migrate.preflight import check_key, resolve_target_key
from cmkguard.policy import compare_key_policies

__all__ = [
    "SHARE_SID_PREFIX",
    "plan_share_revocation",
    "plan_shared_snapshot_copy",
    "plan_snapshot_share",
    "share_sid_prefix",
]

SHARE_SID_PREFIX = "CmkguardSnapshotShare"
"""Start of the `Sid` of every key-policy statement a share adds (`share_sid_prefix`)."""

_SNAPSHOT_KINDS = {"snapshot": False, "cluster-snapshot": True}


def share_sid_prefix(account: str) -> str:
    """The `Sid` prefix of the statements sharing a key with `account` (what revocation removes)."""
    return f"{SHARE_SID_PREFIX}{account}"


def _check_account(account: Any) -> str:
    if not isinstance(account, str) or len(account) != 12 or not account.isdigit():
        raise ConfigurationError(f"target account {account!r} is not a 12-digit account id")
    return account


def _expiry(expires: datetime | date | str | None) -> str | None:
    """`expires` as the ISO 8601 UTC text `aws:CurrentTime` is compared with."""
    if expires is None:
        return None
    when: datetime
    if isinstance(expires, str):
        try:
            parsed = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigurationError(
                f"expiry {expires!r} is not an ISO 8601 date or time (2027-03-31 or "
                "2027-03-31T12:00:00Z)"
            ) from None
        when = parsed
    elif isinstance(expires, datetime):
        when = expires
    elif isinstance(expires, date):
        when = datetime(expires.year, expires.month, expires.day)
    else:
        raise ConfigurationError(f"expiry {expires!r} is not a date or datetime")
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when <= datetime.now(UTC):
        raise ConfigurationError(f"expiry {when:%Y-%m-%dT%H:%M:%SZ} is in the past")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def share_statements(account: str, region: str, expires: str | None = None) -> list[dict[str, Any]]:
    """The key-policy statements a share adds: read and RDS grants, time-bounded if asked."""
    statements = cross_account_read_statements(
        [account], service="rds", region=region, sid_prefix=share_sid_prefix(account)
    )
    if expires is not None:
        for statement in statements:
            statement["Condition"]["DateLessThan"] = {"aws:CurrentTime": expires}
    return statements


def _policy_dict(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _with_statements(policy: Mapping[str, Any], added: list[dict[str, Any]], prefix: str) -> str:
    kept = _without(policy, prefix)
    merged = dict(kept)
    merged["Statement"] = [*kept["Statement"], *added]
    return json.dumps(merged, separators=(",", ":"))


def _without(policy: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, Mapping) else list(statements)
    kept = [
        s
        for s in statements
        if not (isinstance(s, Mapping) and str(s.get("Sid", "")).startswith(prefix))
    ]
    return {**policy, "Statement": kept}


class _Share:
    """Accumulates steps and pre-flight items of one share (or revocation) plan."""

    def __init__(self, inventory: Inventory, account: str) -> None:
        self.inventory = inventory
        self.account = account
        self.steps: list[MigrationStep] = []
        self.rollback: list[MigrationStep] = []
        self.items: list[PreflightItem] = []

    def block(self, check: str, subject: str, message: str) -> None:
        self.items.append(PreflightItem(check, PreflightLevel.BLOCKING, subject, message))

    def note(self, check: str, level: PreflightLevel, subject: str, message: str) -> None:
        self.items.append(PreflightItem(check, level, subject, message))

    def snapshot(self, arn: str) -> tuple[EncryptedResource, bool] | None:
        try:
            kind = parse_arn(arn).resource.split(":", 1)[0]
        except ValueError:
            self.block("resource-arn", arn, f"not an ARN: {arn!r}")
            return None
        if kind not in _SNAPSHOT_KINDS:
            self.block("resource-type", arn, "only DB and DB cluster snapshots can be shared")
            return None
        try:
            resource = self.inventory.resource(arn)
        except KeyError:
            self.block("resource-in-inventory", arn, "snapshot is not in the inventory")
            return None
        if resource.account == self.account:
            self.block("share-account", arn, f"the snapshot is already in account {self.account}")
            return None
        return resource, _SNAPSHOT_KINDS[kind]

    def targets(
        self, arns: Iterable[str], reference: str
    ) -> Iterator[tuple[EncryptedResource, bool, KmsKey, str]]:
        """Each snapshot that can be shared, with whether it is a cluster snapshot, its key and
        its identifier; the others are blocked on the plan."""
        for arn in arns:
            found = self.snapshot(arn)
            if found is None:
                continue
            resource, cluster = found
            cmk = self.key(reference, resource)
            if cmk is not None:
                yield resource, cluster, cmk, parse_arn(resource.arn).resource.split(":", 1)[1]

    def key(self, reference: str, resource: EncryptedResource) -> KmsKey | None:
        key, why = resolve_target_key(self.inventory, reference, resource.region, resource.account)
        if key is None:
            self.block("target-key", resource.arn, why or "target key not found")
            return None
        if key.manager != "CUSTOMER":
            self.block("target-key", key.arn, "AWS-managed keys cannot be shared: use a CMK")
            return None
        if key.account != resource.account:
            self.block(
                "target-key",
                key.arn,
                f"the key is in account {key.account}, the snapshot in {resource.account}: "
                "the share's key policy must be on the snapshot account's own key",
            )
            return None
        return key

    # -- steps ---------------------------------------------------------------------------------

    def add(self, step: MigrationStep, *, rollback: bool = False) -> MigrationStep:
        (self.rollback if rollback else self.steps).append(step)
        return step


def _needs_copy(resource: EncryptedResource, key: KmsKey, identifier: str) -> str | None:
    """Why the snapshot must be copied onto the key before it can be shared (`None`: no copy)."""
    if identifier.startswith("rds:") or resource.details.get("SnapshotType") == "automated":
        return "automated snapshots cannot be shared"
    if resource.key_class is KeyClass.AWS_MANAGED:
        return "snapshots on an AWS-managed key cannot be shared"
    if resource.key_class is KeyClass.AWS_OWNED:
        return "snapshots on an AWS owned key cannot be shared"
    if resource.key_class is KeyClass.UNENCRYPTED:
        return "unencrypted: the copy is encrypted with the key"
    if resource.key_arn != key.arn:
        return f"on another key ({resource.key_arn}): the copy is on the shared key"
    return None


def _copy_steps(
    plan: _Share, resource: EncryptedResource, key: KmsKey, source: str, cluster: bool, why: str
) -> str:
    target = ident(f"{source.removeprefix('rds:')}-share-{plan.account}", 255)
    prefix = f"share/{target}"
    for step in _copy_wait_verify(
        prefix,
        resource.region,
        resource.arn,
        cluster,
        request=copy_snapshot_request(source, target, key.arn, cluster=cluster),
        key_arn=key.arn,
        copy_description=f"copy {source} onto {key.arn} ({why}); the source is only read",
        verify_description=f"{target} is encrypted with the shared key",
        copy_verify=f"{target} exists",
    ):
        plan.add(step)
    return target


def _copy_wait_verify(
    prefix: str,
    region: str,
    resource_arn: str,
    cluster: bool,
    *,
    request: tuple[str, dict[str, Any]],
    key_arn: str,
    copy_description: str,
    verify_description: str,
    copy_verify: str = "",
) -> list[MigrationStep]:
    """Copy a snapshot, wait for the copy, verify its key: the sharing and receiving sides
    differ only in what they copy and how they describe it."""
    snap = "DBClusterSnapshot" if cluster else "DBSnapshot"
    operation, params = request
    target = params[f"Target{snap}Identifier"]
    common: dict[str, Any] = {"service": "rds", "region": region, "resource_arn": resource_arn}
    copy = MigrationStep(
        id=f"{prefix}/01-copy",
        kind=StepKind.CALL,
        phase=StepPhase.COPY,
        operation=operation,
        params=params,
        description=copy_description,
        adopt={"probe": "db-cluster-snapshot" if cluster else "db-snapshot", "id": target},
        verify=copy_verify,
        **common,
    )
    wait = MigrationStep(
        id=f"{prefix}/02-wait",
        kind=StepKind.WAIT,
        phase=StepPhase.COPY,
        operation=f"{snap}Available",
        params={f"{snap}Identifier": target},
        description=f"wait until {target} is available",
        depends_on=(copy.id,),
        **common,
    )
    verify = MigrationStep(
        id=f"{prefix}/03-verify",
        kind=StepKind.VERIFY,
        phase=StepPhase.COPY,
        operation=f"Describe{snap}s",
        params={f"{snap}Identifier": target, "expect": {"KmsKeyId": key_arn}},
        description=verify_description,
        depends_on=(wait.id,),
        **common,
    )
    return [copy, wait, verify]


def _attribute_step(
    resource: EncryptedResource, shared: str, cluster: bool, account: str, *, add: bool, n: str
) -> MigrationStep:
    snap = "DBClusterSnapshot" if cluster else "DBSnapshot"
    change = "ValuesToAdd" if add else "ValuesToRemove"
    return MigrationStep(
        id=f"share/{shared}/{n}-{'share' if add else 'unshare'}-{account}",
        kind=StepKind.CALL,
        phase=StepPhase.CUTOVER,
        service="rds",
        region=resource.region,
        operation=f"Modify{snap}Attribute",
        params={f"{snap}Identifier": shared, "AttributeName": "restore", change: [account]},
        resource_arn=resource.arn,
        description=(
            f"let account {account} copy and restore {shared}"
            if add
            else f"stop sharing {shared} with account {account} (its copies stay its own)"
        ),
        precondition="the key policy lets the account use the key" if add else "",
    )


def _policy_steps(
    key: KmsKey, old: str, new: str, n: str, *, what: str
) -> tuple[MigrationStep, MigrationStep]:
    key_id = key.arn.rsplit("/", 1)[-1]
    slug = "share" if what == "with the share" else "unshare"
    check = MigrationStep(
        id=f"key/{key_id}/{n}-check-policy-{slug}",
        kind=StepKind.CHECK_SOURCE,
        phase=StepPhase.CUTOVER,
        service="kms",
        region=key.region,
        operation="GetKeyPolicy",
        params={"KeyId": key.arn, "PolicyName": "default", "expected": {"Policy": old}},
        resource_arn=key.arn,
        description="the key policy is still the one this plan was made from",
        verify="GetKeyPolicy returns the planned policy text (else: re-plan from a new scan)",
    )
    put = MigrationStep(
        id=f"key/{key_id}/{n}-put-policy-{slug}",
        kind=StepKind.CALL,
        phase=StepPhase.CUTOVER,
        service="kms",
        region=key.region,
        operation="PutKeyPolicy",
        params={
            "KeyId": key.arn,
            "PolicyName": "default",
            "Policy": new,
            "BypassPolicyLockoutSafetyCheck": False,
        },
        resource_arn=key.arn,
        description=f"put the key policy {what} (reviewed in this plan)",
        depends_on=(check.id,),
    )
    return check, put


def _check_policy_change(plan: _Share, key: KmsKey, old: str, new: str) -> bool:
    """Analyse the merged policy: blocking unless only the named account gains access."""
    try:
        change = compare_key_policies(old, new, key_account=key.account, key_arn=key.arn)
    except (PolicyParseError, ValueError) as exc:
        plan.block("share-key-policy", key.arn, f"the key policy cannot be analysed: {exc}")
        return False
    ok = True
    if change.new.is_public:
        plan.block("share-key-policy-public", key.arn, "the shared key policy would be public")
        ok = False
    foreign = sorted(
        {c.principal for c in change.gained} - {f"arn:aws:iam::{plan.account}:root", plan.account}
    )
    strangers = [p for p in foreign if f":{plan.account}:" not in p]
    others = sorted(e for e in change.external_gained if plan.account not in e)
    if strangers or others:
        plan.block(
            "share-key-policy-scope",
            key.arn,
            f"more than account {plan.account} would gain access: {', '.join(strangers + others)}",
        )
        ok = False
    if ok:
        plan.note(
            "share-key-policy-scope",
            PreflightLevel.PASSED,
            key.arn,
            f"only account {plan.account} gains access, through RDS in {key.region}",
        )
    return ok


def _resolve_inputs(
    inventory: Inventory, snapshots: str | Iterable[str], to_account: str
) -> tuple[list[str], str]:
    if not isinstance(inventory, Inventory):
        raise ConfigurationError("inventory must be an Inventory (from cmkguard.scan)")
    arns = [snapshots] if isinstance(snapshots, str) else list(dict.fromkeys(snapshots))
    if not arns:
        raise ConfigurationError("no snapshot to share")
    return arns, _check_account(to_account)


def plan_snapshot_share(
    inventory: Inventory,
    snapshots: str | Iterable[str],
    *,
    to_account: str,
    key: str,
    expires: datetime | date | str | None = None,
) -> MigrationPlan:
    """Plan sharing DB or cluster snapshots with another account through a customer-managed key.

    Args:
        inventory: A scan holding the snapshots and the key (with its policy).
        snapshots: One snapshot ARN or several (instance and cluster snapshots).
        to_account: The 12-digit account that may copy the snapshots.
        key: The CMK (id, ARN, alias name or alias ARN) in the snapshots' account and region;
            a snapshot on any other key, on `aws/rds` or unencrypted is copied onto it first.
        expires: Optional end of the key-policy grant (`aws:CurrentTime` `DateLessThan`): an
            ISO 8601 date or time, a `date` or a `datetime` (naive means UTC). After it the
            other account can no longer decrypt, so it can no longer copy the snapshot.

    Returns:
        A `MigrationPlan` (run with `cmkguard.execute`, dry run by default); its
        `rollback_plan()` revokes the share. Problems are pre-flight items, as in
        `plan_migration`.

    Raises:
        ConfigurationError: `to_account` is not an account id, `expires` is not a future
            date, or no snapshot is given.
    """
    arns, account = _resolve_inputs(inventory, snapshots, to_account)
    until = _expiry(expires)
    plan = _Share(inventory, account)
    keys: dict[str, KmsKey] = {}
    shared: list[tuple[EncryptedResource, str, bool]] = []
    for resource, cluster, cmk, source in plan.targets(arns, key):
        why = _needs_copy(resource, cmk, source)
        if why is not None and cluster and resource.key_class is KeyClass.UNENCRYPTED:
            plan.block(
                "unencrypted-cluster-snapshot",
                resource.arn,
                "RDS cannot copy an unencrypted cluster snapshot onto a key: restore the "
                "cluster with the key (cmkguard migrate) and share its snapshot",
            )
            continue
        target = source if why is None else _copy_steps(plan, resource, cmk, source, cluster, why)
        keys[cmk.arn] = cmk
        shared.append((resource, target, cluster))
    policy_ok = _plan_key_policies(plan, keys, until)
    for resource, target, cluster in shared:
        plan.add(_attribute_step(resource, target, cluster, account, add=True, n="10"))
        plan.add(
            _attribute_step(resource, target, cluster, account, add=False, n="90"), rollback=True
        )
    if policy_ok and shared and until is None:
        plan.note(
            "share-expiry",
            PreflightLevel.WARNING,
            ", ".join(keys),
            "the share has no end date (expires): it lasts until revoked",
        )
    steps = [*plan.steps]
    order = {StepPhase.COPY: 0, StepPhase.CUTOVER: 1}
    steps.sort(key=lambda s: order.get(s.phase, 2))
    rollback = sorted(plan.rollback, key=lambda s: 0 if s.service == "rds" else 1)
    return MigrationPlan(
        target_key=key,
        resources=tuple(arns),
        steps=tuple(steps),
        preflight=tuple(plan.items),
        target_key_arns={k.region: k.arn for k in keys.values()},
        rollback_steps=tuple(rollback),
    )


def _plan_key_policies(plan: _Share, keys: Mapping[str, KmsKey], until: str | None) -> bool:
    ok = True
    prefix = share_sid_prefix(plan.account)
    for cmk in keys.values():
        plan.items.extend(check_key(cmk, account=cmk.account))
        if cmk.policy is None:
            plan.block("share-key-policy", cmk.arn, "the scan could not read the key policy")
            ok = False
            continue
        try:
            current = _policy_dict(cmk.policy)
        except ValueError as exc:
            plan.block("share-key-policy", cmk.arn, f"the key policy is not JSON: {exc}")
            ok = False
            continue
        merged = _with_statements(
            current, share_statements(plan.account, cmk.region, until), prefix
        )
        if not _check_policy_change(plan, cmk, cmk.policy, merged):
            ok = False
            continue
        for step in _policy_steps(cmk, cmk.policy, merged, "05", what="with the share"):
            plan.add(step)
        for step in _policy_steps(cmk, merged, cmk.policy, "95", what="without the share"):
            plan.add(step, rollback=True)
    return ok


def plan_share_revocation(
    inventory: Inventory,
    snapshots: str | Iterable[str],
    *,
    to_account: str,
    key: str,
) -> MigrationPlan:
    """Plan revoking a share from a current scan: `restore` no longer names the account, and
    the share's statements (those whose `Sid` starts with `share_sid_prefix(to_account)`) leave
    the key policy. `snapshots` are the *shared* snapshots (the copies a share made, if any).

    A share plan's own `rollback_plan()` does the same; this one is for later, when the key
    policy may have changed since (its other statements are kept as the scan read them).
    """
    arns, account = _resolve_inputs(inventory, snapshots, to_account)
    plan = _Share(inventory, account)
    keys: dict[str, KmsKey] = {}
    for resource, cluster, cmk, source in plan.targets(arns, key):
        keys[cmk.arn] = cmk
        plan.add(_attribute_step(resource, source, cluster, account, add=False, n="90"))
    prefix = share_sid_prefix(account)
    for cmk in keys.values():
        if cmk.policy is None:
            plan.block("share-key-policy", cmk.arn, "the scan could not read the key policy")
            continue
        reduced = json.dumps(_without(_policy_dict(cmk.policy), prefix), separators=(",", ":"))
        if reduced == json.dumps(_policy_dict(cmk.policy), separators=(",", ":")):
            plan.note(
                "share-key-policy",
                PreflightLevel.PASSED,
                cmk.arn,
                f"the key policy has no statement for account {account}: left as it is",
            )
            continue
        for step in _policy_steps(cmk, cmk.policy, reduced, "95", what="without the share"):
            plan.add(step)
    return MigrationPlan(
        target_key=key,
        resources=tuple(arns),
        steps=tuple(plan.steps),
        preflight=tuple(plan.items),
        target_key_arns={k.region: k.arn for k in keys.values()},
        is_rollback=True,
    )


def plan_shared_snapshot_copy(
    shared_snapshots: str | Iterable[str],
    *,
    key: str,
    suffix: str = "-copy",
) -> MigrationPlan:
    """The receiving account's side: copy snapshots shared with it onto its own key.

    Args:
        shared_snapshots: ARNs of the snapshots shared with this account (in another account).
        key: The receiving account's key ARN, in the snapshots' region (the copy is encrypted
            with it, so it no longer depends on the sharing account's key).
        suffix: Appended to the snapshot name for the copy's identifier.

    Run the plan with a session of the receiving account. Raises `ConfigurationError` for a
    malformed ARN or a key that is not a key ARN in the snapshots' region.
    """
    arns = [shared_snapshots] if isinstance(shared_snapshots, str) else list(shared_snapshots)
    try:
        key_arn = parse_arn(key)
    except ValueError:
        raise ConfigurationError(
            f"key {key!r} must be a key ARN of the receiving account"
        ) from None
    if key_arn.service != "kms" or not key_arn.resource.startswith("key/"):
        raise ConfigurationError(f"key {key!r} must be a key ARN of the receiving account")
    steps: list[MigrationStep] = []
    for arn in dict.fromkeys(arns):
        try:
            parsed = parse_arn(arn)
        except ValueError:
            raise ConfigurationError(f"not a snapshot ARN: {arn!r}") from None
        kind, _, name = parsed.resource.partition(":")
        if kind not in _SNAPSHOT_KINDS or parsed.region != key_arn.region:
            raise ConfigurationError(
                f"{arn!r} is not a DB or cluster snapshot ARN in {key_arn.region}"
            )
        cluster = _SNAPSHOT_KINDS[kind]
        target = ident(f"{name}{suffix}", 255)
        steps += _copy_wait_verify(
            f"receive/{target}",
            parsed.region,
            arn,
            cluster,
            # A shared snapshot's tags stay with its owner: nothing to copy.
            request=copy_snapshot_request(arn, target, key, cluster=cluster, copy_tags=False),
            key_arn=key,
            copy_description=f"copy the shared {name} from account {parsed.account} onto {key}",
            verify_description=f"{target} is encrypted with this account's key",
        )
    if not steps:
        raise ConfigurationError("no shared snapshot to copy")
    return MigrationPlan(
        target_key=key,
        resources=tuple(dict.fromkeys(arns)),
        steps=tuple(steps),
        target_key_arns={key_arn.region: key},
    )
