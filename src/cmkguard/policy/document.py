"""The typed key-policy document: strict parsing, normalisation and rendering.

IAM grammar allows a scalar or a list almost everywhere, a bare account id for its root ARN,
operators and condition keys in any case. All of that is normalised here, once, into frozen
objects, so the analyser never sees a raw dict (the mistake that makes popular scanners crash on a
single-object `Statement`). Anything KMS would refuse raises `PolicyParseError` naming the
location of the offending element.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from cmkguard.arn import is_account_id
from cmkguard.errors import PolicyParseError
from cmkguard.policy._memo import MEMOS, remember

__all__ = [
    "Condition",
    "Effect",
    "KeyPolicy",
    "Principal",
    "PrincipalKind",
    "Statement",
    "parse_key_policy",
]

MAX_POLICY_CHARS = 1_048_576
"""Inputs longer than this are refused: KMS caps key policies at 32 KB, so 1 MiB is not a policy
but a mistake (or an attack on the parser)."""

VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_FIELDS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_FIELDS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource"}
    | {"NotResource", "Condition"}
)
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated")


_ACTION_RE = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+")
# iam/sts principal ARNs: account root, users, roles, assumed-role and federated-user sessions,
# SAML/OIDC providers (Federated).
_PRINCIPAL_ARN_RE = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>[^:]*):(?P<resource>.+)"
)
_IAM_RESOURCE_RE = re.compile(r"root|(user|role|saml-provider|oidc-provider)/.+")
_STS_RESOURCE_RE = re.compile(r"assumed-role/[^/]+/.+|federated-user/.+")
# What GetKeyPolicy shows for a principal that was deleted after the policy named it.
_UNIQUE_ID_RE = re.compile(r"A(IDA|ROA|GPA|IPA|NPA|NVA|SIA)[A-Z0-9]{12,}")
_SERVICE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_SERVICE_ENDS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def is_service_name(text: str) -> bool:
    """Whether `text` has the form of a service principal name (`logs.amazonaws.com`):
    lower-case letters, digits, `.` and `-`, a dot inside, a letter or digit at each end.

    A linear scan: the regular expression it replaces backtracked quadratically (a 32 KB
    `Service` value of `a.a.a...!` took 13 s to refuse).
    """
    return (
        len(text) >= 3
        and text[0] in _SERVICE_ENDS
        and text[-1] in _SERVICE_ENDS
        and "." in text
        and all(c in _SERVICE_CHARS for c in text)
    )


class _ServiceNameMatcher:
    """`is_service_name` behind the `fullmatch` of the regular expression it replaced."""

    def fullmatch(self, text: str) -> bool:
        return is_service_name(text)


SERVICE_RE = _ServiceNameMatcher()
"""Kept for the modules that call `SERVICE_RE.fullmatch` (see `is_service_name`)."""

# Condition operators (IAM policy grammar), lower-case -> canonical spelling.
_BASE_OPERATORS = {
    op.lower(): op
    for op in (
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
    )
}
_QUALIFIERS = {"forallvalues:": "ForAllValues", "foranyvalue:": "ForAnyValue"}

# Condition keys whose canonical spelling cmkguard knows (keys are case-insensitive in IAM).
_KNOWN_KEYS = {
    k.lower(): k
    for k in (
        "aws:CalledVia",
        "aws:CalledViaFirst",
        "aws:CalledViaLast",
        "aws:CurrentTime",
        "aws:EpochTime",
        "aws:MultiFactorAuthAge",
        "aws:MultiFactorAuthPresent",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalIsAWSService",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalServiceName",
        "aws:PrincipalServiceNamesList",
        "aws:PrincipalTag",
        "aws:PrincipalType",
        "aws:RequestedRegion",
        "aws:ResourceAccount",
        "aws:ResourceOrgID",
        "aws:ResourceOrgPaths",
        "aws:ResourceTag",
        "aws:SecureTransport",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceIp",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
        "aws:SourceOwner",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:TagKeys",
        "aws:TokenIssueTime",
        "aws:UserAgent",
        "aws:userid",
        "aws:username",
        "aws:ViaAWSService",
        "aws:VpcSourceIp",
        "kms:BypassPolicyLockoutSafetyCheck",
        "kms:CallerAccount",
        "kms:CustomerMasterKeySpec",
        "kms:CustomerMasterKeyUsage",
        "kms:DataKeyPairSpec",
        "kms:EncryptionAlgorithm",
        "kms:EncryptionContextKeys",
        "kms:ExpirationModel",
        "kms:GrantConstraintType",
        "kms:GrantIsForAWSResource",
        "kms:GrantOperations",
        "kms:GranteePrincipal",
        "kms:KeyAgreementAlgorithm",
        "kms:KeyOrigin",
        "kms:KeySpec",
        "kms:KeyUsage",
        "kms:MacAlgorithm",
        "kms:MessageType",
        "kms:MultiRegion",
        "kms:MultiRegionKeyType",
        "kms:PrimaryRegion",
        "kms:ReEncryptOnSameKey",
        "kms:RecipientAttestation:ImageSha384",
        "kms:RecipientAttestation:PCR",
        "kms:RequestAlias",
        "kms:ResourceAliases",
        "kms:ReplicaRegion",
        "kms:RetiringPrincipal",
        "kms:RotationPeriodInDays",
        "kms:ScheduleKeyDeletionPendingWindowInDays",
        "kms:SigningAlgorithm",
        "kms:ValidTo",
        "kms:ViaService",
        "kms:WrappingAlgorithm",
        "kms:WrappingKeySpec",
    )
}
# Keys with a free-form suffix: the prefix is canonicalised, the suffix kept as written.
_PREFIX_KEYS = {
    p.lower(): p
    for p in ("kms:EncryptionContext:", "aws:PrincipalTag/", "aws:ResourceTag/", "aws:RequestTag/")
}


class Effect(enum.Enum):
    """A statement's `Effect`."""

    ALLOW = "Allow"
    DENY = "Deny"

    # Identity hashing (members are singletons, pickling included): Enum's own __hash__ runs in
    # Python, and every memo lookup of a statement's parts hashes its Effect.
    __hash__ = object.__hash__


