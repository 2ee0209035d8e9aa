"""Terraform plan JSON (`terraform show -json PLANFILE`) to declared resources.

What decides a resource's key is read from three parts of the plan:

- `resource_changes[].change.after`: the values Terraform knows at plan time;
- `resource_changes[].change.after_unknown`: which of them are known only after apply;
- `configuration`: the expressions as written, whose `references` say that `kms_key_id` is
  `aws_kms_key.db.arn`, even though the ARN itself is unknown until the key exists. References are
  followed through module inputs (`var.x` -> the module call's expression) and outputs
  (`module.kms.key_arn` -> the output's expression), so a key declared in another module of the
  same plan is still recognised.

A computed attribute (such as `kms_key_id` when the configuration does not set it) is unknown in
`after` yet not set by anybody: when the configuration has no expression for it, the AWS default
applies, and the attribute is left absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from cmkguard.iac._decl import Decl, Known, Ref, Unknown, Value

__all__ = ["TERRAFORM_TYPES", "is_plan", "parse_plan"]

_DB_INSTANCE = {
    "encrypted": "storage_encrypted",
    "key": "kms_key_id",
    "engine": "engine",
    "replica_source": "replicate_source_db",
    "snapshot": "snapshot_identifier",
    "pi_enabled": "performance_insights_enabled",
    "pi_key": "performance_insights_kms_key_id",
}
_DB_CLUSTER = {
    "encrypted": "storage_encrypted",
    "key": "kms_key_id",
    "engine": "engine",
    "engine_mode": "engine_mode",
    "snapshot": "snapshot_identifier",
    "replica_source": "replication_source_identifier",
    "pi_enabled": "performance_insights_enabled",
    "pi_key": "performance_insights_kms_key_id",
}
_KMS_KEY = {
    "policy": "policy",
    "rotation": "enable_key_rotation",
    "rotation_period": "rotation_period_in_days",
    "deletion_window": "deletion_window_in_days",
    "enabled": "is_enabled",
    "spec": "customer_master_key_spec",
    "usage": "key_usage",
    "custom_key_store": "custom_key_store_id",
    "multi_region": "multi_region",
    "tags": "tags_all",
}

TERRAFORM_TYPES: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "aws_db_instance": ("rds:db-instance", _DB_INSTANCE),
    "aws_rds_cluster": ("rds:db-cluster", _DB_CLUSTER),
    "aws_rds_cluster_instance": (
        "rds:db-instance",
        {
            "cluster": "cluster_identifier",
            "engine": "engine",
            "pi_enabled": "performance_insights_enabled",
            "pi_key": "performance_insights_kms_key_id",
        },
    ),
    "aws_db_snapshot": ("rds:db-snapshot", {"source": "db_instance_identifier"}),
    "aws_db_snapshot_copy": (
        "rds:db-snapshot",
        {"key": "kms_key_id", "source": "source_db_snapshot_identifier"},
    ),
    "aws_db_cluster_snapshot": ("rds:db-cluster-snapshot", {"source": "db_cluster_identifier"}),
    "aws_secretsmanager_secret": ("secretsmanager:secret", {"key": "kms_key_id"}),
    "aws_kms_key": ("kms:key", _KMS_KEY),
    "aws_kms_alias": ("kms:alias", {"name": "name", "target": "target_key_id"}),
}
"""Terraform resource types checked: type -> (cmkguard kind, {attribute: Terraform argument})."""

_BLOCKS: Mapping[str, Mapping[str, Mapping[str, str]]] = {
    "aws_secretsmanager_secret": {"replicas": {"region": "region", "key": "kms_key_id"}},
}
"""Nested blocks read as lists of items: type -> {item list: {attribute: block argument}}."""

_DATA_TYPES: Mapping[str, str] = {"aws_kms_key": "key_id", "aws_kms_alias": "name"}
"""Data sources that look a key up: type -> the argument naming the key."""

_INDEX = re.compile(r"\[[^\]]*\]")


def is_plan(document: Any) -> bool:
    """Whether a decoded JSON document is a Terraform plan (`terraform show -json PLANFILE`)."""
    return (
        isinstance(document, dict)
        and "format_version" in document
        and ("resource_changes" in document or "planned_values" in document)
    )


def strip_index(address: str) -> str:
    """`module.db["a"].aws_db_instance.main[0]` -> `module.db.aws_db_instance.main`."""
    return _INDEX.sub("", address)


@attrs.frozen
class _Module:
    """One module of the configuration: its resources' expressions, calls and outputs."""

    path: tuple[str, ...]
    body: Mapping[str, Any]
    parent_call: Mapping[str, Any] | None

    @property
    def prefix(self) -> str:
        return "".join(f"module.{m}." for m in self.path)


