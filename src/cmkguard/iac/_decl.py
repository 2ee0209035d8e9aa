"""The parsers' common output: declared resources with normalised attribute values.

Both parsers (Terraform plan JSON, CloudFormation) turn a resource into a `Decl`: its kind (a
cmkguard resource type name such as `rds:db-instance`), where it is declared, and the attributes
that decide its key, each as one of three values:

- `Known`: a literal the file states (or Terraform knows at plan time);
- `Ref`: a reference to another resource declared in the same file (a key, an alias, the source
  instance of a replica...), resolved by the classifier;
- `Unknown`: a value nobody can know before deploy, with the reason (known only after apply, a
  stack parameter without a value, an imported export...).

An attribute the file leaves out is simply absent from `Decl.values`: the classifier then applies
the AWS default (which differs per resource type).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["Decl", "Known", "Ref", "Unknown", "Value"]


@attrs.frozen
class Known:
    """A literal value (string, bool, number, or a decoded policy document)."""

    value: Any


@attrs.frozen
class Ref:
    """A reference to the resource declared at `target` (a Terraform address or a logical id).

    `text` is the reference as written (`aws_kms_key.db.arn`, `!GetAtt DbKey.Arn`), for messages.
    """

    target: str
    text: str


@attrs.frozen
class Unknown:
    """A value that cannot be known before deploy; `reason` says why."""

    reason: str


Value = Known | Ref | Unknown


def _values(value: Mapping[str, Value]) -> dict[str, Value]:
    return dict(value)


@attrs.frozen
class Decl:
    """One declared resource, as the parsers hand it to the classifier.

    `address` is the Terraform address (`module.db.aws_db_instance.main[0]`) or the
    CloudFormation logical id; `ref_address` is what references to it resolve to (the address
    without instance keys for Terraform, the logical id for CloudFormation). `line` is the
    1-based line of the declaration in `file` (`None` when it could not be found). `items` holds
    list attributes such as a secret's replicas, each a mapping of values.
    """

    file: str
    address: str
    ref_address: str
    resource_type: str
    kind: str
    line: int | None
    values: Mapping[str, Value] = attrs.field(factory=dict, converter=_values, hash=False)
    items: Mapping[str, tuple[Mapping[str, Value], ...]] = attrs.field(factory=dict, hash=False)
    region: str | None = None

    def get(self, name: str) -> Value | None:
        """The value of attribute `name`, `None` when the file leaves it out."""
        return self.values.get(name)

    def known(self, name: str, default: Any = None) -> Any:
        """The literal value of `name` (`default` when absent); a `Ref`/`Unknown` as is."""
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, Known):
            return value.value
        return value