class PrincipalKind(enum.Enum):
    """What a principal value denotes."""

    WILDCARD = "wildcard"
    """`"*"`: every caller."""
    ACCOUNT = "account"
    """A whole account (`arn:aws:iam::<id>:root` or a bare 12-digit id)."""
    ARN = "arn"
    """A specific user, role, session or identity provider of one account."""
    SERVICE = "service"
    """An AWS service principal (`logs.amazonaws.com`)."""
    FEDERATED = "federated"
    """A web-identity provider named by domain (`cognito-identity.amazonaws.com`)."""
    UNIQUE_ID = "unique-id"
    """A unique id (`AROA...`) KMS shows after the named principal was deleted."""


@attrs.frozen(cache_hash=True)  # memoised principals are hashed again by each lookup
class Principal:
    """One principal value, normalised.

    `value` is canonical: `"*"`, `arn:<partition>:iam::<id>:root` for accounts, the ARN or
    service name as written otherwise. `account` is the 12-digit account it belongs to (`None`
    for wildcard, services and unique ids). `principal_type` is the JSON key it came under.
    `bare` is true for an account written as a bare 12-digit id: it names no partition (IAM
    reads it in the key's partition), so the analysis re-reads its `value` in the key's
    partition once that is known (docs/policy.md, "The key's partition").
    """

    principal_type: str
    value: str
    kind: PrincipalKind
    account: str | None = None
    has_wildcard: bool = False
    bare: bool = attrs.field(default=False, eq=False)

    def __str__(self) -> str:
        return self.value


@attrs.frozen(cache_hash=True)  # the analyser memoises per condition: hash each one once
class Condition:
    """One condition: `operator` applied to `key` with `values` (ORed).

    `operator` and `key` are canonical spellings (`kms:callerAccount` becomes
    `kms:CallerAccount`; unknown keys keep their spelling). `base` is the operator without its
    set qualifier and `IfExists` suffix; `qualifier` is `"ForAllValues"`,
    `"ForAnyValue"` or `None`. JSON booleans and numbers become their JSON text.
    """

    operator: str
    key: str
    values: tuple[str, ...]
    base: str
    qualifier: str | None = None
    if_exists: bool = False

    @property
    def key_lower(self) -> str:
        """The key in lower case (what matching uses)."""
        return self.key.lower()

    def __str__(self) -> str:
        vals = self.values[0] if len(self.values) == 1 else list(self.values)
        return f"{self.operator} {self.key} {json.dumps(vals)}"


@attrs.frozen
class Statement:
    """One statement, normalised.

    Exactly one of `principals`/`not_principal` semantics applies: `not_principal` is true
    when the statement used `NotPrincipal`. Likewise `not_action` and `not_resource`.
    Values keep the order they were written in (duplicates dropped).
    """

    effect: Effect
    principals: tuple[Principal, ...]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()
    sid: str | None = None
    not_principal: bool = False
    not_action: bool = False
    not_resource: bool = False

    @property
    def has_wildcard_principal(self) -> bool:
        """Whether `"*"` is among the principals."""
        return any(p.kind is PrincipalKind.WILDCARD for p in self.principals)

    def render(self) -> dict[str, Any]:
        """The statement as a JSON-able dict (lists for multi-valued fields)."""
        out: dict[str, Any] = {}
        if self.sid is not None:
            out["Sid"] = self.sid
        out["Effect"] = self.effect.value
        block: dict[str, Any] = {}
        for ptype in _PRINCIPAL_TYPES:
            # A bare id is rendered as its root ARN (the canonical form), unless the same
            # root is also written out: then as the id, which may mean another partition's.
            vals = [
                p.account if p.bare and p.account and self.principals.count(p) > 1 else p.value
                for p in self.principals
                if p.principal_type == ptype
            ]
            if vals:
                block[ptype] = vals[0] if len(vals) == 1 else vals
        out["NotPrincipal" if self.not_principal else "Principal"] = block
        if self.actions:  # a statement without Action/Resource is kept as written
            out["NotAction" if self.not_action else "Action"] = _scalar_or_list(self.actions)
        if self.resources:
            out["NotResource" if self.not_resource else "Resource"] = _scalar_or_list(
                self.resources
            )
        if self.conditions:
            cond: dict[str, dict[str, Any]] = {}
            for c in self.conditions:
                cond.setdefault(c.operator, {})[c.key] = _scalar_or_list(c.values)
            out["Condition"] = cond
        return out


