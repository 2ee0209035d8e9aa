"""Which key each declared resource will be encrypted with, as a scan would classify it.

Pure: the declarations of one file (see `cmkguard.iac._decl`) in, one `Verdict` per resource
out. The AWS defaults applied when a file leaves a setting out:

- an RDS DB instance (and a Multi-AZ DB cluster) is unencrypted unless storage encryption is on;
  encrypted with no key it is on the AWS-managed key `aws/rds`;
- an Aurora cluster created from 2026-02-18 is encrypted by default with an AWS owned key
  (`StorageEncryptionType` `sse-rds`): with no encryption settings it is `AWS_OWNED`, with
  storage encryption on and no key it is on `aws/rds`;
- Aurora members take their cluster's key; a read replica takes its source's key unless one is
  given; an instance restored from a snapshot takes the snapshot's key (the restore API takes
  none); a cluster restored from a snapshot takes the snapshot's key unless one is given;
- a Secrets Manager secret (and each replica) is always encrypted, by default with
  `aws/secretsmanager`; Performance Insights defaults to `aws/rds`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import attrs

from cmkguard.iac._decl import Decl, Known, Ref, Unknown, Value
from cmkguard.iac.cloudformation import SELF_ACCOUNT
from cmkguard.inventory.values import KeyClass

__all__ = ["KeyFacts", "Verdict", "classify", "classify_literal"]


@attrs.frozen
class KeyFacts:
    """What `DescribeKey` says about a literal key identifier (see `cmkguard.iac.aws_keys`).

    `manager` is `"AWS"` or `"CUSTOMER"`; `error` is set (and the rest `None`) when the key could
    not be described.
    """

    arn: str | None = None
    account: str | None = None
    manager: str | None = None
    state: str | None = None
    error: str | None = None


Describe = Callable[[str, str | None], KeyFacts | None]
"""Looks a literal key identifier up in a region; `None` when no lookup is configured."""


@attrs.frozen
class Verdict:
    """The key of one resource (or of one of its secondary uses)."""

    key_class: KeyClass
    reference: str | None = None
    key_address: str | None = None
    reason: str | None = None
    key_state: str | None = None


_AURORA_OWNED = (
    "Aurora clusters created from 2026-02-18 without storage encryption settings are encrypted "
    "with an AWS owned key (StorageEncryptionType sse-rds)"
)


def classify_literal(text: str, account: str | None, facts: KeyFacts | None = None) -> Verdict:
    """The class of a literal key identifier (alias name, alias ARN, key id or key ARN).

    `account` is the deploying account (`None` when unknown). `facts` from `DescribeKey`, when
    given, decide instead of the identifier's form.
    """
    if facts is not None and facts.error is None and facts.manager:
        if facts.manager == "AWS":
            return Verdict(KeyClass.AWS_MANAGED, text, reason="DescribeKey: KeyManager AWS")
        owner = facts.account
        cls = (
            KeyClass.CROSS_ACCOUNT
            if owner and account and owner != account
            else (KeyClass.CUSTOMER_MANAGED)
        )
        return Verdict(cls, facts.arn or text, key_state=facts.state)
    if facts is not None and facts.error is not None:
        return Verdict(KeyClass.UNKNOWN, text, reason=f"DescribeKey {text}: {facts.error}")
    if text.startswith("alias/aws/") or ":alias/aws/" in text:
        return Verdict(KeyClass.AWS_MANAGED, text)
    if text.startswith("arn:"):
        parts = text.split(":")
        if len(parts) < 6 or parts[2] != "kms":
            return Verdict(KeyClass.UNKNOWN, text, reason=f"{text} is not a KMS key ARN")
        owner = parts[4]
        if owner in (SELF_ACCOUNT, account) or "${" in owner:
            return Verdict(KeyClass.CUSTOMER_MANAGED, text, reason=_UNVERIFIED)
        if account is None:
            return Verdict(
                KeyClass.UNKNOWN,
                text,
                reason=f"the key is in account {owner} and the deploying account is not known "
                "(pass account=..., or --account)",
            )
        return Verdict(KeyClass.CROSS_ACCOUNT, text)
    if text.startswith("alias/") or _looks_like_key_id(text):
        return Verdict(KeyClass.CUSTOMER_MANAGED, text, reason=_UNVERIFIED)
    return Verdict(KeyClass.UNKNOWN, text, reason=f"{text!r} is not a KMS key identifier")


_UNVERIFIED = "a literal key identifier, not verified with DescribeKey"


def _looks_like_key_id(text: str) -> bool:
    core = text.removeprefix("mrk-")
    return len(core) >= 32 and all(c in "0123456789abcdef-" for c in core.lower())


class _Classifier:
    def __init__(
        self, decls: Iterable[Decl], account: str | None, describe: Describe | None
    ) -> None:
        self.decls = {d.ref_address: d for d in decls}
        self.account = account
        self.describe = describe
        self.cache: dict[str, Verdict] = {}
        self.active: set[str] = set()

    # -- keys ---------------------------------------------------------------------------------
    def key(self, value: Value, region: str | None) -> Verdict:
        """The class of a key attribute's value."""
        if isinstance(value, Unknown):
            return Verdict(KeyClass.UNKNOWN, reason=value.reason)
        if isinstance(value, Ref):
            target = self.decls.get(value.target)
            if target is None:
                return Verdict(
                    KeyClass.UNKNOWN, value.text, reason=f"{value.text} is not a declared key"
                )
            if target.kind == "kms:key":
                return Verdict(
                    KeyClass.CUSTOMER_MANAGED,
                    value.text,
                    key_address=target.address,
                    key_state=_declared_state(target),
                )
            if target.kind in ("kms:alias", "kms:key-lookup"):
                inner = self.resource(target)
                return attrs.evolve(inner, reference=value.text)
            return Verdict(
                KeyClass.UNKNOWN, value.text, reason=f"{value.text} ({target.kind}) is not a key"
            )
        text = str(value.value)
        facts = self.describe(text, region) if self.describe is not None else None
        return classify_literal(text, self.account, facts)

    # -- resources ----------------------------------------------------------------------------
    def resource(self, decl: Decl) -> Verdict:
        """The storage key of `decl` (memoised; a reference cycle is unknown, not a crash)."""
        if decl.ref_address in self.cache:
            return self.cache[decl.ref_address]
        if decl.ref_address in self.active:
            return Verdict(KeyClass.UNKNOWN, reason="a cycle of inherited keys")
        self.active.add(decl.ref_address)
        try:
            verdict = _RULES[decl.kind](self, decl)
        finally:
            self.active.discard(decl.ref_address)
        self.cache[decl.ref_address] = verdict
        return verdict

    def inherit(self, decl: Decl, name: str, what: str) -> Verdict:
        """The key of the resource that `decl.values[name]` designates (source, cluster...)."""
        value = decl.get(name)
        if isinstance(value, Ref) and value.target in self.decls:
            source = self.decls[value.target]
            inherited = self.resource(source)
            note = f"{what} {source.address}"
            return attrs.evolve(
                inherited, reason=f"{note}: {inherited.reason}" if inherited.reason else note
            )
        if isinstance(value, Unknown):
            return Verdict(KeyClass.UNKNOWN, reason=f"{what}: {value.reason}")
        shown = value.text if isinstance(value, Ref) else value.value if value else "?"
        return Verdict(
            KeyClass.UNKNOWN,
            reason=f"{what} {shown}, which is not declared here: it takes that resource's key",
        )

    def encrypted_default(self, decl: Decl, absent: Verdict) -> Verdict:
        """Storage encryption on -> key or aws/rds; off or absent -> `absent`."""
        encrypted = decl.get("encrypted")
        if isinstance(encrypted, Unknown):
            return Verdict(KeyClass.UNKNOWN, reason=f"storage encryption: {encrypted.reason}")
        if isinstance(encrypted, Known) and _truthy(encrypted.value):
            key = decl.get("key")
            if key is None:
                return Verdict(KeyClass.AWS_MANAGED, "aws/rds", reason="the default key aws/rds")
            return self.key(key, decl.region)
        if decl.get("key") is not None:
            return attrs.evolve(
                absent,
                reason=_join(absent.reason, "the KMS key is ignored: storage encryption is off"),
            )
        return absent

    def secondary(self, decl: Decl) -> list[tuple[str, str | None, Verdict]]:
        """(purpose, region, verdict) of Performance Insights and secret replicas."""
        out: list[tuple[str, str | None, Verdict]] = []
        if decl.kind in ("rds:db-instance", "rds:db-cluster"):
            enabled = decl.get("pi_enabled")
            if isinstance(enabled, Unknown):
                out.append(
                    (
                        "performance-insights",
                        decl.region,
                        Verdict(KeyClass.UNKNOWN, reason=enabled.reason),
                    )
                )
            elif isinstance(enabled, Known) and _truthy(enabled.value):
                key = decl.get("pi_key")
                verdict = (
                    Verdict(KeyClass.AWS_MANAGED, "aws/rds", reason="the default key aws/rds")
                    if key is None
                    else self.key(key, decl.region)
                )
                out.append(("performance-insights", decl.region, verdict))
        for replica in decl.items.get("replicas", ()):
            region_value = replica.get("region")
            region = str(region_value.value) if isinstance(region_value, Known) else None
            key = replica.get("key")
            verdict = (
                Verdict(
                    KeyClass.AWS_MANAGED,
                    "aws/secretsmanager",
                    reason="the default key aws/secretsmanager",
                )
                if key is None
                else self.key(key, region)
            )
            out.append(("replica", region, verdict))
        return out


