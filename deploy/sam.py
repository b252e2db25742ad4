"""The AWS::Serverless-2016-10-31 transform, applied offline with aws-sam-translator.

CloudFormation expands the packaged template's AWS::Serverless resources
server-side, with this library (the transform's published implementation);
running it here shows the resources the stack will really hold (functions,
roles, permissions, rules and their targets, the event source mapping) so
the tests can check them without AWS, and lets the deploy emulator create them.
"""

from __future__ import annotations

import copy
from typing import Any

SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"


def _no_managed_policies() -> dict[str, str]:
    """SAM looks managed policy names up in IAM; docpipe's template gives each function a role, never a name."""
    return {}


def uses_transform(template: dict[str, Any]) -> bool:
    transforms = template.get("Transform")
    names = transforms if isinstance(transforms, list) else [transforms]
    return SERVERLESS_TRANSFORM in names


def translate(template: dict[str, Any], region: str = "us-east-1", partition: str = "aws") -> dict[str, Any]:
    """The template as the transform returns it (unchanged when it does not use the transform)."""
    if not uses_transform(template):
        return template
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # The session only names the region (no call is made): the transform resolves AWS::Region from it.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    parameters = {"AWS::Region": region, "AWS::Partition": partition}
    out: dict[str, Any] = translator.translate(
        copy.deepcopy(template), parameter_values=parameters, get_managed_policy_map=_no_managed_policies
    )
    return out


def with_code_at(template: dict[str, Any], uri: str) -> dict[str, Any]:
    """The template as `aws cloudformation package` leaves it: every local CodeUri replaced by an S3 URI."""
    out = copy.deepcopy(template)
    for resource in out.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and not str(props.get("CodeUri", "")).startswith("s3:"):
            props["CodeUri"] = uri
    return out
