"""The declarative shape of a resource type, and what a listing yields before key resolution.

A `ResourceType` says which API lists the resources (operation, result key, page
parameters), how to read one listed item (`ResourceType.parse`), an optional per-item
follow-up call for the few items that need one, and the IAM actions all of that needs. It
calls nothing itself: the scan (`cmkguard.inventory` over `cmkguard.aws`) runs it.

`parse` is pure: it turns one item of the API response into a `RawResource` whose key
identifiers are still as the service reported them (`KeyRef`); the scan resolves them to
key ARNs and classes afterwards, once per unique identifier.

A resource may also depend on a resource of *another* service that has a key of its own (a
secret's rotation Lambda encrypts its environment): `LinkedKeySource` declares that read,
which the scan makes once per distinct linked ARN.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import attrs

from cmkguard.types import Region, ResourceArn, ResourceTypeName

__all__ = [
    "STORAGE",
    "KeyRef",
    "LinkedKeySource",
    "RawResource",
    "ResourceType",
    "compact",
    "jsonable",
    "tags_from_pairs",
]

STORAGE = "storage"
"""The `KeyRef.purpose` of a resource's own storage key."""


@attrs.frozen
class KeyRef:
    """A key identifier found on a resource, before resolution.

    `reference` is the identifier as reported (id, ARN, alias, alias ARN) or `None`.
    `default_alias` is the AWS-managed alias a service uses when it reports no key (Secrets
    Manager omits `KmsKeyId` for `aws/secretsmanager`). `encrypted` false means the data is
    not encrypted at all. `region` is where the identifier must be resolved (a secret's
    replica lives in another region than the secret). `failure`: the key could not be found
    at all (the resource holding it could not be read), and why; the key is then unknown.
    `aws_owned`: encrypted with an AWS owned key, which no account but AWS's can see (RDS
    `StorageEncryptionType` `sse-rds`); the key class is then `KeyClass.AWS_OWNED`.
    """

    purpose: str
    region: Region
    reference: str | None
    encrypted: bool = True
    default_alias: str | None = None
    detail: str | None = None
    failure: str | None = None
    aws_owned: bool = False


@attrs.frozen
class RawResource:
    """One listed resource with its key identifiers still unresolved."""

    arn: ResourceArn
    name: str
    key: KeyRef
    tags: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    details: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    secondary: tuple[KeyRef, ...] = ()
    record: Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    """The listing item (and detail response) it was parsed from, JSON-safe; set by the scan."""


Parser = Callable[[Mapping[str, Any], Region], "RawResource | None"]
LinkTarget = Callable[["RawResource"], "str | None"]


@attrs.frozen
class LinkedKeySource:
    """A resource of another service whose key a listed resource depends on.

    `target` returns the linked resource's ARN for a parsed resource (`None`: no link). The
    scan calls `service`'s `operation` with `{request_param: arn}` once per distinct ARN
    and account, in the region the ARN names, and records a
    `KeyUse` of `purpose` on every resource linked to it: the key is
    `response[key_field]`, or `default_alias` (an AWS-managed key) when the response has
    none. A failed read becomes a `ScanError` and a `KeyUse` of class `UNKNOWN`.
    """

    purpose: str
    target: LinkTarget
    service: str
    operation: str
    request_param: str
    key_field: str
    default_alias: str | None = None

    @property
    def iam_action(self) -> str:
        """The IAM action the read needs (`lambda:GetFunctionConfiguration`)."""
        return f"{self.service}:{self.operation}"


DetailRequest = Callable[[Mapping[str, Any], Region], "dict[str, Any] | None"]
Linker = Callable[[Sequence["RawResource"]], "list[RawResource]"]


@attrs.frozen
class ResourceType:
    """One resource type, declared: what to call, how to read it, which IAM actions.

    `operation` is the paged API operation (e.g. `"DescribeDBInstances"`), `result_key`
    the list in its response, `params` fixed request parameters. `detail_operation` is an
    optional per-item call made only for the items `detail_request` returns parameters for
    (its response is merged over the listed item before `parse`). `link` post-processes the
    parsed resources of every scanned region together (e.g. attach a secret's replicas found in
    other regions). `linked` declares reads of other services' resources whose keys the
    resources depend on (`LinkedKeySource`). `iam_actions` lists every IAM action the
    type's calls need, the linked reads' included.
    """

    name: ResourceTypeName
    service: str
    operation: str
    result_key: str
    parse: Parser
    iam_actions: tuple[str, ...]
    description: str
    params: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    detail_operation: str | None = None
    detail_request: DetailRequest | None = None
    link: Linker | None = None
    linked: tuple[LinkedKeySource, ...] = ()

    def __attrs_post_init__(self) -> None:
        if (self.detail_operation is None) != (self.detail_request is None):
            raise ValueError(f"{self.name}: detail_operation and detail_request go together")

    def linked_source(self, purpose: str) -> LinkedKeySource:
        """The linked key source of `purpose` (`KeyError` if the type declares none)."""
        for source in self.linked:
            if source.purpose == purpose:
                return source
        raise KeyError(f"{self.name} has no linked key source {purpose!r}")

    @property
    def operations(self) -> tuple[str, ...]:
        """Every API operation a scan of this type may call."""
        return (self.operation,) + ((self.detail_operation,) if self.detail_operation else ())


def tags_from_pairs(pairs: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """`[{"Key": k, "Value": v}, ...]` (RDS `TagList`, Secrets Manager `Tags`) as a dict."""
    return {str(t["Key"]): str(t.get("Value", "")) for t in pairs or ()}


def jsonable(value: Any) -> Any:
    """`value` with datetimes as ISO strings, so `details` survive a JSON round trip."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def compact(details: Mapping[str, Any]) -> dict[str, Any]:
    """`details` without `None` values, JSON-able."""
    return {k: jsonable(v) for k, v in details.items() if v is not None}