@attrs.frozen
class KeyPolicy:
    """A parsed key policy: `version` (`None` when absent), `id` and its statements.

    `render()` gives back a JSON-able dict that `parse_key_policy` turns into an equal
    `KeyPolicy` (parse -> render -> parse is the identity).
    """

    statements: tuple[Statement, ...]
    version: str | None = None
    id: str | None = None

    @property
    def effective_version(self) -> str:
        """The policy-language version in force (`2008-10-17` when `Version` is absent)."""
        return self.version or "2008-10-17"

    def render(self) -> dict[str, Any]:
        """The policy as a JSON-able dict."""
        out: dict[str, Any] = {}
        if self.version is not None:
            out["Version"] = self.version
        if self.id is not None:
            out["Id"] = self.id
        out["Statement"] = [s.render() for s in self.statements]
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        """The policy as JSON text."""
        return json.dumps(self.render(), indent=indent)


def _scalar_or_list(values: tuple[str, ...]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


# --------------------------------------------------------------------------------------------
# Parsing


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _decode(text: str | bytes | bytearray) -> Any:
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyParseError("", f"policy is not UTF-8 text ({exc.reason})") from None
    if len(text) > MAX_POLICY_CHARS:
        raise PolicyParseError(
            "", f"policy is {len(text)} characters; refusing more than {MAX_POLICY_CHARS}"
        )
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except _DuplicateKeyError as exc:
        raise PolicyParseError("", f"duplicate key {exc.key!r} in a JSON object") from None
    except json.JSONDecodeError as exc:
        raise PolicyParseError(
            f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}"
        ) from None
    except RecursionError:
        raise PolicyParseError("", "JSON nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, or int too large to convert
        raise PolicyParseError("", f"invalid JSON: {exc}") from None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if type(value) is not dict and not isinstance(value, Mapping):
        raise PolicyParseError(where, f"expected an object, got {_type_name(value)}")
    for key in value:
        if not isinstance(key, str):
            raise PolicyParseError(where, f"object key {key!r} is not a string")
    return value


def _strings(value: Any, where: str, *, allow_scalars: bool = False) -> tuple[str, ...]:
    """A string or a non-empty list of strings, as a de-duplicated tuple."""
    if type(value) is str:
        return (value,)
    if type(value) is list and value and all(type(v) is str for v in value):
        return tuple(dict.fromkeys(value))  # the usual case: de-duplicate, keep the order
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not items:
        raise PolicyParseError(where, "empty list")
    out: list[str] = []
    for i, item in enumerate(items):
        loc = f"{where}[{i}]" if isinstance(value, list | tuple) else where
        if isinstance(item, str):
            text = item
        elif allow_scalars and isinstance(item, bool):
            text = "true" if item else "false"
        elif allow_scalars and isinstance(item, int | float):
            text = json.dumps(item)
        else:
            raise PolicyParseError(loc, f"expected a string, got {_type_name(item)}")
        if text not in out:
            out.append(text)
    return tuple(out)


def parse_aws_principal(value: str, where: str) -> Principal:
    if value == "*":
        return Principal("AWS", "*", PrincipalKind.WILDCARD)
    if is_account_id(value):
        return Principal(
            "AWS", f"arn:aws:iam::{value}:root", PrincipalKind.ACCOUNT, value, bare=True
        )
    if _UNIQUE_ID_RE.fullmatch(value):
        return Principal("AWS", value, PrincipalKind.UNIQUE_ID)
    m = _PRINCIPAL_ARN_RE.fullmatch(value)
    if not m:
        raise PolicyParseError(
            where, f"invalid principal {value!r} (not '*', an account id or ARN)"
        )
    account, resource, service = m["account"], m["resource"], m["service"]
    if not is_account_id(account):
        raise PolicyParseError(
            where, f"invalid principal {value!r}: account {account!r} is not 12 digits"
        )
    ok = _IAM_RESOURCE_RE if service == "iam" else _STS_RESOURCE_RE
    if not ok.fullmatch(resource):
        raise PolicyParseError(where, f"invalid principal {value!r}: not a user, role or session")
    if service == "iam" and resource == "root":
        return Principal("AWS", value, PrincipalKind.ACCOUNT, account)
    return Principal("AWS", value, PrincipalKind.ARN, account, has_wildcard="*" in resource)


_PRINCIPAL_CACHE: dict[tuple[str, str], Principal | str] = MEMOS.table()


def _parse_principal_value(ptype: str, value: str, where: str) -> Principal:
    # Policies repeat the same principals (account roots, admin roles): parse each text once.
    key = (ptype, value)
    hit = _PRINCIPAL_CACHE.get(key)
    if hit is None:
        try:
            hit = _parse_principal_uncached(ptype, value, "")
        except PolicyParseError as exc:
            hit = exc.reason
        remember(_PRINCIPAL_CACHE, key, hit)
    if isinstance(hit, str):
        raise PolicyParseError(where, hit)
    return hit


def _parse_principal_uncached(ptype: str, value: str, where: str) -> Principal:
    if ptype == "AWS":
        return parse_aws_principal(value, where)
    if ptype == "Service":
        if not is_service_name(value):
            raise PolicyParseError(where, f"invalid service principal {value!r}")
        return Principal("Service", value, PrincipalKind.SERVICE)
    # Federated: an identity-provider ARN (belongs to its account) or a web-identity domain.
    if value.startswith("arn:"):
        m = _PRINCIPAL_ARN_RE.fullmatch(value)
        if not m or not is_account_id(m["account"]) or "provider/" not in m["resource"]:
            raise PolicyParseError(where, f"invalid federated principal {value!r}")
        return Principal("Federated", value, PrincipalKind.ARN, m["account"])
    if not is_service_name(value):
        raise PolicyParseError(where, f"invalid federated principal {value!r}")
    return Principal("Federated", value, PrincipalKind.FEDERATED)


def _parse_principals(raw: Any, where: str) -> tuple[Principal, ...]:
    if raw == "*":
        return (Principal("AWS", "*", PrincipalKind.WILDCARD),)
    if isinstance(raw, str):
        raise PolicyParseError(
            where, f"a principal string must be '*'; write {{\"AWS\": {json.dumps(raw)}}}"
        )
    block = _object(raw, where)
    if not block:
        raise PolicyParseError(where, "no principal given")
    out: list[Principal] = []
    seen: set[tuple[str, str, bool]] = set()
    for ptype, values in block.items():
        if ptype == "CanonicalUser":
            raise PolicyParseError(f"{where}.{ptype}", "key policies do not accept CanonicalUser")
        if ptype not in _PRINCIPAL_TYPES:
            raise PolicyParseError(f"{where}", f"unknown principal type {ptype!r}")
        for i, text in enumerate(_strings(values, f"{where}.{ptype}")):
            p = _PRINCIPAL_CACHE.get((ptype, text))
            if not isinstance(p, Principal):
                loc = f"{where}.{ptype}[{i}]" if isinstance(values, list) else f"{where}.{ptype}"
                p = _parse_principal_value(ptype, text, loc)
            # A bare id and its `aws` root ARN stay two principals: the bare id means the
            # root in the key's partition, which may be another (`in_partition` merges them).
            if (ptype, p.value, p.bare) not in seen:
                seen.add((ptype, p.value, p.bare))
                out.append(p)
    # Canonical order (by type, then as written) so that render -> parse gives equal objects.
    if len(block) > 1:
        out.sort(key=lambda p: _PRINCIPAL_TYPES.index(p.principal_type))
    return tuple(out)


def _parse_operator(raw: str, where: str) -> tuple[str, str, str | None, bool]:
    parsed = _operator(raw)
    if parsed is None:
        raise PolicyParseError(where, f"unknown operator {raw!r}")
    return parsed


@MEMOS.cached(1024)
def _operator(raw: str) -> tuple[str, str, str | None, bool] | None:
    low = raw.lower()
    qualifier = None
    for prefix, name in _QUALIFIERS.items():
        if low.startswith(prefix):
            qualifier, low = name, low[len(prefix) :]
            break
    if_exists = False
    base = _BASE_OPERATORS.get(low)
    if base is None and low.endswith("ifexists"):
        base = _BASE_OPERATORS.get(low[: -len("ifexists")])
        if_exists = True
    if base is None or (if_exists and base == "Null"):
        return None
    canonical = (f"{qualifier}:" if qualifier else "") + base + ("IfExists" if if_exists else "")
    return canonical, base, qualifier, if_exists


@MEMOS.cached(4096)
def canonical_condition_key(raw: str) -> str:
    """The canonical spelling of a condition key (keys are case-insensitive)."""
    low = raw.lower()
    known = _KNOWN_KEYS.get(low)
    if known is not None:
        return known
    for prefix, canonical in _PREFIX_KEYS.items():
        if low.startswith(prefix):
            return canonical + raw[len(prefix) :]
    return raw


def _parse_conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    block = _object(raw, where)
    out: list[Condition] = []
    seen_ops: set[str] = set()
    for op_raw, keys_raw in block.items():
        operator, base, qualifier, if_exists = _parse_operator(op_raw, where)
        if operator in seen_ops:
            raise PolicyParseError(where, f"operator {operator!r} given twice (names ignore case)")
        seen_ops.add(operator)
        keys = _object(keys_raw, f"{where}.{op_raw}")
        seen_keys: set[str] = set()
        for key_raw, values_raw in keys.items():
            loc = f"{where}.{op_raw}.{key_raw}"
            if ":" not in key_raw or key_raw.startswith(":"):
                raise PolicyParseError(loc, f"condition key {key_raw!r} has no service prefix")
            key = canonical_condition_key(key_raw)
            if key.lower() in seen_keys:
                raise PolicyParseError(loc, f"key {key_raw!r} given twice (keys ignore case)")
            seen_keys.add(key.lower())
            values = _strings(values_raw, loc, allow_scalars=True)
            out.append(Condition(operator, key, values, base, qualifier, if_exists))
    return tuple(out)


_VALID_ACTIONS: dict[str, None] = MEMOS.table()  # action texts already validated


def _parse_actions(raw: Any, where: str) -> tuple[str, ...]:
    actions = _strings(raw, where)
    for i, action in enumerate(actions):
        if action == "*" or action in _VALID_ACTIONS:
            continue
        if _ACTION_RE.fullmatch(action):
            if len(_VALID_ACTIONS) < 4096:
                _VALID_ACTIONS[action] = None
        else:
            loc = f"{where}[{i}]" if isinstance(raw, list) else where
            raise PolicyParseError(loc, f"invalid action {action!r} (expected 'service:Name')")
    return actions


_EFFECTS = {"Allow": Effect.ALLOW, "Deny": Effect.DENY}


def _pick(stmt: Mapping[str, Any], name: str, not_name: str, where: str) -> tuple[Any, bool]:
    """The value of `name` or `Not<name>`, and whether it was the `Not` form."""
    value = stmt.get(name, _MISSING)
    other = stmt.get(not_name, _MISSING)
    if value is not _MISSING:
        if other is not _MISSING:
            raise PolicyParseError(where, f"both {name} and {not_name} given")
        return value, False
    if other is _MISSING:
        if name == "Principal":
            raise PolicyParseError(where, f"missing {name} (or {not_name})")
        return _MISSING, False  # PutKeyPolicy accepts it; the statement has no effect
    return other, True


_MISSING = object()


def _parse_statement(raw: Any, where: str) -> Statement:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise PolicyParseError(where, f"expected an object, got {_type_name(raw)}")
    stmt: Mapping[Any, Any] = raw
    unknown = stmt.keys() - _STATEMENT_FIELDS
    if unknown:
        raise PolicyParseError(where, f"unknown field {sorted(map(str, unknown))[0]!r}")
    sid = stmt.get("Sid")
    if sid is not None and type(sid) is not str:
        raise PolicyParseError(f"{where}.Sid", f"expected a string, got {_type_name(sid)}")
    effect_raw = stmt.get("Effect", _MISSING)
    if effect_raw is _MISSING:
        raise PolicyParseError(where, "missing Effect")
    effect = _EFFECTS.get(effect_raw) if type(effect_raw) is str else None
    if effect is None:
        raise PolicyParseError(f"{where}.Effect", f"must be 'Allow' or 'Deny', not {effect_raw!r}")
    principal_raw, not_principal = _pick(stmt, "Principal", "NotPrincipal", where)
    action_raw, not_action = _pick(stmt, "Action", "NotAction", where)
    resource_raw, not_resource = _pick(stmt, "Resource", "NotResource", where)
    conditions: tuple[Condition, ...] = ()
    if "Condition" in stmt:
        conditions = _parse_conditions(stmt["Condition"], f"{where}.Condition")
    # Fast paths for the common single-value forms; locations are only built on the slow path.
    principals = _known_principals(principal_raw)
    if principals is None:
        principals = _parse_principals(
            principal_raw, f"{where}.{'NotPrincipal' if not_principal else 'Principal'}"
        )
    actions: tuple[str, ...] = ()
    if action_raw is _MISSING:
        pass
    elif type(action_raw) is str and (action_raw == "*" or action_raw in _VALID_ACTIONS):
        actions = (action_raw,)
    else:
        actions = _parse_actions(action_raw, f"{where}.{'NotAction' if not_action else 'Action'}")
    resources: tuple[str, ...] = ()
    if resource_raw is _MISSING:
        pass
    elif type(resource_raw) is str:
        resources = (resource_raw,)
    else:
        resources = _strings(
            resource_raw, f"{where}.{'NotResource' if not_resource else 'Resource'}"
        )
    return Statement(
        effect,
        principals,
        actions,
        resources,
        conditions,
        sid,
        not_principal,
        not_action,
        not_resource,
    )


_STAR_PRINCIPALS = (Principal("AWS", "*", PrincipalKind.WILDCARD),)


def _known_principals(raw: Any) -> tuple[Principal, ...] | None:
    """`"*"` or a one-entry block naming one already-parsed principal; else `None`."""
    if type(raw) is str:
        return _STAR_PRINCIPALS if raw == "*" else None
    if type(raw) is dict and len(raw) == 1:
        ((ptype, value),) = raw.items()
        if type(value) is str:
            hit = _PRINCIPAL_CACHE.get((ptype, value))
            if isinstance(hit, Principal):
                return (hit,)
    return None


def parse_key_policy(text_or_mapping: str | bytes | Mapping[str, Any] | KeyPolicy) -> KeyPolicy:
    """Parse a key policy strictly into a typed, normalised `KeyPolicy`.

    Accepts JSON text (`str`/`bytes`), an already-decoded mapping, or a `KeyPolicy` (returned
    as is). Raises `cmkguard.PolicyParseError` naming the location for anything KMS would
    refuse: invalid JSON, duplicate keys, unknown fields, unknown operators, invalid principals,
    an unsupported `Version`... Never raises anything else for JSON-like input.
    """
    if isinstance(text_or_mapping, KeyPolicy):
        return text_or_mapping
    doc = (
        _decode(text_or_mapping)
        if isinstance(text_or_mapping, (str, bytes, bytearray))
        else text_or_mapping
    )
    try:
        return _parse_document(doc)
    except RecursionError:
        raise PolicyParseError("", "policy nested too deeply") from None


def _parse_document(doc: Any) -> KeyPolicy:
    if type(doc) is dict:
        fast = _fast_document(doc)
        if fast is not None:
            return fast
    return _strict_document(doc)


def _strict_document(doc: Any) -> KeyPolicy:
    if type(doc) is not dict and not isinstance(doc, Mapping):
        raise PolicyParseError("", f"expected an object, got {_type_name(doc)}")
    top: Mapping[Any, Any] = doc
    if not top.keys() <= _TOP_FIELDS:
        unknown = top.keys() - _TOP_FIELDS
        field = sorted(map(str, unknown))[0]
        raise PolicyParseError(field, f"unknown top-level field {field!r}")
    version = top.get("Version")
    if version is not None and version not in VERSIONS:
        shown = version if isinstance(version, str) else _type_name(version)
        raise PolicyParseError(
            "Version", f"unsupported version {shown!r} (use {VERSIONS[0]} or {VERSIONS[1]})"
        )
    pid = top.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise PolicyParseError("Id", f"expected a string, got {_type_name(pid)}")
    if "Statement" not in top:
        raise PolicyParseError("", "missing Statement")
    _check_characters(top, "")
    raw = top["Statement"]
    if type(raw) is list or isinstance(raw, tuple):
        if not raw:
            raise PolicyParseError(
                "Statement", "empty list (KMS refuses a policy with no statement)"
            )
        statements = tuple(_parse_statement(s, f"Statement[{i}]") for i, s in enumerate(raw))
    elif isinstance(raw, Mapping):
        statements = (_parse_statement(raw, "Statement"),)
    else:
        raise PolicyParseError("Statement", f"expected an object or a list, got {_type_name(raw)}")
    return KeyPolicy(statements, version, pid)


def _allowed_character(c: str) -> bool:
    """What PutKeyPolicy accepts: printable ASCII and Latin-1, tab, line feed, carriage return."""
    o = ord(c)
    return 0x20 <= o <= 0x7E or 0xA0 <= o <= 0xFF or c in "\t\n\r"


def _check_text(text: str, where: str) -> None:
    if text.isascii() and text.isprintable():
        return  # the usual case, decided in C
    for c in text:
        if not _allowed_character(c):
            raise PolicyParseError(
                where,
                f"character U+{ord(c):04X} is not allowed in a key policy (printable ASCII and "
                "Latin-1, tab, LF and CR only)",
            )


def _check_characters(value: Any, where: str) -> None:
    """Every string of the document (keys included) uses only characters KMS accepts."""
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, str):
                _check_text(k, where or "the policy")
            inner = f"{where}.{k}" if where else str(k)
            _check_characters(v, inner)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_characters(v, f"{where}[{i}]")


