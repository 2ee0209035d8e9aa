"""The error tree of cmkguard.

Every exception the library raises on purpose derives from `CmkGuardError`:

```text
CmkGuardError
├── PolicyParseError (also ValueError)     malformed key policy or grant, with its location
├── ConfigurationError (also ValueError)   bad input from the caller
│   ├── UnknownRegionError                 a region name AWS does not have
│   ├── UnknownResourceTypeError           a resource type not in the registry
│   ├── InventoryFormatError               a saved inventory that is not one
│   ├── AuditPolicyError                   an invalid audit policy file
│   ├── DocumentError                      a saved JSON document that cannot be read back
│   └── IacInputError                      a file that is not a plan or template
├── AwsAccessError                         AWS could not be used at all
│   ├── NoCredentialsError                 no credentials were found
│   ├── EndpointUnreachableError           the endpoint did not answer
│   └── OrganizationAccessError            AWS Organizations cannot be read from here
├── MissingExtraError (also ImportError)   an optional dependency is not installed
└── MigrationError                         planning or executing a migration failed
    ├── PreflightError                     a plan has blocking pre-flight items
    ├── JournalMismatchError               a journal belongs to another plan
    ├── JournalLockedError                 another runner is executing the same journal
    ├── StepFailedError                    one step failed; the journal says where to resume
    ├── PlanFormatError (also ValueError)  a plan document is malformed, with its location
    ├── PlanIntegrityError (also ValueError) a plan's fingerprint or signature is wrong
    └── JournalFormatError (also ValueError) a journal is malformed or cannot be stored
```

Partial results are data, not exceptions: what a scan could not read becomes a
`cmkguard.ScanError` record in `Inventory.errors`.

Every error keeps its structured fields as attributes and pickles (so it can cross a process
pool), which is why each class passes its fields through `__reduce__`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuditPolicyError",
    "AwsAccessError",
    "CmkGuardError",
    "ConfigurationError",
    "DocumentError",
    "EndpointUnreachableError",
    "IacInputError",
    "InventoryFormatError",
    "JournalFormatError",
    "JournalLockedError",
    "JournalMismatchError",
    "MigrationError",
    "MissingExtraError",
    "NoCredentialsError",
    "OrganizationAccessError",
    "PlanFormatError",
    "PlanIntegrityError",
    "PolicyParseError",
    "PreflightError",
    "StepFailedError",
    "UnknownRegionError",
    "UnknownResourceTypeError",
]


class CmkGuardError(Exception):
    """Root of every exception cmkguard raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.message,))


class PolicyParseError(CmkGuardError, ValueError):
    """A key policy (or grant) is malformed.

    `location` is the JSON path of the offending element, e.g. `Statement[2].Condition`;
    `reason` says what is wrong there. The message is `"<location>: <reason>"`.
    """

    def __init__(self, location: str, reason: str) -> None:
        self.location = location
        self.reason = reason
        super().__init__(f"{location}: {reason}" if location else reason)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.location, self.reason))


class ConfigurationError(CmkGuardError, ValueError):
    """The caller passed something cmkguard cannot work with."""


