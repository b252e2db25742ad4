"""CloudFormation YAML in and out of plain dicts.

CloudFormation's short-form tags (!Ref, !GetAtt, !Sub ...) are not YAML that
PyYAML knows; this loader turns them into the long form ({"Ref": ...},
{"Fn::GetAtt": [...]}) so templates can be inspected, trimmed and sent as JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
INFRA_TEMPLATE = REPO / "infra" / "docpipe.yaml"


class _Loader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
        return {name: value}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    if isinstance(node, yaml.MappingNode):
        return {name: loader.construct_mapping(node, deep=True)}
    raise yaml.YAMLError(f"unsupported node for !{suffix}")


_Loader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = INFRA_TEMPLATE) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError(f"{path} is not a CloudFormation template")
    return data


def resources_of_type(template: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if str(v.get("Type", "")).startswith(prefix)}


def table_indexes(template: dict[str, Any] | None = None) -> tuple[str, ...]:
    """Names of the DynamoDB table's global secondary indexes, in template order."""
    template = template or load_template()
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    return tuple(g["IndexName"] for t in tables.values() for g in t["Properties"].get("GlobalSecondaryIndexes", []))
