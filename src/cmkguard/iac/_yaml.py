"""CloudFormation YAML: the short-form intrinsic tags and the line of every resource.

PyYAML (the `iac` extra) is imported lazily. The loader turns `!Ref X` into `{"Ref": "X"}`,
`!GetAtt A.B` into `{"Fn::GetAtt": ["A", "B"]}` and every other `!Name` into `{"Fn::Name": ...}`,
which is the JSON form the rest of the parser reads. Lines come from the composed node tree
(PyYAML's marks), so nothing about YAML is hand-parsed.
"""

from __future__ import annotations

from typing import Any

from cmkguard.errors import MissingExtraError

__all__ = ["load_template_yaml"]

_SHORT_FORMS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "Condition",
    "ToJsonString",
    "Length",
)


def _yaml() -> Any:
    try:
        import yaml
    except ImportError as exc:
        raise MissingExtraError("pyyaml (CloudFormation YAML)", "iac") from exc
    return yaml


def _loader_class() -> Any:
    yaml = _yaml()

    class Loader(yaml.SafeLoader):  # type: ignore[misc, name-defined]
        """SafeLoader plus CloudFormation's tags; mapping keys stay the text written."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            # YAML 1.1 would read a logical id such as `Off`, `Yes` or `No` as a boolean and
            # `1234` as a number; CloudFormation names (logical ids, property names) are text.
            mapping = super().construct_mapping(node, deep=deep)
            for key_node, _ in node.value:
                if (
                    isinstance(key_node, yaml.ScalarNode)
                    and key_node.tag != "tag:yaml.org,2002:str"
                ):
                    value = mapping.pop(self.construct_object(key_node, deep=deep), None)
                    mapping[key_node.value] = value
            return mapping

    def scalar_or_seq(loader: Any, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_mapping(node, deep=True)

    def ref(loader: Any, node: Any) -> Any:
        return {"Ref": loader.construct_scalar(node)}

    def get_att(loader: Any, node: Any) -> Any:
        value = scalar_or_seq(loader, node)
        if isinstance(value, str):
            value = value.split(".", 1)
        return {"Fn::GetAtt": value}

    Loader.add_constructor("!Ref", ref)
    Loader.add_constructor("!GetAtt", get_att)
    for name in _SHORT_FORMS:
        fn = "Condition" if name == "Condition" else f"Fn::{name}"

        def construct(loader: Any, node: Any, fn: str = fn) -> Any:
            return {fn: scalar_or_seq(loader, node)}

        Loader.add_constructor(f"!{name}", construct)
    return Loader


def load_template_yaml(text: str) -> tuple[Any, dict[str, int]]:
    """The decoded template and `{logical id: 1-based line}` of its resources.

    Raises `ValueError` (with PyYAML's position) for text that is not YAML.
    """
    yaml = _yaml()
    loader = _loader_class()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[str, int] = {}
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == "Resources" and isinstance(value, yaml.MappingNode):
                    for res_key, _ in value.value:
                        lines[str(res_key.value)] = res_key.start_mark.line + 1
        document = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML: {str(exc).splitlines()[0]} ({_mark(exc)})") from None
    finally:
        loader.dispose()
    return document, lines


def _mark(exc: Any) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}" if mark is not None else "position unknown"