def _declared_state(decl: Decl) -> str | None:
    enabled = decl.get("enabled")
    if isinstance(enabled, Known) and not _truthy(enabled.value):
        return "Disabled"
    return "Enabled"


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _join(*parts: str | None) -> str:
    return "; ".join(p for p in parts if p)


def _db_instance(c: _Classifier, d: Decl) -> Verdict:
    if d.get("cluster") is not None:
        return c.inherit(d, "cluster", "member of cluster")
    for source in ("replica_source", "replica_source_cluster"):
        if d.get(source) is not None:
            if d.get("key") is not None:
                return c.key(d.values["key"], d.region)
            return c.inherit(d, source, "read replica of")
    if d.get("snapshot") is not None:
        verdict = c.inherit(d, "snapshot", "restored from snapshot")
        if d.get("key") is not None:
            note = "the KMS key is ignored: an instance restored from a snapshot takes its key"
            verdict = attrs.evolve(verdict, reason=_join(verdict.reason, note))
        return verdict
    return c.encrypted_default(d, Verdict(KeyClass.UNENCRYPTED))


def _is_aurora(d: Decl) -> bool:
    engine = d.known("engine", "aurora")
    return not isinstance(engine, str) or engine.startswith("aurora")


def _db_cluster(c: _Classifier, d: Decl) -> Verdict:
    for source, what in (
        ("snapshot", "restored from snapshot"),
        ("replica_source", "read replica of"),
        ("restore_source", "restored from cluster"),
    ):
        if d.get(source) is not None:
            if d.get("key") is not None:
                return c.key(d.values["key"], d.region)
            return c.inherit(d, source, what)
    if d.known("engine_mode") == "serverless":
        # Aurora Serverless v1 is always encrypted: aws/rds unless a key is given.
        key = d.get("key")
        return c.key(key, d.region) if key is not None else Verdict(KeyClass.AWS_MANAGED, "aws/rds")
    if _is_aurora(d):
        return c.encrypted_default(d, Verdict(KeyClass.AWS_OWNED, reason=_AURORA_OWNED))
    return c.encrypted_default(d, Verdict(KeyClass.UNENCRYPTED))


