"""The values an infrastructure-code check produces: classified resources and their findings."""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from cmkguard.inventory.values import KeyClass
from cmkguard.severity import Severity

if TYPE_CHECKING:
    from cmkguard.auditing.finding import Finding

__all__ = [
    "IAC_SCHEMA_VERSION",
    "IacFormat",
    "IacKeyUse",
    "IacReport",
    "IacResource",
    "key_class_name",
]

IAC_SCHEMA_VERSION = 1
"""Version of the JSON document written by `IacReport.to_json`."""


class IacFormat(enum.Enum):
    """The kind of file a resource was read from."""

    TERRAFORM_PLAN = "terraform-plan"
    CLOUDFORMATION = "cloudformation"


def key_class_name(key_class: KeyClass | None) -> str | None:
    """The JSON spelling of a key class: `aws_managed`, `customer_managed`, `aws_owned`..."""
    return key_class.name.lower() if key_class is not None else None


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen
class IacKeyUse:
    """A secondary key of a declared resource: Performance Insights, a secret's replica."""

    purpose: str
    key_class: KeyClass
    region: str | None = None
    key_reference: str | None = None
    key_address: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "purpose": self.purpose,
            "region": self.region,
            "key_class": key_class_name(self.key_class),
            "key_reference": self.key_reference,
            "key_address": self.key_address,
            "reason": self.reason,
        }


@attrs.frozen
class IacResource:
    """One declared resource, classified as a scan would classify it once deployed.

    `address` is the Terraform address (`module.db.aws_db_instance.main`) or the CloudFormation
    logical id; `resource_type` the IaC type (`aws_db_instance`, `AWS::RDS::DBCluster`) and
    `kind` the cmkguard resource type it becomes (`rds:db-instance`). `line` is the 1-based line
    of the declaration in `file` (`None` when not found). `key_class` is the storage key's class
    (`KeyClass.CUSTOMER_MANAGED` for a key itself); `key_reference` what the file says the key is
    (a literal, or the reference as written); `key_address` the declared key it resolves to;
    `reason` explains an unknown class or an inheritance (`member of cluster ...`).
    """

    file: str
    address: str
    resource_type: str
    kind: str
    source_format: IacFormat
    key_class: KeyClass
    line: int | None = None
    key_reference: str | None = None
    key_address: str | None = None
    reason: str | None = None
    secondary_keys: tuple[IacKeyUse, ...] = attrs.field(default=(), converter=_tuple)
    findings: tuple[Finding, ...] = attrs.field(default=(), converter=_tuple, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (one element of the report's `resources`)."""
        out: dict[str, Any] = {
            "file": self.file,
            "line": self.line,
            "format": self.source_format.value,
            "address": self.address,
        }
        if self.source_format is IacFormat.CLOUDFORMATION:
            out["logical_id"] = self.address
        out |= {
            "resource_type": self.resource_type,
            "kind": self.kind,
            "key_class": key_class_name(self.key_class),
            "key_reference": self.key_reference,
            "key_address": self.key_address,
            "reason": self.reason,
            "secondary_keys": [k.to_dict() for k in self.secondary_keys],
            "findings": [f.to_dict() for f in self.findings],
        }
        return out


@attrs.frozen
class IacReport:
    """Every resource checked in a set of files, with its findings.

    `account` is the deploying account when it was given or found in a plan (literal key ARNs are
    compared with it to tell cross-account keys).
    """

    resources: tuple[IacResource, ...] = attrs.field(converter=_tuple)
    files: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    account: str | None = None
    tool_version: str = ""

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding, most severe first, then by file and line."""
        found = [f for r in self.resources for f in r.findings]
        return tuple(sorted(found, key=lambda f: -f.severity.rank))

    @property
    def active_findings(self) -> tuple[Finding, ...]:
        """The findings that are not suppressed."""
        return tuple(f for f in self.findings if not f.suppressed)

    def at_or_above(self, severity: Severity | str) -> tuple[Finding, ...]:
        """Unsuppressed findings at or above `severity` (what `--fail-on` fails on)."""
        level = severity if isinstance(severity, Severity) else Severity.parse(severity)
        return tuple(f for f in self.active_findings if f.severity >= level)

    def resource(self, address: str, file: str | None = None) -> IacResource:
        """The resource declared at `address` (in `file` when several files declare it)."""
        for r in self.resources:
            if r.address == address and (file is None or r.file == file):
                return r
        raise KeyError(address)

    @property
    def gaps(self) -> tuple[str, ...]:
        """What could not be checked: every storage or secondary key whose class is unknown,
        as `file:line address (purpose): reason`. Empty when the check is complete."""
        out: list[str] = []
        for r in self.resources:
            where = f"{r.file}:{r.line}" if r.line else r.file
            if r.key_class is KeyClass.UNKNOWN:
                out.append(f"{where} {r.address}: {r.reason or 'unknown key'}")
            for use in r.secondary_keys:
                if use.key_class is KeyClass.UNKNOWN:
                    out.append(
                        f"{where} {r.address} ({use.purpose}): {use.reason or 'unknown key'}"
                    )
        return tuple(out)

    @property
    def complete(self) -> bool:
        """Whether every declared key could be classified (no `gaps`)."""
        return not self.gaps

    def key_class_counts(self) -> dict[str, int]:
        """How many resources (keys and aliases excluded) fall in each key class."""
        counts = Counter(
            key_class_name(r.key_class) for r in self.resources if not r.kind.startswith("kms:")
        )
        return dict(sorted((str(k), v) for k, v in counts.items()))

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-able dict."""
        return {
            "schema_version": IAC_SCHEMA_VERSION,
            "generator": {"name": "cmkguard", "version": self.tool_version},
            "files": list(self.files),
            "account": self.account,
            "complete": self.complete,
            "gaps": list(self.gaps),
            "summary": {
                "resources": len(self.resources),
                "key_classes": self.key_class_counts(),
                "findings": dict(Counter(f.severity.value for f in self.active_findings)),
            },
            "resources": [r.to_dict() for r in self.resources],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)
