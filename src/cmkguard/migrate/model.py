"""The values a migration is made of: options, steps, pre-flight items and the plan itself.

Pure: no AWS, no I/O. A `MigrationPlan` is frozen and round-trips through JSON, so it can be
reviewed (`print(plan)`, `_repr_html_` in Jupyter), stored, approved and executed later, by
another process, from the same bytes. Its `MigrationPlan.fingerprint` ties a journal to it.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import html
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from cmkguard._convert import Converter
from cmkguard._html import document, table
from cmkguard.errors import ConfigurationError, PlanFormatError, PlanIntegrityError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GENERATED_PASSWORD",
    "PHASES",
    "PLAN_SCHEMA_VERSION",
    "SIGNATURE_ALGORITHM",
    "MigrationOptions",
    "MigrationPlan",
    "MigrationStep",
    "PreflightItem",
    "PreflightLevel",
    "StepKind",
    "StepPhase",
]

PLAN_SCHEMA_VERSION = 2
"""Version of the JSON document written by `MigrationPlan.to_json`.

Version 2 fingerprints the whole plan; version 1 files (whose fingerprint covered the steps
only) still load, for review and dry runs, but a real run needs the plan made again.
"""

SIGNATURE_ALGORITHM = "hmac-sha256"
"""How `MigrationPlan.sign` signs: HMAC-SHA256 of the fingerprint with the reviewer's key."""


class StepKind(enum.StrEnum):
    """What a step does (its value is what plans store)."""

    CHECK_SOURCE = "check-source"
    """Describe the source and compare with the settings the plan was built from."""
    CALL = "call"
    """One AWS request."""
    WAIT = "wait"
    """A botocore waiter."""
    VERIFY = "verify"
    """Describe and compare with what the step expects."""
    REENCRYPT_SECRET = "reencrypt-secret"
    """Read the secret value and write it back as a new version (never shown)."""


class StepPhase(enum.StrEnum):
    """Step phases, in execution order. Nothing before `CUTOVER` modifies a source resource."""

    PREPARE = "prepare"
    COPY = "copy"
    RESTORE = "restore"
    CUTOVER = "cutover"
    CLEANUP = "cleanup"


PHASES: tuple[StepPhase, ...] = tuple(StepPhase)
"""Step phases, in execution order. Nothing before `cutover` modifies a source resource."""


class PreflightLevel(enum.StrEnum):
    """How a pre-flight item weighs on the plan."""

    BLOCKING = "blocking"
    """The plan cannot be executed."""
    WARNING = "warning"
    """A human should review it."""
    PASSED = "passed"
    """Checked and fine (shown so the review says what was checked)."""


_E = TypeVar("_E", bound=enum.Enum)

_CONVERTER = Converter(PlanFormatError)
"""The plan values' JSON converter (the library's one generic converter): an unknown field is a
`PlanFormatError` naming its JSON path, as is every wrongly typed or missing one."""

GENERATED_PASSWORD = "<generated at execution time; never logged or stored>"
"""Placeholder the executor replaces with a fresh random password (ManageMasterUserPassword off).

The password only bridges the moment between turning RDS management off and on again; it is never
printed, journaled or returned.
"""