class _Plan:
    """Lookups over one plan: configuration modules, data-source values, reference resolution."""

    def __init__(self, plan: Mapping[str, Any]) -> None:
        self.plan = plan
        self.modules: dict[tuple[str, ...], _Module] = {}
        config = plan.get("configuration") or {}
        self._walk(config.get("root_module") or {}, (), None)
        self.config_resources: dict[str, Mapping[str, Any]] = {}
        for module in self.modules.values():
            for res in module.body.get("resources") or ():
                self.config_resources[module.prefix + res.get("address", "")] = res
        self.state_values: dict[str, Mapping[str, Any]] = {}
        for root in (
            (plan.get("prior_state") or {}).get("values", {}).get("root_module"),
            (plan.get("planned_values") or {}).get("root_module"),
        ):
            for res in _state_resources(root or {}):
                self.state_values.setdefault(strip_index(res.get("address", "")), res)
        self.managed = {
            strip_index(rc.get("address", ""))
            for rc in plan.get("resource_changes") or ()
            if rc.get("mode", "managed") == "managed"
        }

    def _walk(
        self, body: Mapping[str, Any], path: tuple[str, ...], call: Mapping[str, Any] | None
    ) -> None:
        self.modules[path] = _Module(path, body, call)
        for name, sub in (body.get("module_calls") or {}).items():
            self._walk(sub.get("module") or {}, (*path, name), sub)

    def account(self) -> str | None:
        """The account id of the plan, from a `data.aws_caller_identity` read at plan time."""
        for address, res in self.state_values.items():
            if res.get("type") == "aws_caller_identity" and address.split(".")[-2:-1]:
                account = (res.get("values") or {}).get("account_id")
                if isinstance(account, str) and account.isdigit():
                    return account
        return None

    def region(self) -> str | None:
        """The default provider's region when it is a constant in the configuration."""
        providers = (self.plan.get("configuration") or {}).get("provider_config") or {}
        expr = ((providers.get("aws") or {}).get("expressions") or {}).get("region") or {}
        value = expr.get("constant_value")
        return value if isinstance(value, str) else None

    # -- references ---------------------------------------------------------------------------
    def resolve(self, path: tuple[str, ...], ref: str, depth: int = 0) -> list[str]:
        """Addresses (`module.a.aws_kms_key.k`, `data.aws_kms_key.x`) that `ref` points to."""
        if depth > 20:  # a cycle of module inputs and outputs: Terraform would refuse it anyway
            return []
        parts = strip_index(ref).split(".")
        module = self.modules.get(path)
        if module is None or not parts:
            return []
        if parts[0] == "var" and len(parts) >= 2 and module.parent_call is not None:
            expr = (module.parent_call.get("expressions") or {}).get(parts[1]) or {}
            return self._expr_targets(path[:-1], expr, depth + 1)
        if parts[0] == "module" and len(parts) >= 3:
            call = (module.body.get("module_calls") or {}).get(parts[1]) or {}
            output = ((call.get("module") or {}).get("outputs") or {}).get(parts[2]) or {}
            return self._expr_targets((*path, parts[1]), output.get("expression") or {}, depth + 1)
        if parts[0] == "data" and len(parts) >= 3:
            return [f"{module.prefix}data.{parts[1]}.{parts[2]}"]
        if len(parts) >= 2 and parts[0].startswith("aws_"):
            return [f"{module.prefix}{parts[0]}.{parts[1]}"]
        return []

    def _expr_targets(
        self, path: tuple[str, ...], expr: Mapping[str, Any], depth: int
    ) -> list[str]:
        out: list[str] = []
        for ref in expr.get("references") or ():
            for target in self.resolve(path, ref, depth):
                if target not in out:
                    out.append(target)
        return out

    def value_of(
        self,
        path: tuple[str, ...],
        expr: Mapping[str, Any] | None,
        after: Any,
        unknown: Any,
    ) -> Value | None:
        """One attribute as a `Value` (`None`: not set, the AWS default applies)."""
        if expr:
            for target in self._expr_targets(path, expr, 0):
                if self._is_checked(target):
                    return Ref(target, _ref_text(expr))
        if unknown is True:
            if not expr:
                return None  # computed, not configured: AWS chooses the default
            read = self._read_at_plan(path, expr)
            if read is not None:
                return Known(read)
            return Unknown(f"{_ref_text(expr) or 'the value'} is known only after apply")
        if after is None or after == "":
            return None
        return Known(after)

    def _is_checked(self, target: str) -> bool:
        """Whether `target` is a resource or key lookup the classifier knows."""
        parts = target.split(".")
        if parts[-3:-2] == ["data"]:
            return parts[-2] in _DATA_TYPES
        return len(parts) >= 2 and parts[-2] in TERRAFORM_TYPES and target in self.managed

    def _read_at_plan(self, path: tuple[str, ...], expr: Mapping[str, Any]) -> Any:
        """The value of a data source attribute read at plan time (a policy document's JSON)."""
        prefix = self.modules[path].prefix if path in self.modules else ""
        for ref in expr.get("references") or ():
            parts = strip_index(ref).split(".")
            if parts[0] == "data" and len(parts) == 4:
                state = self.state_values.get(f"{prefix}data.{parts[1]}.{parts[2]}") or {}
                value = (state.get("values") or {}).get(parts[3])
                if value is not None:
                    return value
        return None

    def data_decl(self, address: str, file: str) -> Decl | None:
        """A key looked up by a data source, as a `kms:key-lookup` declaration."""
        parts = address.split(".")
        data_type = parts[-2] if len(parts) >= 3 else ""
        arg = _DATA_TYPES.get(data_type)
        if arg is None:
            return None
        values: dict[str, Value] = {}
        state = (self.state_values.get(address) or {}).get("values") or {}
        config = self.config_resources.get(address) or {}
        constant = ((config.get("expressions") or {}).get(arg) or {}).get("constant_value")
        ident = state.get("arn") or state.get("target_key_arn") or constant or state.get(arg)
        if isinstance(ident, str) and ident:
            values["id"] = Known(constant if isinstance(constant, str) else ident)
            values["arn"] = Known(state.get("arn") or ident)
        if isinstance(state.get("key_manager"), str):
            values["manager"] = Known(state["key_manager"])
        return Decl(file, address, address, data_type, "kms:key-lookup", None, values)