# --------------------------------------------------------------------------------------------
# The fast path: the usual forms, from bounded memos of validated parts
#
# Estates repeat the same principals, action lists and condition blocks, and parsing them
# afresh (validation, character checks, object building) cost more than deciding `is_public`.
# `_fast_document` accepts only what the strict path accepts, and returns an equal `KeyPolicy`;
# anything unusual (and every error) returns None, and the strict path runs from the start, so
# errors and their locations are the strict path's. Memo entries are made only from parts that
# passed the strict rules, the character rule included, so a hit needs no further check; strings
# that are not memoised (Sid, Id, resources) are checked for characters here.

_FAST_PRINCIPALS: dict[tuple[str, str], Principal] = MEMOS.table()
_FAST_ONE: dict[tuple[Any, str], tuple[Principal]] = MEMOS.table()
_FAST_ACTIONS: dict[Any, tuple[str, ...]] = MEMOS.table()
_FAST_CONDITIONS: dict[tuple[str, str, Any], Condition] = MEMOS.table()
_TYPE_ORDER = {t: i for i, t in enumerate(_PRINCIPAL_TYPES)}


def _plain(text: str) -> bool:
    """Printable ASCII only (decided in C): the usual text, always allowed by PutKeyPolicy."""
    return text.isascii() and text.isprintable()


