"""CloudFormation templates (JSON or YAML) to declared resources.

Intrinsic functions are evaluated as far as a template allows before deploy: `Ref` and
`Fn::GetAtt` to a resource of the template become references the classifier follows; `Fn::Sub`
and `Fn::Join` that embed such a reference are that reference; pseudo parameters, parameters with
a value (given, or their `Default`) and `Fn::FindInMap` over literal keys are substituted;
`Fn::ImportValue`, `Fn::If` with differing branches and parameters without a value stay unknown,
with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from cmkguard.iac._decl import Decl, Known, Ref, Unknown, Value

__all__ = ["CLOUDFORMATION_TYPES", "SELF_ACCOUNT", "Template", "is_template", "parse_template"]

SELF_ACCOUNT = "000000000000"
"""What `AWS::AccountId` stands for when the deploying account is not given."""

_DB_INSTANCE = {
    "encrypted": "StorageEncrypted",
    "key": "KmsKeyId",
    "engine": "Engine",
    "cluster": "DBClusterIdentifier",
    "replica_source": "SourceDBInstanceIdentifier",
    "replica_source_cluster": "SourceDBClusterIdentifier",
    "source_region": "SourceRegion",
    "snapshot": "DBSnapshotIdentifier",
    "pi_enabled": "EnablePerformanceInsights",
    "pi_key": "PerformanceInsightsKMSKeyId",
}
_DB_CLUSTER = {
    "encrypted": "StorageEncrypted",
    "key": "KmsKeyId",
    "engine": "Engine",
    "engine_mode": "EngineMode",
    "snapshot": "SnapshotIdentifier",
    "replica_source": "ReplicationSourceIdentifier",
    "restore_source": "SourceDBClusterIdentifier",
    "pi_enabled": "PerformanceInsightsEnabled",
    "pi_key": "PerformanceInsightsKmsKeyId",
}
_KMS_KEY = {
    "policy": "KeyPolicy",
    "rotation": "EnableKeyRotation",
    "rotation_period": "RotationPeriodInDays",
    "deletion_window": "PendingWindowInDays",
    "enabled": "Enabled",
    "spec": "KeySpec",
    "usage": "KeyUsage",
    "origin": "Origin",
    "multi_region": "MultiRegion",
    "tags": "Tags",
}

CLOUDFORMATION_TYPES: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "AWS::RDS::DBInstance": ("rds:db-instance", _DB_INSTANCE),
    "AWS::RDS::DBCluster": ("rds:db-cluster", _DB_CLUSTER),
    "AWS::SecretsManager::Secret": ("secretsmanager:secret", {"key": "KmsKeyId"}),
    "AWS::KMS::Key": ("kms:key", _KMS_KEY),
    "AWS::KMS::Alias": ("kms:alias", {"name": "AliasName", "target": "TargetKeyId"}),
}
"""CloudFormation types checked: type -> (cmkguard kind, {attribute: property})."""

_SUB_VAR = re.compile(r"\$\{(?!!)([^}]+)\}")


class _Unresolved(Exception):
    """An intrinsic that cannot be evaluated before deploy (message: why)."""


def is_template(document: Any) -> bool:
    """Whether a decoded document looks like a CloudFormation template."""
    return (
        isinstance(document, dict)
        and isinstance(document.get("Resources"), dict)
        and not ("format_version" in document and "resource_changes" in document)
    )


@attrs.frozen
class Template:
    """One template with what its intrinsics need: parameters, mappings, the stack's account."""

    body: Mapping[str, Any]
    parameters: Mapping[str, str] = attrs.field(factory=dict)
    account: str | None = None
    region: str | None = None

    @property
    def resources(self) -> Mapping[str, Any]:
        res = self.body.get("Resources")
        return res if isinstance(res, dict) else {}

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::AccountId": self.account or SELF_ACCOUNT,
            "AWS::Region": self.region or "us-east-1",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "stack",
        }.get(name)

    def parameter(self, name: str) -> str:
        """A parameter's value: given, else its `Default`; `_Unresolved` otherwise."""
        if name in self.parameters:
            return str(self.parameters[name])
        spec = (self.body.get("Parameters") or {}).get(name)
        if isinstance(spec, dict) and "Default" in spec:
            if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
                raise _Unresolved(f"parameter {name} is read from SSM Parameter Store at deploy")
            return str(spec["Default"])
        raise _Unresolved(f"parameter {name} has no value (pass it with --parameter {name}=...)")

    # -- evaluation ---------------------------------------------------------------------------
    def value(self, node: Any) -> Value | None:
        """One property as a `Value` (`None` for an absent value or `AWS::NoValue`)."""
        if isinstance(node, dict) and len(node) == 1 and "Fn::If" in node:
            return self._if_value(node["Fn::If"])
        try:
            target = self._resource_ref(node)
            if target is not None:
                return Ref(target[0], target[1])
            result = self.evaluate(node)
        except _Unresolved as exc:
            return Unknown(str(exc))
        if result is None or result == "":
            return None
        return Known(result)

    def _if_value(self, arg: Any) -> Value | None:
        """`Fn::If`: the branch its condition selects, or both when they agree."""
        if not (isinstance(arg, list) and len(arg) == 3):
            return Unknown("a malformed Fn::If")
        try:
            chosen = arg[1] if self.condition(str(arg[0])) else arg[2]
            return self.value(chosen)
        except _Unresolved as exc:
            yes, no = self.value(arg[1]), self.value(arg[2])
            if yes == no:
                return yes
            return Unknown(f"it depends on the condition {arg[0]} ({exc})")

    def condition(self, name: str) -> bool:
        """The value of a named condition of the template; `_Unresolved` when it needs deploy."""
        node = (self.body.get("Conditions") or {}).get(name)
        if node is None:
            raise _Unresolved(f"condition {name} is not defined")
        return self._truth(node)

    def _truth(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Condition":
                return self.condition(str(arg))
            if fn == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
                return str(self.evaluate(arg[0])) == str(self.evaluate(arg[1]))
            if fn == "Fn::Not" and isinstance(arg, list) and len(arg) == 1:
                return not self._truth(arg[0])
            if fn == "Fn::And" and isinstance(arg, list):
                return all(self._truth(a) for a in arg)
            if fn == "Fn::Or" and isinstance(arg, list):
                return any(self._truth(a) for a in arg)
        raise _Unresolved(f"the condition {node!r} cannot be evaluated before deploy")

    def _resource_ref(self, node: Any) -> tuple[str, str] | None:
        """(logical id, text) when `node` designates a resource of this template."""
        if not isinstance(node, dict) or len(node) != 1:
            return None
        ((fn, arg),) = node.items()
        if fn == "Ref" and isinstance(arg, str) and arg in self.resources:
            return arg, f"!Ref {arg}"
        if fn == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else list(arg or ())
            if parts and parts[0] in self.resources:
                return str(parts[0]), "!GetAtt " + ".".join(str(p) for p in parts)
        if fn == "Fn::Sub":
            text = arg[0] if isinstance(arg, list) and arg else arg
            local = arg[1] if isinstance(arg, list) and len(arg) > 1 else {}
            for var in _SUB_VAR.findall(text if isinstance(text, str) else ""):
                if var in (local or {}):
                    inner = self._resource_ref(local[var])
                    if inner is not None:
                        return inner[0], f"!Sub {text}"
                    continue
                head = var.split(".", 1)[0]
                if head in self.resources:
                    return head, f"!Sub {text}"
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            for part in arg[1] or ():
                inner = self._resource_ref(part)
                if inner is not None:
                    return inner
        return None

    def evaluate(self, node: Any) -> Any:
        """`node` with every intrinsic evaluated; `_Unresolved` when one cannot be."""
        if isinstance(node, list):
            return [self.evaluate(v) for v in node if not _is_no_value(v)]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Ref" or fn.startswith("Fn::"):
                return self._intrinsic(fn, arg)
        return {k: self.evaluate(v) for k, v in node.items() if not _is_no_value(v)}

    def _intrinsic(self, fn: str, arg: Any) -> Any:
        if fn == "Ref":
            return self._ref(str(arg))
        if fn == "Fn::Sub":
            return self._sub(arg)
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            parts = self.evaluate(arg[1])
            return str(arg[0]).join(str(p) for p in parts)
        if fn == "Fn::FindInMap" and isinstance(arg, list) and len(arg) >= 3:
            keys = [self.evaluate(a) for a in arg[:3]]
            try:
                return self.body["Mappings"][keys[0]][keys[1]][keys[2]]
            except (KeyError, TypeError):
                raise _Unresolved(
                    f"Fn::FindInMap {keys} is not in the template's Mappings"
                ) from None
        if fn == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
            yes, no = self.evaluate(arg[1]), self.evaluate(arg[2])
            if yes == no:
                return yes
            raise _Unresolved(f"it depends on the condition {arg[0]}")
        if fn == "Fn::ImportValue":
            name = arg if isinstance(arg, str) else "an export"
            raise _Unresolved(f"it is imported from another stack (Fn::ImportValue {name})")
        if fn == "Fn::GetAtt":
            raise _Unresolved(f"Fn::GetAtt {arg} is known only after deploy")
        raise _Unresolved(f"{fn} is evaluated at deploy")

    def _ref(self, name: str) -> Any:
        pseudo = self.pseudo(name)
        if pseudo is not None:
            return pseudo
        if name == "AWS::NoValue":
            return None
        if name in self.resources:
            raise _Unresolved(f"Ref {name} is known only after deploy")
        return self.parameter(name)

    def _sub(self, arg: Any) -> str:
        text, local = (arg[0], arg[1] or {}) if isinstance(arg, list) else (arg, {})
        if not isinstance(text, str):
            raise _Unresolved("Fn::Sub without a string")

        def replace(match: re.Match[str]) -> str:
            var = match.group(1)
            if var in local:
                return str(self.evaluate(local[var]))
            if "." in var and var.split(".", 1)[0] in self.resources:
                raise _Unresolved(f"${{{var}}} is known only after deploy")
            return str(self._ref(var))

        return _SUB_VAR.sub(replace, text).replace("${!", "${")


def _is_no_value(node: Any) -> bool:
    return isinstance(node, dict) and node == {"Ref": "AWS::NoValue"}


def parse_template(template: Template, file: str, lines: Mapping[str, int]) -> list[Decl]:
    """The declared resources of a template, in template order."""
    decls: list[Decl] = []
    for logical_id, body in template.resources.items():
        if not isinstance(body, dict):
            continue
        rtype = str(body.get("Type", ""))
        if rtype not in CLOUDFORMATION_TYPES:
            continue
        kind, names = CLOUDFORMATION_TYPES[rtype]
        props = body.get("Properties") or {}
        if not isinstance(props, dict):
            props = {}
        values: dict[str, Value] = {}
        for name, prop in names.items():
            if prop not in props:
                continue
            value = template.value(props[prop])
            if value is not None:
                values[name] = value
        items: dict[str, tuple[Mapping[str, Value], ...]] = {}
        if rtype == "AWS::SecretsManager::Secret":
            items["replicas"] = tuple(_replicas(template, props.get("ReplicaRegions")))
        decls.append(
            Decl(
                file,
                logical_id,
                logical_id,
                rtype,
                kind,
                lines.get(logical_id),
                values,
                items,
                template.region,
            )
        )
    return decls


def _replicas(template: Template, node: Any) -> list[Mapping[str, Value]]:
    out: list[Mapping[str, Value]] = []
    for item in node if isinstance(node, list) else ():
        if not isinstance(item, dict):
            continue
        replica: dict[str, Value] = {}
        for name, prop in (("region", "Region"), ("key", "KmsKeyId")):
            if prop in item:
                value = template.value(item[prop])
                if value is not None:
                    replica[name] = value
        out.append(replica)
    return out