def _state_resources(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from module.get("resources") or ()
    for child in module.get("child_modules") or ():
        yield from _state_resources(child)


def _ref_text(expr: Mapping[str, Any]) -> str:
    refs = expr.get("references") or ()
    return str(refs[0]) if refs else ""


def _module_path(rc: Mapping[str, Any]) -> tuple[str, ...]:
    module_address = strip_index(rc.get("module_address") or "")
    if not module_address:
        return ()
    return tuple(module_address.split(".")[1::2])


def parse_plan(
    plan: Mapping[str, Any], file: str, lines: Mapping[tuple[str | int, ...], int] | None = None
) -> tuple[list[Decl], str | None]:
    """The declared resources of a plan (resources being destroyed are left out), and the
    plan's account id when a `data.aws_caller_identity` was read at plan time."""
    ctx = _Plan(plan)
    lines = lines or {}
    region = ctx.region()
    decls: list[Decl] = []
    for index, rc in enumerate(plan.get("resource_changes") or ()):
        rtype = rc.get("type", "")
        if rc.get("mode", "managed") != "managed" or rtype not in TERRAFORM_TYPES:
            continue
        change = rc.get("change") or {}
        if list(change.get("actions") or ()) == ["delete"]:
            continue
        decls.append(
            _decl(ctx, rc, change, file, lines.get(("resource_changes", index, "address")), region)
        )
    seen = {d.ref_address for d in decls}
    for decl in list(decls):
        for value in _all_values(decl):
            if isinstance(value, Ref) and value.target not in seen:
                data = ctx.data_decl(value.target, file)
                if data is not None:
                    decls.append(data)
                    seen.add(value.target)
    return decls, ctx.account()


def _all_values(decl: Decl) -> Iterator[Value]:
    yield from decl.values.values()
    for items in decl.items.values():
        for item in items:
            yield from item.values()


def _decl(
    ctx: _Plan,
    rc: Mapping[str, Any],
    change: Mapping[str, Any],
    file: str,
    line: int | None,
    region: str | None,
) -> Decl:
    rtype = rc["type"]
    kind, names = TERRAFORM_TYPES[rtype]
    address = rc.get("address", "")
    ref_address = strip_index(address)
    path = _module_path(rc)
    config = ctx.config_resources.get(ref_address) or {}
    exprs = config.get("expressions") or {}
    after = change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    if not isinstance(unknown, dict):
        unknown = {}
    values: dict[str, Value] = {}
    for name, arg in names.items():
        value = ctx.value_of(path, _expr(exprs.get(arg)), after.get(arg), unknown.get(arg))
        if value is not None:
            values[name] = value
    items: dict[str, tuple[Mapping[str, Value], ...]] = {}
    for list_name, block_args in _BLOCKS.get(rtype, {}).items():
        block = "replica" if list_name == "replicas" else list_name
        items[list_name] = tuple(_block_items(ctx, path, exprs, after, unknown, block, block_args))
    own_region = after.get("region") if isinstance(after.get("region"), str) else region
    return Decl(file, address, ref_address, rtype, kind, line, values, items, own_region)


def _expr(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, list):  # a nested block's expressions: not a single value
        return None
    return value if isinstance(value, dict) else None


def _block_items(
    ctx: _Plan,
    path: tuple[str, ...],
    exprs: Mapping[str, Any],
    after: Mapping[str, Any],
    unknown: Mapping[str, Any],
    block: str,
    args: Mapping[str, str],
) -> Iterator[Mapping[str, Value]]:
    after_items = after.get(block) or []
    unknown_items = unknown.get(block) or []
    expr_items = exprs.get(block) or []
    if not isinstance(after_items, list):
        return
    for i, item in enumerate(after_items):
        item_unknown = unknown_items[i] if i < len(unknown_items) else {}
        item_expr = expr_items[i] if isinstance(expr_items, list) and i < len(expr_items) else {}
        out: dict[str, Value] = {}
        for name, arg in args.items():
            value = ctx.value_of(
                path,
                _expr((item_expr or {}).get(arg)),
                (item or {}).get(arg),
                (item_unknown or {}).get(arg) if isinstance(item_unknown, dict) else None,
            )
            if value is not None:
                out[name] = value
        yield out