StatementArgs = tuple[
    Effect,
    tuple[Principal, ...],
    tuple[str, ...],
    tuple[str, ...],
    tuple[Condition, ...],
    str | None,
    bool,
    bool,
    bool,
]
"""A statement's fields in `Statement` constructor order (`Statement(*args)` is the statement)."""

PolicyParts = tuple[tuple[StatementArgs, ...], str | None, str | None]
"""`(statements, version, id)`: a validated policy before its `KeyPolicy` is built. Hashable
and cheap to compare (tuples of memoised parts): the analysis memo is keyed by it."""


def fast_policy_parts(doc: Any) -> PolicyParts | None:
    """The parts of a decoded policy in the usual forms, validated as strictly as
    `parse_key_policy` would; `None` for anything else (then `parse_key_policy` decides,
    with its errors and locations). `policy_from_parts` builds the equal `KeyPolicy`."""
    if type(doc) is not dict or not doc.keys() <= _TOP_FIELDS:
        return None
    version = doc.get("Version")
    if version is not None and (type(version) is not str or version not in VERSIONS):
        return None
    pid = doc.get("Id")
    if pid is not None and (type(pid) is not str or not _plain(pid)):
        return None
    raw = doc.get("Statement")
    if type(raw) is list and raw:
        statements = []
        for item in raw:
            args = _fast_statement(item) if type(item) is dict else None
            if args is None:
                return None
            statements.append(args)
        return tuple(statements), version, pid
    if type(raw) is dict:
        one = _fast_statement(raw)
        return None if one is None else ((one,), version, pid)
    return None


