"""Read deploy/cloudformation.yaml as data: short-form tags, and `Fn::Sub`/`Ref` rendering."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO / "deploy" / "cloudformation.yaml"
APP_TEMPLATE_PATH = REPO / "deploy" / "app.yaml"
TEMPLATE_PATHS = (TEMPLATE_PATH, APP_TEMPLATE_PATH)
ROLE_POLICIES = {
    "pipeline": "PipelinePolicy",
    "services": "SensorsPolicy",
    "api": "ApiPolicy",
}
"""Which managed policy of the data stack each kind of process runs with."""
NO_VALUE = {"Ref": "AWS::NoValue"}

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


def policy_document(resource: str, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """A managed policy's document, exactly as written in the template."""
    template = template or load_template()
    return template["Resources"][resource]["Properties"]["PolicyDocument"]


def substitute(text: str, values: dict[str, str]) -> str:
    """Fill `${Name}` placeholders; an unknown name is an error, not a silent blank."""
    return _SUB_VARIABLE.sub(lambda m: values[m.group(1)], text)


def render(node: Any, values: dict[str, str], conditions: dict[str, bool] | None = None) -> Any:
    """Resolve `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::ImportValue` and `Fn::FindInMap` with
    `values` (keys: `Name`, `Logical.Attr`, export names, `Map.Key.Name`), and `Fn::If` with
    `conditions` (missing: false); `AWS::NoValue` leaves the item out."""
    conditions = conditions or {}
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, if_true, if_false = node["Fn::If"]
            return render(if_true if conditions.get(name) else if_false, values, conditions)
        if node == NO_VALUE:
            return NO_VALUE
        if set(node) == {"Ref"}:
            return values[node["Ref"]]
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return substitute(node["Fn::Sub"], values)
        if set(node) == {"Fn::Sub"}:
            text, variables = node["Fn::Sub"]
            return substitute(text, {**values, **render(variables, values, conditions)})
        if set(node) == {"Fn::ImportValue"}:
            return values[render(node["Fn::ImportValue"], values, conditions)]
        if set(node) == {"Fn::FindInMap"}:
            mapping, key, name = (render(v, values, conditions) for v in node["Fn::FindInMap"])
            return values[f"{mapping}.{key}.{name}"]
        if set(node) == {"Fn::GetAtt"}:
            return values[".".join(node["Fn::GetAtt"])]
        rendered = {k: render(v, values, conditions) for k, v in node.items()}
        return {k: v for k, v in rendered.items() if v != NO_VALUE}
    if isinstance(node, list):
        return [v for v in (render(v, values, conditions) for v in node) if v != NO_VALUE]
    return node