def _snapshot(c: _Classifier, d: Decl) -> Verdict:
    key = d.get("key")
    if key is not None:
        return c.key(key, d.region)
    what = "copy of snapshot" if d.resource_type == "aws_db_snapshot_copy" else "snapshot of"
    return c.inherit(d, "source", what)


def _secret(c: _Classifier, d: Decl) -> Verdict:
    key = d.get("key")
    if key is None:
        return Verdict(
            KeyClass.AWS_MANAGED, "aws/secretsmanager", reason="the default key aws/secretsmanager"
        )
    return c.key(key, d.region)


def _kms_key(c: _Classifier, d: Decl) -> Verdict:
    return Verdict(KeyClass.CUSTOMER_MANAGED, key_address=d.address, key_state=_declared_state(d))


def _kms_alias(c: _Classifier, d: Decl) -> Verdict:
    target = d.get("target")
    if target is None:
        return Verdict(KeyClass.UNKNOWN, reason="the alias names no target key")
    return c.key(target, d.region)


def _key_lookup(c: _Classifier, d: Decl) -> Verdict:
    manager = d.known("manager")
    ident = d.known("id")
    if isinstance(ident, str) and (ident.startswith("alias/aws/") or ":alias/aws/" in ident):
        # The reserved prefix decides, whatever the lookup returned (emulators get it wrong).
        return Verdict(KeyClass.AWS_MANAGED, ident)
    if manager == "AWS":
        return Verdict(KeyClass.AWS_MANAGED, str(ident or d.address), reason="KeyManager AWS")
    if isinstance(ident, str):
        verdict = classify_literal(ident, c.account)
        if manager == "CUSTOMER" and verdict.reason == _UNVERIFIED:
            verdict = attrs.evolve(verdict, reason=None)
        return verdict
    return Verdict(KeyClass.UNKNOWN, reason=f"{d.address} is known only after apply")


_RULES: Mapping[str, Callable[[_Classifier, Decl], Verdict]] = {
    "rds:db-instance": _db_instance,
    "rds:db-cluster": _db_cluster,
    "rds:db-snapshot": _snapshot,
    "rds:db-cluster-snapshot": _snapshot,
    "secretsmanager:secret": _secret,
    "kms:key": _kms_key,
    "kms:alias": _kms_alias,
    "kms:key-lookup": _key_lookup,
}


def classify(
    decls: Iterable[Decl], account: str | None = None, describe: Describe | None = None
) -> list[tuple[Decl, Verdict, list[tuple[str, str | None, Verdict]]]]:
    """(declaration, storage verdict, secondary verdicts) for every reportable declaration."""
    decls = list(decls)
    c = _Classifier(decls, account, describe)
    return [(d, c.resource(d), c.secondary(d)) for d in decls if d.kind != "kms:key-lookup"]