def policy_from_parts(parts: PolicyParts) -> KeyPolicy:
    """The `KeyPolicy` of `fast_policy_parts`' result."""
    statements, version, pid = parts
    return KeyPolicy(tuple([Statement(*args) for args in statements]), version, pid)


def _fast_document(doc: dict[Any, Any]) -> KeyPolicy | None:
    parts = fast_policy_parts(doc)
    return None if parts is None else policy_from_parts(parts)


def _fast_statement(stmt: dict[Any, Any]) -> StatementArgs | None:
    keys = tuple(stmt)
    shape = _SHAPES.get(keys)
    if shape is None:
        shape = _shape_of(keys)
        remember(_SHAPES, keys, shape)
    if shape is False:
        return None  # an unknown field, or both X and NotX: the strict path says which
    has_sid, p_field, not_principal, a_field, not_action, r_field, not_resource, has_cond = shape
    sid = None
    if has_sid:
        sid = stmt["Sid"]
        if type(sid) is not str or not _plain(sid):
            return None
    effect_raw = stmt["Effect"]
    effect = _EFFECTS.get(effect_raw) if type(effect_raw) is str else None
    if effect is None:
        return None
    principal_raw = stmt[p_field]
    action_raw = stmt[a_field] if a_field else _MISSING
    resource_raw = stmt[r_field] if r_field else _MISSING
    condition_raw = stmt["Condition"] if has_cond else _MISSING
    principals = _fast_principals(principal_raw)
    actions = () if action_raw is _MISSING else _fast_actions(action_raw)
    resources = () if resource_raw is _MISSING else _fast_resources(resource_raw)
    conditions = () if condition_raw is _MISSING else _fast_conditions(condition_raw)
    if principals is None or actions is None or resources is None or conditions is None:
        return None
    return (
        effect,
        principals,
        actions,
        resources,
        conditions,
        sid,
        not_principal,
        not_action,
        not_resource,
    )


