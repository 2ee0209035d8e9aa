"""Key resolution: turn every key identifier a resource reports into a key ARN and a class.

The resolver answers from what the scan already read (each region's `ListKeys` and
`ListAliases` listing, and each key's `DescribeKey`), so a resource on a listed key costs no
request at all; an identifier no listing explains (another account's key, a key in a region not
scanned, a region whose listing was denied) needs one `DescribeKey` in the right region,
once per unique identifier per region. `KeyResolver.lookup` says which.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from cmkguard.arn import parse_key_reference
from cmkguard.inventory.values import KeyClass, KmsKey
from cmkguard.types import KeyArn

__all__ = ["KeyResolver", "Lookup", "Resolved"]

AWS_ALIAS_PREFIX = "alias/aws/"


class Lookup(enum.Enum):
    """Why `KeyResolver.lookup` could not answer yet."""

    WAIT = "wait"
    """A listing or key read this identifier depends on is still running."""
    DESCRIBE = "describe"
    """Only a `DescribeKey` can answer: `KeyResolver.describe_target` says where."""


@attrs.frozen
class Resolved:
    """An identifier resolved: the key (when described), its ARN, or why it is unknown."""

    key_arn: KeyArn | None
    key: KmsKey | None = None
    owner: str | None = None
    aws_managed: bool = False
    reason: str | None = None

    def classify(self, account: str) -> tuple[KeyClass, str | None]:
        """The key class for a resource in `account`, and the reason for `UNKNOWN`."""
        if self.key is not None:
            if self.key.is_aws_managed:
                return KeyClass.AWS_MANAGED, None
            if self.key.account != account:
                return KeyClass.CROSS_ACCOUNT, None
            return KeyClass.CUSTOMER_MANAGED, None
        if self.aws_managed:
            return KeyClass.AWS_MANAGED, self.reason
        if self.owner is not None and self.owner != account:
            # The ARN names another account: that is the class, described or not.
            return KeyClass.CROSS_ACCOUNT, self.reason
        return KeyClass.UNKNOWN, self.reason or "the key could not be resolved"


@attrs.define
class _Listing:
    ok: bool
    ids: dict[str, KeyArn]
    aliases: Mapping[str, str]
    aliases_ok: bool = True


@attrs.define
class KeyResolver:
    """What the scan knows about keys, per account and region; not thread-safe (coordinator)."""

    scanned: set[tuple[str, str]] = attrs.field(factory=set)
    listings: dict[tuple[str, str], _Listing] = attrs.field(factory=dict)
    keys: dict[KeyArn, KmsKey] = attrs.field(factory=dict)
    denied: dict[KeyArn, str] = attrs.field(factory=dict)
    described: dict[tuple[str, str, str], Resolved] = attrs.field(factory=dict)
    external: dict[KeyArn, KmsKey] = attrs.field(factory=dict)

    def add_listing(
        self,
        account: str,
        region: str,
        arns: tuple[KeyArn, ...],
        aliases: Mapping[str, str],
        *,
        aliases_ok: bool = True,
    ) -> None:
        """Record a region's key listing; `aliases_ok` false: its aliases could not be read
        (an alias is then described, never taken for one that does not exist)."""
        ids = {arn.rsplit("/", 1)[-1]: arn for arn in arns}
        self.listings[(account, region)] = _Listing(True, ids, dict(aliases), aliases_ok)

    def listing_failed(self, account: str, region: str) -> None:
        """Record that a region's keys could not be listed: identifiers need describes."""
        self.listings[(account, region)] = _Listing(False, {}, {})

    def add_key(self, key: KmsKey) -> None:
        """Record a described key."""
        self.keys[key.arn] = key

    def add_denied(self, key_arn: str, reason: str) -> None:
        """Record a listed key whose `DescribeKey` failed."""
        self.denied[KeyArn(key_arn)] = reason

    def add_described(
        self, account: str, region: str, ident: str, key: KmsKey | None, reason: str | None
    ) -> None:
        """Record the outcome of a `DescribeKey` of `ident` made in `region`."""
        ref = parse_key_reference(ident)
        owner = ref.account or account
        if key is not None:
            if key.account == account and key.arn not in self.keys:
                self.keys[key.arn] = key
            elif key.account != account:
                self.external.setdefault(key.arn, key)
            resolved = Resolved(key.arn, key, key.account)
        else:
            arn = KeyArn(ident) if ref.kind == "key-arn" else None
            aws = ref.kind in ("alias", "alias-arn") and ref.name.startswith(AWS_ALIAS_PREFIX)
            resolved = Resolved(
                arn, None, owner, aws_managed=aws and owner == account, reason=reason
            )
        self.described[(account, region, ident)] = resolved

    @staticmethod
    def describe_target(account: str, region: str, ident: str) -> tuple[str, str]:
        """`(account, region)` a `DescribeKey` of `ident` must be made in."""
        ref = parse_key_reference(ident)
        return account, ref.region or region

    def lookup(self, account: str, region: str, ident: str) -> Resolved | Lookup:
        """Resolve `ident` reported by a resource of `account` in `region`."""
        try:
            ref = parse_key_reference(ident)
        except ValueError:
            return Resolved(None, reason=f"unrecognised key identifier {ident!r}")
        call_region = ref.region or region
        owner = ref.account or account
        described = self.described.get((account, call_region, ident))
        if described is not None:
            return described
        if owner != account:
            return Lookup.DESCRIBE
        listing = self.listings.get((account, call_region))
        if listing is None:
            return Lookup.WAIT if (account, call_region) in self.scanned else Lookup.DESCRIBE
        if not listing.ok or (ref.is_alias and not listing.aliases_ok):
            return Lookup.DESCRIBE
        key_id = listing.aliases.get(ref.name) if ref.is_alias else ref.name
        arn = listing.ids.get(key_id) if key_id else None
        if arn is not None:
            if arn in self.keys:
                key = self.keys[arn]
                return Resolved(arn, key, key.account)
            if arn in self.denied:
                return Resolved(arn, None, account, reason=self.denied[arn])
            return Lookup.WAIT
        if (
            ref.is_alias
            and ref.name.startswith(AWS_ALIAS_PREFIX)
            and ref.name not in listing.aliases
        ):
            # AWS creates aws/<service> on first use: a secret on the default key before that.
            return Resolved(
                None,
                owner=account,
                aws_managed=True,
                reason=f"{ref.name} does not exist yet in {call_region} (created on first use)",
            )
        return Lookup.DESCRIBE