class UnknownRegionError(ConfigurationError):
    """A region name that AWS does not have (or that the partition does not offer)."""

    def __init__(
        self, region: str, known: tuple[str, ...] = (), suggestions: tuple[str, ...] = ()
    ) -> None:
        self.region = region
        self.known = known
        self.suggestions = suggestions
        # Close matches are a guess at a typo, not the list of regions: say so.
        if suggestions:
            hint = f" (did you mean {' or '.join(suggestions)}?)"
        else:
            hint = f" (known regions: {', '.join(known)})" if known else ""
        super().__init__(f"unknown region {region!r}{hint}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.region, self.known, self.suggestions))


class UnknownResourceTypeError(ConfigurationError):
    """A resource type that is not in the registry."""

    def __init__(self, resource_type: str, known: tuple[str, ...] = ()) -> None:
        self.resource_type = resource_type
        self.known = known
        hint = f" (known types: {', '.join(known)})" if known else ""
        super().__init__(f"unknown resource type {resource_type!r}{hint}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.resource_type, self.known))


class InventoryFormatError(ConfigurationError):
    """A saved inventory (JSON) that is not one: wrong shape, bad field, unknown schema version.

    `location` is the JSON path of the first wrong element (`$.resources[3].key_class`),
    `reason` what is wrong. Also a `ValueError` (through `ConfigurationError`), as the loaders
    raised before.
    """

    def __init__(self, location: str, reason: str) -> None:
        self.location = location
        self.reason = reason
        super().__init__(f"not a cmkguard inventory: {location}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.location, self.reason))


class AuditPolicyError(ConfigurationError):
    """An audit policy (TOML/JSON) is invalid; the message names the field."""


class DocumentError(ConfigurationError):
    """A saved document (inventory, audit report, plan) cannot be read back: not JSON, nested
    deeper than any cmkguard document, or not of the kind asked for (an audit report given as
    an inventory). The message names what is wrong; `kind` is what was expected."""

    def __init__(self, kind: str, problem: str) -> None:
        self.kind = kind
        self.problem = problem
        super().__init__(f"not a {kind}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.kind, self.problem))


class IacInputError(ConfigurationError):
    """A file given to the infrastructure-code check is unreadable, or not a Terraform plan in
    JSON or a CloudFormation template (JSON or YAML); the message names the file."""


class AwsAccessError(CmkGuardError):
    """AWS could not be used at all (as opposed to one call failing, which is a ScanError)."""


class NoCredentialsError(AwsAccessError):
    """No AWS credentials were found for the session."""


class EndpointUnreachableError(AwsAccessError):
    """The AWS endpoint (or the emulator's) did not answer."""

    def __init__(self, endpoint: str, reason: str = "") -> None:
        self.endpoint = endpoint
        self.reason = reason
        tail = f": {reason}" if reason else ""
        super().__init__(f"cannot reach endpoint {endpoint}{tail}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.endpoint, self.reason))


class MissingExtraError(CmkGuardError, ImportError):
    """An optional dependency is needed; the message says which extra installs it."""

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(f"{package} is required for this feature: pip install 'cmkguard[{extra}]'")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.package, self.extra))


class MigrationError(CmkGuardError):
    """Planning or executing a migration failed."""


class PreflightError(MigrationError):
    """A plan has blocking pre-flight items and cannot be executed."""


class JournalMismatchError(MigrationError):
    """A journal was written for a different plan (its fingerprint differs)."""


class StepFailedError(MigrationError):
    """A migration step failed; the journal records every step completed before it."""

    def __init__(self, step_id: str, reason: str) -> None:
        self.step_id = step_id
        self.reason = reason
        super().__init__(f"step {step_id} failed: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.step_id, self.reason))


class OrganizationAccessError(AwsAccessError):
    """AWS Organizations cannot be read with these credentials.

    `caller_account` is where discovery ran; `caller_role` what that account is to the
    organisation (`"management"`, `"member"` or `"none"` outside any organisation);
    `management_account` the organisation's management account when known.
    """

    def __init__(
        self,
        message: str,
        caller_account: str | None = None,
        caller_role: str | None = None,
        management_account: str | None = None,
    ) -> None:
        super().__init__(message)
        self.caller_account = caller_account
        self.caller_role = caller_role
        self.management_account = management_account

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            self.__class__,
            (self.message, self.caller_account, self.caller_role, self.management_account),
        )


class JournalLockedError(MigrationError):
    """Another runner (thread or process) holds the journal: two runs of one plan never overlap."""


class PlanFormatError(MigrationError, ConfigurationError):
    """A plan document is malformed: `location` is the JSON path, `reason` what is wrong."""

    def __init__(self, location: str, reason: str) -> None:
        self.location = location
        self.reason = reason
        super().__init__(f"not a valid cmkguard plan: {location}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.location, self.reason))


class PlanIntegrityError(MigrationError, ConfigurationError):
    """A plan's fingerprint is missing or does not match (it was edited), or its signature is."""


class JournalFormatError(MigrationError, ConfigurationError):
    """A journal document is malformed, or the journal cannot be stored where it was asked."""