# A statement's keys in order -> what they say (see _shape_of), or False: not the usual form.
Shape = tuple[bool, str, bool, str, bool, str, bool, bool]
_SHAPES: dict[tuple[Any, ...], Shape | Literal[False]] = MEMOS.table()


def _shape_of(keys: tuple[Any, ...]) -> Shape | Literal[False]:
    """`(has Sid, principal field, NotPrincipal?, action field or "", NotAction?, resource field
    or "", NotResource?, has Condition)` for a statement with these keys; False when the keys are
    not a valid statement's (unknown, repeated, both X and NotX, no Effect or no principal)."""
    names = set(keys)
    if len(names) != len(keys) or not names <= _STATEMENT_FIELDS or "Effect" not in names:
        return False
    fields = []
    for name, not_name in (("Principal", "NotPrincipal"), ("Action", "NotAction")):
        fields.append((name in names, not_name in names))
    fields.append(("Resource" in names, "NotResource" in names))
    (p, np), (a, na), (r, nr) = fields
    if (p and np) or (a and na) or (r and nr) or not (p or np):
        return False
    return (
        "Sid" in names,
        "Principal" if p else "NotPrincipal",
        np,
        "Action" if a else ("NotAction" if na else ""),
        na,
        "Resource" if r else ("NotResource" if nr else ""),
        nr,
        "Condition" in names,
    )


