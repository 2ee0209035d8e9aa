"""Rules about data stores: which key class they sit on and whether that key still works."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from cmkguard.arn import parse_arn
from cmkguard.auditing.catalogue import AWS_MANAGED_RULE_BY_TYPE
from cmkguard.auditing.context import AuditContext, as_utc, key_label
from cmkguard.auditing.finding import Finding
from cmkguard.inventory.values import EncryptedResource, KeyClass
from cmkguard.types import KeyArn

__all__ = ["check_key_class", "check_key_state", "check_secondary_keys"]

_SNAPSHOT_TYPES = frozenset({"rds:db-snapshot", "rds:db-cluster-snapshot"})
# Key states in which the key decrypts (or soon will again without anyone acting).
_USABLE_STATES = frozenset({"Enabled", "Creating", "Updating"})


# Details worth repeating in evidence; the scan writes snake_case, hand-made inventories may
# use the AWS API's names, so both are read.
def _resource_evidence(r: EncryptedResource) -> dict[str, Any]:
    ev: dict[str, Any] = {"name": r.name, "key_class": r.key_class.value}
    if r.key_reference:
        ev["key_reference"] = r.key_reference
    for name in ("snapshot_type", "owning_service", "engine"):
        value = r.details.get(name)
        if value is not None:
            ev[name] = value
    return ev


_CLASS_PHRASE = {
    KeyClass.AWS_MANAGED: "an AWS-managed key",
    KeyClass.AWS_OWNED: "an AWS owned key",
    KeyClass.CUSTOMER_MANAGED: "a customer-managed key",
    KeyClass.CROSS_ACCOUNT: "another account's key",
    KeyClass.UNENCRYPTED: "no key (unencrypted)",
    KeyClass.UNKNOWN: "an unknown key",
}


_NOT_A_CMK = frozenset({KeyClass.AWS_MANAGED, KeyClass.AWS_OWNED})


def _account_of(arn: str | None) -> str | None:
    if not arn:
        return None
    try:
        return parse_arn(arn).account or None
    except ValueError:
        return None


def check_key_class(ctx: AuditContext) -> Iterator[Finding]:
    """AWS-managed, AWS owned, unencrypted, cross-account (untrusted) and unknown-key resources."""
    trusted = set(ctx.policy.trusted_accounts)
    for r in ctx.inventory.resources:
        ev = _resource_evidence(r)
        if r.key_class is KeyClass.AWS_MANAGED:
            rule = AWS_MANAGED_RULE_BY_TYPE.get(r.resource_type, "resource-aws-managed-key")
            msg = f"{r.name} is encrypted with the AWS-managed key {r.key_reference or r.key_arn}."
            if r.resource_type in _SNAPSHOT_TYPES:
                msg += " A snapshot on the AWS-managed key cannot be shared with another account."
            owner = r.details.get("owning_service")
            if owner:
                msg += f" The secret is managed by {owner}: re-key it through that service."
            primary = r.details.get("primary_region")
            if r.details.get("is_replica") and primary:
                msg += (
                    f" It is a replica of the secret in {primary}: re-create the replica with a "
                    "customer-managed key from the primary (update_secret refuses replicas)."
                )
            yield ctx.finding(rule, msg, resource=r, key_arn=r.key_arn, evidence=ev)
        elif r.key_class is KeyClass.AWS_OWNED:
            yield ctx.finding(
                "resource-aws-owned-key",
                f"{r.name} is encrypted with an AWS owned key (StorageEncryptionType sse-rds): "
                "no key in your account governs it.",
                resource=r,
                evidence=ev,
            )
        elif r.key_class is KeyClass.UNENCRYPTED:
            yield ctx.finding(
                "resource-unencrypted",
                f"{r.name} ({r.resource_type}) is not encrypted at rest.",
                resource=r,
                evidence=ev,
            )
        elif r.key_class is KeyClass.CROSS_ACCOUNT:
            owner = _account_of(r.key_arn)
            if owner is not None and owner in trusted:
                continue
            ev["key_account"] = owner
            yield ctx.finding(
                "resource-cross-account-key",
                f"{r.name} is encrypted with {r.key_arn}, a key owned by account {owner}.",
                resource=r,
                key_arn=r.key_arn,
                evidence=ev,
            )
        elif r.key_class is KeyClass.UNKNOWN:
            ev["reason"] = r.reason
            yield ctx.finding(
                "resource-key-unknown",
                f"The key of {r.name} could not be determined: {r.reason or 'no reason given'}.",
                resource=r,
                key_arn=r.key_arn,
                evidence=ev,
            )


def check_key_state(ctx: AuditContext) -> Iterator[Finding]:
    """Resources whose storage key (or a secondary key) is pending deletion, disabled or unusable.

    Data on such a key is about to be lost or already unreadable, whatever else is wrong.
    """
    keys = ctx.inventory.keys
    for r in ctx.inventory.resources:
        uses: list[tuple[str, str | None]] = [("", r.key_arn)]
        uses += [(f"{u.purpose}@{u.region}", u.key_arn) for u in r.secondary_keys]
        for purpose, karn in uses:
            key = keys.get(KeyArn(karn)) if karn else None
            if key is None or key.state in _USABLE_STATES:
                continue
            what = f"{r.name}" + (f" ({purpose.replace('@', ' in ')})" if purpose else "")
            ev = _resource_evidence(r) | {
                "key_state": key.state,
                "key_purpose": purpose or "storage",
            }
            label = key_label(key, karn)
            if key.state == "PendingDeletion":
                when = as_utc(key.deletion_date) if key.deletion_date else None
                if when is not None:
                    # Whole days remaining, rounded down: the conservative figure for a countdown.
                    days_left = max(0, math.floor((when - ctx.now).total_seconds() / 86400))
                    ev |= {"deletion_date": when.isoformat(), "days_left": days_left}
                    tail = f"on {when.date().isoformat()} ({days_left} days left)"
                else:
                    tail = "(deletion date unknown)"
                msg = f"{what} is encrypted with {label}, scheduled for deletion {tail}."
                rule = "resource-key-pending-deletion"
            elif key.state == "Disabled":
                msg = f"{what} is encrypted with {label}, which is disabled: it cannot be read."
                rule = "resource-key-disabled"
            else:
                msg = f"{what} is encrypted with {label}, which is in state {key.state}."
                rule = "resource-key-unavailable"
            yield ctx.finding(rule, msg, resource=r, key=key, evidence=ev, discriminator=purpose)


def check_secondary_keys(ctx: AuditContext) -> Iterator[Finding]:
    """Performance Insights on aws/rds; a secret replica or rotation Lambda on another key class."""
    for r in ctx.inventory.resources:
        for u in r.secondary_keys:
            disc = f"{u.purpose}@{u.region}"
            ev = _resource_evidence(r) | {
                "purpose": u.purpose,
                "secondary_region": u.region,
                "secondary_key_arn": u.key_arn,
                "secondary_key_class": u.key_class.value,
            }
            if u.purpose == "performance-insights" and u.key_class in _NOT_A_CMK:
                yield ctx.finding(
                    "rds-performance-insights-aws-managed-key",
                    f"Performance Insights of {r.name} is encrypted with the AWS-managed key "
                    f"{u.key_arn or 'aws/rds'}.",
                    resource=r,
                    key_arn=u.key_arn,
                    evidence=ev,
                    discriminator=disc,
                )
            elif (
                r.resource_type != "secretsmanager:secret"
                or u.key_class is r.key_class
                # An unknown class is no evidence of a mismatch: the scan error that made it
                # unknown is reported on its own (inventory-incomplete, resource-key-unknown).
                or KeyClass.UNKNOWN in (u.key_class, r.key_class)
            ):
                continue
            elif u.purpose == "replica":
                yield ctx.finding(
                    "secret-replica-key-class-mismatch",
                    f"The replica of {r.name} in {u.region} is on {_CLASS_PHRASE[u.key_class]}; "
                    f"the primary is on {_CLASS_PHRASE[r.key_class]}.",
                    resource=r,
                    key_arn=u.key_arn,
                    evidence=ev,
                    discriminator=disc,
                )
            elif u.purpose == "rotation-lambda":
                lambda_arn = r.details.get("rotation_lambda_arn") or "?"
                yield ctx.finding(
                    "secret-rotation-lambda-key-class-mismatch",
                    f"The rotation Lambda of {r.name} ({lambda_arn}) "
                    f"is on {_CLASS_PHRASE[u.key_class]}; the secret is on "
                    f"{_CLASS_PHRASE[r.key_class]}.",
                    resource=r,
                    key_arn=u.key_arn,
                    evidence=ev,
                    discriminator=disc,
                )