def _enum(cls: type[_E], value: Any, what: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        raise ValueError(f"unknown {what} {value!r}") from None


def _to_level(value: Any) -> PreflightLevel:
    return _enum(PreflightLevel, value, "pre-flight level")


def _to_kind(value: Any) -> StepKind:
    return _enum(StepKind, value, "step kind")


def _to_phase(value: Any) -> StepPhase:
    return _enum(StepPhase, value, "step phase")


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    # A plain dict: attrs-frozen stops rebinding, and JSON canonicalisation needs dicts anyway.
    return dict(value) if value is not None else {}


def _tuple_str(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _principal_map(
    value: Mapping[str, Iterable[str]] | None,
) -> Mapping[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in (value or {}).items()}


def _str_map(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


@attrs.frozen
class MigrationOptions:
    """How to migrate. Every risky behaviour is off unless asked for explicitly.

    Attributes:
        cutover: Plan the rename cutover (old instance/cluster to `<name><old_suffix>`, the new
            one to the original name). Without it the new resources keep `<name><new_suffix>`.
        new_suffix: Suffix of the re-keyed copies before cutover.
        old_suffix: Suffix the source gets at cutover.
        delete_source_snapshots: Plan a separate, destructive `cleanup` step deleting each
            re-keyed *manual* snapshot's original. Off by default: the old snapshot is kept.
        reencrypt_secret_value: After `update_secret`, write the current value again as a new
            version so it exists under the new key alone (the value never leaves the executor).
        rekey_secret_replicas: Re-create secret replicas with the region's key (remove + re-add:
            the replica is briefly absent in its region). Without it replicas stay on their key.
        replica_keys: Region -> key (id, ARN or alias) for secret replicas; a multi-region target
            key's replica in that region is used when a region is not listed.
        secret_consumers: Secret ARN -> principal ARNs that read it; each must be able to
            `kms:Decrypt` with the new key, or the plan is blocked.
        rotation_lambda_roles: Secret ARN -> execution role ARN of its rotation Lambda.
        recreate_read_replicas: Re-create an instance's same-region read replicas from the new
            primary (default). Without it they are reported and left on the old primary.
    """

    cutover: bool = False
    new_suffix: str = "-cmk"
    old_suffix: str = "-pre-cmk"
    delete_source_snapshots: bool = False
    reencrypt_secret_value: bool = False
    rekey_secret_replicas: bool = False
    replica_keys: Mapping[str, str] = attrs.field(factory=dict, converter=_str_map)
    secret_consumers: Mapping[str, tuple[str, ...]] = attrs.field(
        factory=dict, converter=_principal_map
    )
    rotation_lambda_roles: Mapping[str, str] = attrs.field(factory=dict, converter=_str_map)
    recreate_read_replicas: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        data: dict[str, Any] = _CONVERTER.unstructure(self)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MigrationOptions:
        """Rebuild from `to_dict` output (unknown fields are a `PlanFormatError`)."""
        options: MigrationOptions = _CONVERTER.structure(cls, data, "options")
        return options


@attrs.frozen
class PreflightItem:
    """One pre-flight check and its outcome.

    `level` is a `PreflightLevel`: `blocking` (the plan cannot be executed), `warning`
    (review it) or `passed`. `check` is a stable id such as `key-enabled` or `consumer-decrypt`;
    `subject` what it is about (a resource ARN, a key ARN, a principal).
    """

    check: str
    level: PreflightLevel = attrs.field(converter=_to_level)
    subject: str
    message: str

    @property
    def blocking(self) -> bool:
        """Whether this item stops execution."""
        return self.level is PreflightLevel.BLOCKING

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        data: dict[str, Any] = _CONVERTER.unstructure(self)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PreflightItem:
        """Rebuild from `to_dict` output."""
        item: PreflightItem = _CONVERTER.structure(cls, data, "preflight item")
        return item


@attrs.frozen
class MigrationStep:
    """One step of a plan: exactly what will be sent to AWS, when, and how it is checked.

    Attributes:
        id: Unique, stable within the plan (`<resource-name>/<nn>-<what>`).
        kind: `call` (one AWS request), `wait` (a waiter), `verify` (describe and compare),
            `check-source` (describe the source and compare with the settings the plan was
            built from), `reencrypt-secret` (read and write back the secret value).
        phase: One of `PHASES`.
        service / region: Where the request goes (`rds`, `secretsmanager`).
        operation: The API operation (`CopyDBSnapshot`) or waiter name (`DBSnapshotAvailable`).
        params: The exact request parameters (for `verify`/`check-source`: what is compared).
        resource_arn: The source resource this step belongs to.
        description: One line for humans.
        precondition: What must hold before the step runs.
        verify: How success is established.
        depends_on: Step ids that must be complete first.
        destructive: Whether the step deletes or replaces data (only `cleanup` steps and the
            RDS-managed secret reset, which makes RDS delete the old secret).
        adopt: How the executor recognises that the step's effect already exists (resume after a
            crash between the call and the journal write), e.g. `{"probe": "db-snapshot",
            "id": "..."}`. Empty for naturally idempotent steps.
    """

    id: str
    kind: StepKind = attrs.field(converter=_to_kind)
    phase: StepPhase = attrs.field(converter=_to_phase)
    service: str
    region: str
    operation: str
    params: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping, hash=False)
    resource_arn: str = ""
    description: str = ""
    precondition: str = ""
    verify: str = ""
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=_tuple_str)
    destructive: bool = False
    adopt: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the canonical form the fingerprint hashes)."""
        data: dict[str, Any] = _CONVERTER.unstructure(self)
        data["params"] = _jsonable(self.params)
        data["adopt"] = _jsonable(self.adopt)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "step") -> MigrationStep:
        """Rebuild from `to_dict` output."""
        step: MigrationStep = _CONVERTER.structure(cls, data, where)
        return step

    def request_text(self) -> str:
        """`service.Operation(params)` as it would be sent (JSON-encoded parameters)."""
        shown = dict(self.params)
        if isinstance(shown.get("expected"), Mapping):
            # check-source carries the whole captured record: name the fields, not the values.
            shown["expected"] = f"<{len(shown['expected'])} captured settings>"
        params = json.dumps(_jsonable(shown), sort_keys=True)
        return f"{self.service}.{self.operation}({params})"


def _jsonable(value: Any) -> Any:
    # Round-trip through JSON so tuples become lists: canonical form for hashing and comparing.
    return json.loads(json.dumps(value, sort_keys=True))


_HEADER_FIELDS = ("schema_version", "fingerprint", "signature")


def _sha256(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _hmac(key: str | bytes, fingerprint: str) -> str:
    secret = key.encode("utf-8") if isinstance(key, str) else key
    if not secret:
        raise ConfigurationError("the signing key is empty")
    return hmac.new(secret, fingerprint.encode("ascii"), hashlib.sha256).hexdigest()


def _steps(value: Iterable[MigrationStep]) -> tuple[MigrationStep, ...]:
    return tuple(value)


def _items(value: Iterable[PreflightItem]) -> tuple[PreflightItem, ...]:
    return tuple(value)


@attrs.frozen
class MigrationPlan:
    """An ordered, reviewable, serialisable plan to move resources onto a customer-managed key.

    Build it with `cmkguard.plan_migration`; run it with `cmkguard.execute`.
    `target_key` is the key as the caller named it, `target_key_arns` the resolved key ARN per
    region. `rollback_steps` reverse the cutover (see `rollback_plan`).
    """

    target_key: str
    resources: tuple[str, ...] = attrs.field(converter=_tuple_str)
    steps: tuple[MigrationStep, ...] = attrs.field(converter=_steps)
    preflight: tuple[PreflightItem, ...] = attrs.field(default=(), converter=_items)
    options: MigrationOptions = attrs.field(factory=MigrationOptions)
    target_key_arns: Mapping[str, str] = attrs.field(factory=dict, converter=_str_map, hash=False)
    rollback_steps: tuple[MigrationStep, ...] = attrs.field(default=(), converter=_steps)
    is_rollback: bool = False
    signature: str | None = attrs.field(default=None, eq=False, kw_only=True)
    legacy_fingerprint: bool = attrs.field(default=False, eq=False, repr=False, kw_only=True)

    def __attrs_post_init__(self) -> None:
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError("step ids must be unique within a plan")
        known: set[str] = set()
        for step in self.steps:
            missing = [d for d in step.depends_on if d not in known]
            if missing:
                raise ValueError(f"step {step.id} depends on later or unknown steps {missing}")
            known.add(step.id)

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of everything that decides what runs and whether it may.

        Steps, rollback steps, pre-flight items, resources, options, target keys and the
        rollback flag are all covered, so any edit of a reviewed plan changes it; a journal
        belongs to exactly one fingerprint, and a signature signs it.
        """
        return _sha256(self._body())

    @functools.cached_property
    def _steps_fingerprint(self) -> str:
        # What schema-1 plans and journals called the fingerprint (the steps only).
        return _sha256([s.to_dict() for s in self.steps])

    def _body(self) -> dict[str, Any]:
        return {
            "target_key": self.target_key,
            "target_key_arns": dict(self.target_key_arns),
            "resources": list(self.resources),
            "is_rollback": self.is_rollback,
            "options": self.options.to_dict(),
            "preflight": [i.to_dict() for i in self.preflight],
            "steps": [s.to_dict() for s in self.steps],
            "rollback_steps": [s.to_dict() for s in self.rollback_steps],
        }

    # -- signing -------------------------------------------------------------------------------

    def sign(self, key: str | bytes) -> MigrationPlan:
        """This plan with an HMAC-SHA256 signature of its fingerprint made with `key`.

        A reviewer signs the plan they approved; `cmkguard.execute(..., signing_key=key)`
        (CLI: `migrate run --require-signature`) then runs only plans signed with that key.
        """
        if self.legacy_fingerprint:
            raise PlanIntegrityError("a schema-1 plan cannot be signed: make the plan again")
        digest = _hmac(key, self.fingerprint)
        return attrs.evolve(self, signature=f"{SIGNATURE_ALGORITHM}:{digest}")

    def signature_valid(self, key: str | bytes) -> bool:
        """Whether the plan carries a signature made with `key` over its current fingerprint."""
        if not self.signature or self.legacy_fingerprint:
            return False
        algorithm, _, digest = self.signature.partition(":")
        expected = _hmac(key, self.fingerprint)
        return algorithm == SIGNATURE_ALGORITHM and hmac.compare_digest(digest, expected)

    @property
    def blocking(self) -> tuple[PreflightItem, ...]:
        """The pre-flight items that stop execution."""
        return tuple(i for i in self.preflight if i.blocking)

    @property
    def warnings(self) -> tuple[PreflightItem, ...]:
        """The pre-flight items to review."""
        return tuple(i for i in self.preflight if i.level is PreflightLevel.WARNING)

    @property
    def executable(self) -> bool:
        """Whether no pre-flight item blocks the plan."""
        return not self.blocking

    def step(self, step_id: str) -> MigrationStep:
        """The step with this id; `KeyError` if there is none."""
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def rollback_plan(self) -> MigrationPlan | None:
        """A plan that reverses the cutover (`None` when the plan has no cutover to reverse).

        Run it with `cmkguard.execute` and its own journal. The re-keyed copies are kept.
        """
        if not self.rollback_steps:
            return None
        return MigrationPlan(
            target_key=self.target_key,
            resources=self.resources,
            steps=self.rollback_steps,
            preflight=(),
            options=self.options,
            target_key_arns=self.target_key_arns,
            is_rollback=True,
        )

    # -- serialisation -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (`schema_version`, `fingerprint` and any `signature` first)."""
        header: dict[str, Any] = {
            "schema_version": PLAN_SCHEMA_VERSION,
            "fingerprint": self.fingerprint,
        }
        if self.signature:
            header["signature"] = self.signature
        return {**header, **self._body()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MigrationPlan:
        """Rebuild from `to_dict` output.

        Raises `PlanFormatError` (a `ValueError`) naming the first malformed element or an
        unknown schema version, and `PlanIntegrityError` when the fingerprint is missing or
        does not match (the file was edited).
        """
        if not isinstance(data, Mapping):
            raise PlanFormatError("plan", "expected a JSON object")
        version = data.get("schema_version")
        if version not in (1, PLAN_SCHEMA_VERSION) or isinstance(version, bool):
            raise PlanFormatError(
                "schema_version",
                f"unsupported plan schema_version {version!r} (this cmkguard reads 1 and "
                f"{PLAN_SCHEMA_VERSION})",
            )
        stored = data.get("fingerprint")
        if not isinstance(stored, str):
            raise PlanIntegrityError(
                "the plan has no fingerprint: it cannot be shown to be the plan that was reviewed "
                "(make it again with plan_migration / cmkguard migrate plan)"
            )
        signature = data.get("signature")
        if signature is not None and not isinstance(signature, str):
            raise PlanFormatError("signature", "expected a string")
        body = {k: v for k, v in data.items() if k not in _HEADER_FIELDS}
        plan: MigrationPlan = _CONVERTER.structure(cls, body, "plan")
        legacy = version == 1
        expected = plan._steps_fingerprint if legacy else plan.fingerprint
        if stored != expected:
            raise PlanIntegrityError(
                "plan fingerprint does not match its contents: the plan was modified after it was "
                "made (make it again, review it, and run the new file)"
            )
        return attrs.evolve(plan, signature=signature, legacy_fingerprint=legacy)

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialise to JSON text (see `from_json`)."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> MigrationPlan:
        """Read a plan written by `to_json` (malformed text: `PlanFormatError`)."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise PlanFormatError("plan", f"not JSON: {reason}") from None
        return cls.from_dict(data)

    # -- review --------------------------------------------------------------------------------

    def __str__(self) -> str:
        kind = "Rollback plan" if self.is_rollback else "Migration plan"
        lines = [
            f"{kind} to {self.target_key} ({len(self.resources)} resource(s), "
            f"{len(self.steps)} step(s))",
            f"fingerprint {self.fingerprint}",
        ]
        if self.target_key_arns:
            for region, arn in sorted(self.target_key_arns.items()):
                lines.append(f"target key in {region}: {arn}")
        if self.preflight:
            lines.append("")
            lines.append("Pre-flight:")
            marks = {"blocking": "BLOCKING", "warning": "warning ", "passed": "ok      "}
            for item in self.preflight:
                mark = marks.get(item.level, item.level)
                lines.append(f"  [{mark}] {item.check}: {item.message} ({item.subject})")
        for phase in PHASES:
            steps = [s for s in self.steps if s.phase == phase]
            if not steps:
                continue
            lines.append("")
            lines.append(f"Phase {phase}:")
            for s in steps:
                flag = " [DESTRUCTIVE]" if s.destructive else ""
                lines.append(f"  {s.id}{flag}: {s.description}")
                lines.append(f"      {s.kind} {s.request_text()}")
                if s.depends_on:
                    lines.append(f"      after: {', '.join(s.depends_on)}")
        if self.rollback_steps:
            lines.append("")
            lines.append(
                f"Rollback available: {len(self.rollback_steps)} step(s) reverse the cutover"
            )
        if not self.executable:
            lines.append("")
            lines.append(f"NOT EXECUTABLE: {len(self.blocking)} blocking pre-flight item(s)")
        return "\n".join(lines)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per step, in order: id, phase, kind, service, region, operation, resource,
        description, destructive, depends_on (needs the `pandas` extra)."""
        from cmkguard.report.frames import plan_to_dataframe

        return plan_to_dataframe(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        kind = "Rollback plan" if self.is_rollback else "Migration plan"
        parts = [
            f"<h4>{esc(kind)} to <code>{esc(self.target_key)}</code></h4>",
            f"<p>{len(self.resources)} resource(s), {len(self.steps)} step(s); fingerprint "
            f"<code>{esc(self.fingerprint)}</code></p>",
        ]
        if self.preflight:
            parts.append(
                table(
                    ("level", "check", "subject", "message"),
                    ((i.level, i.check, i.subject, i.message) for i in self.preflight),
                )
            )
        parts.append(
            table(
                ("id", "phase", "kind", "request", "destructive", "description"),
                (
                    (
                        s.id,
                        s.phase,
                        s.kind,
                        s.request_text(),
                        "yes" if s.destructive else "",
                        s.description,
                    )
                    for s in self.steps
                ),
                code={3},
            )
        )
        # The shared view stylesheet, so Jupyter's CSS does not right-align text.
        return document("plan", *parts)