def _fast_principal(ptype: str, text: Any) -> Principal | None:
    if type(text) is not str:
        return None
    key = (ptype, text)
    hit = _FAST_PRINCIPALS.get(key)
    if hit is None:
        if ptype not in _TYPE_ORDER or not _plain(text):
            return None
        try:
            hit = _parse_principal_value(ptype, text, "")
        except PolicyParseError:
            return None
        remember(_FAST_PRINCIPALS, key, hit)
    return hit


def _fast_principals(raw: Any) -> tuple[Principal, ...] | None:
    if type(raw) is str:
        return _STAR_PRINCIPALS if raw == "*" else None
    if type(raw) is not dict or not raw:
        return None
    if len(raw) == 1:  # the usual block: one type, one principal
        ((ptype, value),) = raw.items()
        if type(value) is str:
            one = _FAST_ONE.get((ptype, value))
            if one is None:
                p = _fast_principal(ptype, value)
                if p is None:
                    return None
                one = (p,)
                remember(_FAST_ONE, (ptype, value), one)
            return one
    out: list[Principal] = []
    seen: set[tuple[str, str, bool]] = set()
    for ptype, values in raw.items():
        texts = (values,) if type(values) is str else values
        if (type(texts) is not list and type(texts) is not tuple) or not texts:
            return None
        for text in texts:
            p = _fast_principal(ptype, text)
            if p is None:
                return None
            # A bare id and its `aws` root ARN stay two principals: the bare id means the
            # root in the key's partition, which may be another (`in_partition` merges them).
            if (ptype, p.value, p.bare) not in seen:
                seen.add((ptype, p.value, p.bare))
                out.append(p)
    if len(raw) > 1:
        out.sort(key=lambda p: _TYPE_ORDER[p.principal_type])
    return tuple(out)


def _fast_actions(raw: Any) -> tuple[str, ...] | None:
    if type(raw) is list:
        if not raw or not all(type(a) is str for a in raw):
            return None
        key: Any = tuple(raw)
    elif type(raw) is str:
        key = raw
    else:
        return None
    hit = _FAST_ACTIONS.get(key)
    if hit is None:
        try:
            hit = _parse_actions(raw, "")  # the action pattern admits printable ASCII only
        except PolicyParseError:
            return None
        remember(_FAST_ACTIONS, key, hit)
    return hit


def _fast_resources(raw: Any) -> tuple[str, ...] | None:
    if type(raw) is str:
        return (raw,) if _plain(raw) else None
    if type(raw) is not list or not raw:
        return None
    for r in raw:
        if type(r) is not str or not _plain(r):
            return None
    return tuple(dict.fromkeys(raw))


def _fast_conditions(block: Any) -> tuple[Condition, ...] | None:
    if type(block) is not dict:
        return None
    out: list[Condition] = []
    seen_ops: set[str] = set()
    for op_raw, keys in block.items():
        if type(keys) is not dict:
            return None
        seen_keys: set[str] = set()
        for key_raw, values_raw in keys.items():
            cond = _fast_condition(op_raw, key_raw, values_raw)
            if cond is None:
                return None
            low = cond.key.lower()  # keys ignore case, as in _parse_conditions
            if low in seen_keys:
                return None
            seen_keys.add(low)
            out.append(cond)
        if not keys:
            parsed = _operator(op_raw) if type(op_raw) is str and _plain(op_raw) else None
            if parsed is None:
                return None
            operator = parsed[0]
        else:
            operator = out[-1].operator
        if operator in seen_ops:
            return None
        seen_ops.add(operator)
    return tuple(out)


def _fast_condition(op_raw: Any, key_raw: Any, values_raw: Any) -> Condition | None:
    if type(values_raw) is str:
        values_key: Any = values_raw
    elif type(values_raw) is bool:
        values_key = "true" if values_raw else "false"  # what the strict path turns it into
    elif type(values_raw) is list and values_raw and all(type(v) is str for v in values_raw):
        values_key = tuple(values_raw)
    else:
        return None  # numbers, lists of booleans, objects: the strict path
    memo = (op_raw, key_raw, values_key)
    hit = _FAST_CONDITIONS.get(memo)
    if hit is None:
        if type(op_raw) is not str or type(key_raw) is not str:
            return None
        if not (_plain(op_raw) and _plain(key_raw)):
            return None
        if isinstance(values_key, str):
            if not _plain(values_key):
                return None
        elif not all(_plain(v) for v in values_key):
            return None
        try:
            (hit,) = _parse_conditions({op_raw: {key_raw: values_raw}}, "")
        except PolicyParseError:
            return None
        remember(_FAST_CONDITIONS, memo, hit)
    return hit
