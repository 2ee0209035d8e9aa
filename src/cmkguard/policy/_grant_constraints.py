"""Grant constraints, exactly: which encryption contexts a grant admits, and for which operations.

The rules are AWS's (each cited in docs/policy.md, section "Grants"):

- `EncryptionContextSubset` admits a request whose encryption context contains every pair of
  the constraint (it may carry more); `EncryptionContextEquals` admits only a request whose
  encryption context is that map (any order). In a grant constraint the *key* of a pair
  matches without regard to case and the *value* case-sensitively (KMS API Reference,
  `GrantConstraints`, "Important"; the Developer Guide's "exact, case-sensitive match" is
  the stricter older wording: matching keys without case admits more requests, the safe side).
- An empty map is treated as not specified (IAM Access Analyzer, `KmsGrantConstraints`).
- The constraints apply only to the operations that take an encryption context. A grant with
  one may also carry `DescribeKey`, `RetireGrant` (the constraint does not apply to them) and
  `CreateGrant` (children must be at least as strict); any other operation (Sign, Verify,
  GenerateMac, ...) cannot take an encryption context, and `CreateGrant` refuses the grant.
- `SourceArn` admits only requests made on behalf of that AWS resource (`aws:SourceArn`).

Hand-written rather than delegated to a library: the semantics is a few set comparisons.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from cmkguard.errors import PolicyParseError

__all__ = [
    "CONSTRAINT_FREE_OPERATIONS",
    "ENCRYPTION_CONTEXT_OPERATIONS",
    "GrantConstraint",
    "parse_constraints",
    "takes_context",
]

ENCRYPTION_CONTEXT_OPERATIONS: tuple[str, ...] = (
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
)
"""Grant operations whose requests carry an encryption context (botocore `kms` model: the
operations with an `EncryptionContext` member; `ReEncrypt` has a source and a destination one)."""

CONSTRAINT_FREE_OPERATIONS: tuple[str, ...] = ("CreateGrant", "DescribeKey", "RetireGrant")
"""Operations a grant with an encryption-context constraint may also carry (the constraint
does not apply to their requests; for `CreateGrant` it binds the grants created)."""

_MAX_PAIRS = 8  # "Each constraint value can include up to 8 encryption context pairs."
_CONTEXT_FIELDS = ("EncryptionContextEquals", "EncryptionContextSubset")
_FIELDS = frozenset({*_CONTEXT_FIELDS, "SourceArn"})


def _pairs(context: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    """The pairs as a grant constraint compares them: key without case, value exactly."""
    return frozenset((k.lower(), v) for k, v in context.items())


def _words(context: Mapping[str, str]) -> str:
    return json.dumps(dict(context), ensure_ascii=False)


@attrs.frozen
class GrantConstraint:
    """A grant's `Constraints`, validated, with their meaning.

    `equals` / `subset` are the encryption-context maps (`None` when absent or empty: AWS
    treats an empty map as not specified); `source_arn` the `SourceArn` constraint.
    """

    equals: Mapping[str, str] | None = attrs.field(default=None, hash=False)
    subset: Mapping[str, str] | None = attrs.field(default=None, hash=False)
    source_arn: str | None = None

    @property
    def limits_context(self) -> bool:
        """Whether some encryption context is refused (a non-empty Equals or Subset map)."""
        return bool(self.equals) or bool(self.subset)

    def admits(self, encryption_context: Mapping[str, str]) -> bool:
        """Whether a request with this encryption context meets the constraint.

        Keys compare without case, values exactly. `SourceArn` is not a property of the
        encryption context and is not checked here.
        """
        have = _pairs(encryption_context)
        if self.subset and not _pairs(self.subset) <= have:
            return False
        return not (self.equals and have != _pairs(self.equals))

    def example_context(self) -> dict[str, str] | None:
        """One encryption context the constraint admits (`{}` when any is), or `None` when
        none is (an Equals map that lacks a pair its Subset map requires)."""
        if self.equals:
            candidate = dict(self.equals)
            return candidate if self.admits(candidate) else None
        return dict(self.subset) if self.subset else {}

    def at_least_as_strict_as(self, parent: GrantConstraint) -> bool:
        """Whether a child grant with this constraint may be created from `parent`'s
        CreateGrant (AWS: Subset pairs may be added, not removed; Subset may become Equals,
        not the reverse). Checked as containment: every context this admits, the parent does."""
        if parent.source_arn is not None and self.source_arn != parent.source_arn:
            return False
        if parent.equals:
            return _pairs(self.equals or {}) == _pairs(parent.equals)
        if parent.subset:
            mine = _pairs(self.equals) if self.equals else _pairs(self.subset or {})
            return _pairs(parent.subset) <= mine
        return True

    def describe(self) -> str:
        """The constraint in words, e.g. `only when the encryption context contains
        {"app": "orders"}`."""
        parts = []
        if self.equals:
            parts.append(f"only when the encryption context is exactly {_words(self.equals)}")
        if self.subset:
            parts.append(f"only when the encryption context contains {_words(self.subset)}")
        if self.source_arn:
            parts.append(f"only on behalf of {self.source_arn}")
        if self.limits_context and self.example_context() is None:
            parts.append("(no encryption context meets both, so no request does)")
        return " and ".join(parts) if parts else "with any encryption context"

    def to_dict(self) -> dict[str, Any]:
        """The constraint in `ListGrants` shape (empty maps left out)."""
        out: dict[str, Any] = {}
        if self.equals:
            out["EncryptionContextEquals"] = dict(self.equals)
        if self.subset:
            out["EncryptionContextSubset"] = dict(self.subset)
        if self.source_arn:
            out["SourceArn"] = self.source_arn
        return out


def _context_map(value: Any, where: str) -> dict[str, str] | None:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise PolicyParseError(where, "expected an object of strings")
    if len(value) > _MAX_PAIRS:
        raise PolicyParseError(where, f"at most {_MAX_PAIRS} encryption context pairs")
    if any(not k for k in value):
        raise PolicyParseError(where, "an encryption context key cannot be empty")
    return dict(value) or None


def takes_context(key_spec: str | None) -> bool:
    """Whether a key of this spec takes an encryption context (`None`: not known, assumed
    symmetric, the common case). Only symmetric encryption keys do."""
    return key_spec is None or key_spec == "SYMMETRIC_DEFAULT"


def parse_constraints(
    raw: Any, operations: tuple[str, ...], where: str, key_spec: str | None = None
) -> GrantConstraint:
    """Validate a grant's `Constraints` as `CreateGrant` would; `where` locates errors.

    With a `key_spec` other than `SYMMETRIC_DEFAULT` (asymmetric and HMAC keys), no
    operation takes an encryption context, so an encryption-context constraint is refused."""
    if raw is None:
        return GrantConstraint()
    if not isinstance(raw, Mapping):
        raise PolicyParseError(where, "expected an object")
    for name in raw:
        if name not in _FIELDS:
            raise PolicyParseError(where, f"unknown constraint {name!r}")
    maps = {n: _context_map(raw[n], f"{where}.{n}") for n in _CONTEXT_FIELDS if n in raw}
    source = raw.get("SourceArn")
    if source is not None and (not isinstance(source, str) or not source.startswith("arn:")):
        raise PolicyParseError(f"{where}.SourceArn", "expected an ARN")
    constraint = GrantConstraint(
        maps.get("EncryptionContextEquals"), maps.get("EncryptionContextSubset"), source
    )
    if constraint.limits_context:
        field = next(n for n in _CONTEXT_FIELDS if maps.get(n))
        if not takes_context(key_spec):
            raise PolicyParseError(
                f"{where}.{field}",
                f"an encryption-context constraint cannot apply to a {key_spec} key "
                "(asymmetric and HMAC keys take no encryption context)",
            )
        allowed = {*ENCRYPTION_CONTEXT_OPERATIONS, *CONSTRAINT_FREE_OPERATIONS}
        refused = [op for op in operations if op not in allowed]
        if refused:
            raise PolicyParseError(
                f"{where}.{field}",
                f"an encryption-context constraint cannot apply to {', '.join(refused)} "
                "(these operations take no encryption context; CreateGrant refuses the grant)",
            )
    return constraint
