"""Fixtures for the deployment checks: the infra stack on the emulator's CloudFormation, its outputs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from deploy.templates import load_template

STAGE = "ci"
# moto 5.2.5's CloudFormation fails a stack that has these (and any output naming them).
EMULATOR_CANNOT_CREATE = {
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolGroup",
    "AWS::Cognito::UserPoolDomain",
}
# moto accepts these but creates nothing (no physical id): checked by cfn-lint only.
EMULATOR_SKIPS = {
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::Secret",
    "AWS::CloudWatch::Alarm",
    "AWS::SNS::Subscription",
}


def emulator_template() -> tuple[dict[str, Any], set[str]]:
    """The infra template less the resources (and outputs) the emulator cannot create."""
    template = load_template()
    dropped = {k for k, v in template["Resources"].items() if v["Type"] in EMULATOR_CANNOT_CREATE}
    for name in dropped:
        template["Resources"].pop(name)
    template["Outputs"] = {
        k: v for k, v in template["Outputs"].items() if not any(f'"{d}"' in json.dumps(v) for d in dropped)
    }
    return template, dropped


@pytest.fixture(scope="session")
def infra_stack(emulator: Any) -> Iterator[dict[str, Any]]:
    """The infra template deployed into the emulator's CloudFormation; yields clients and outputs."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="docpipe-test", aws_secret_access_key="docpipe-test", region_name="us-east-1"
    )
    aws = {n: session.client(n, endpoint_url=emulator.endpoint) for n in ("cloudformation", "s3", "dynamodb", "sqs")}
    template, dropped = emulator_template()
    name = f"docpipe-{STAGE}-infra"
    aws["cloudformation"].create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": "Stage", "ParameterValue": STAGE},
            {"ParameterKey": "CognitoDomainPrefix", "ParameterValue": "docpipe-ci-example"},
            {"ParameterKey": "WebOrigins", "ParameterValue": "https://app.example.com"},
        ],
    )
    stack = aws["cloudformation"].describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources = aws["cloudformation"].list_stack_resources(StackName=name)["StackResourceSummaries"]
    yield {"aws": aws, "name": name, "status": stack["StackStatus"], "outputs": outputs, "resources": resources,
           "dropped": dropped, "template": template}  # fmt: skip
    aws["cloudformation"].delete_stack(StackName=name)


def completed_outputs(outputs: dict[str, str]) -> dict[str, str]:
    """Emulator outputs plus what it cannot produce: Cognito ids, the secret's ARN (moto skips the
    secret), and two outputs moto renders wrongly (Ref of an event bus, Join of a list parameter)."""
    account, region = outputs["AccountId"], outputs["Region"]
    pool = f"{region}_CiPool01"
    return {
        **outputs,
        "UserPoolId": pool,
        "UserPoolArn": f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool}",
        "UserPoolClientId": "ci0client0id0000000000000",
        "CursorSecretArn": f"arn:aws:secretsmanager:{region}:{account}:secret:docpipe/{STAGE}/cursor-secret-AbCdEf",
        "EventBusName": outputs["EventBusArn"].rsplit("/", 1)[-1],
        "WebOrigins": "https://app.example.com",
    }


def tool(name: str) -> str:
    import sys
    from pathlib import Path

    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -r requirements-dev.txt")
    return found
