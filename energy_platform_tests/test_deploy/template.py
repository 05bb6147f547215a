"""Read deploy/cloudformation.yaml as data: short-form tags, and `Fn::Sub`/`Ref` rendering."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO / "deploy" / "cloudformation.yaml"
IAM_POLICY_PATH = REPO / "docs" / "iam-policy.json"
POLICY_RESOURCE = "PlatformPolicy"

_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Ref x` into `{"Ref": x}` and `!Sub s` into `{"Fn::Sub": s}`."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain dicts and lists, intrinsics in their long form."""
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # a SafeLoader subclass


def platform_policy_document(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The platform role's managed policy document, exactly as written in the template."""
    template = template or load_template()
    return template["Resources"][POLICY_RESOURCE]["Properties"]["PolicyDocument"]


def unwrap_subs(node: Any) -> Any:
    """Replace every `{"Fn::Sub": "text"}` by its text, leaving `${...}` placeholders in it."""
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return node["Fn::Sub"]
        return {k: unwrap_subs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [unwrap_subs(v) for v in node]
    return node


def substitute(text: str, values: dict[str, str]) -> str:
    """Fill `${Name}` placeholders; an unknown name is an error, not a silent blank."""
    return _SUB_VARIABLE.sub(lambda m: values[m.group(1)], text)


def render(node: Any, values: dict[str, str]) -> Any:
    """Resolve `Ref`, `Fn::Sub` and `Fn::GetAtt` with `values` (`Name` and `Logical.Attr` keys)."""
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return values[node["Ref"]]
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return substitute(node["Fn::Sub"], values)
        if set(node) == {"Fn::GetAtt"}:
            return values[".".join(node["Fn::GetAtt"])]
        return {k: render(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [render(v, values) for v in node]
    return node
